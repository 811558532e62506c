"""The autosave route's cheaper path: its token is checked as plain columns
(`app.services.auth.check_token`) instead of loading the account, and on PostgreSQL the
response UPDATE and the activity INSERT run as one statement. What a client sees must
not change: the same refusals and messages as a route that loads the account, no
access to another learner's attempt, and nothing written but the response."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import flask_migrate
import pytest
from flask import g
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.api.common import authorize_request, current_user, current_user_id
from app.models.activity import ActivityEvent
from app.models.attempt import AttemptItem
from app.models.base import utcnow
from app.models.user import ApiToken
from app.services.auth import issue_token
from app.services.errors import Forbidden
from tests import builders
from tests.builders import CORRECT
from tests.fixtures.app import (
    _pg_server_url,
    _psycopg_dsn,
    bearer,
    create_pg_database,
    drop_pg_database,
)
from tests.fixtures.quizzes import API, answer, start


def _refusal(response: Any) -> tuple[int, str, str | None]:
    return (
        response.status_code,
        response.get_json()["message"],
        response.headers.get("WWW-Authenticate"),
    )


def _revoke(db_session: Any, user: Any, token: str) -> dict[str, str]:
    db_session.execute(
        ApiToken.__table__.update()
        .where(ApiToken.user_id == user.id)
        .values(revoked_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()
    return bearer(token)


def _expired(db_session: Any, user: Any, token: str) -> dict[str, str]:
    return bearer(issue_token(user, ttl_seconds=0).token)


def _disabled(db_session: Any, user: Any, token: str) -> dict[str, str]:
    user.is_active = False
    db_session.commit()
    return bearer(token)


@pytest.mark.parametrize(
    "credentials",
    [
        lambda db_session, user, token: {},
        lambda db_session, user, token: {"Authorization": "Basic abc"},
        lambda db_session, user, token: bearer("cp_not-a-token"),
        lambda db_session, user, token: bearer(token + "x"),
        _revoke,
        _expired,
        _disabled,
    ],
    ids=["none", "other-scheme", "unknown", "near-miss", "revoked", "expired", "disabled"],
)
def test_autosave_refuses_a_token_exactly_as_a_route_that_loads_the_account(
    client: Any, db_session: Any, make_quiz: Callable, make_user: Callable, credentials: Callable
) -> None:
    make_quiz()
    user, token = make_user("learner")
    attempt = start(client, bearer(token))
    headers = credentials(db_session, user, token)

    saved = client.put(
        f"{API}/attempts/{attempt['id']}/responses/sample-single",
        json={"response": CORRECT["sample-single"]},
        headers=headers,
    )
    read = client.get(f"{API}/attempts/{attempt['id']}", headers=headers)

    assert saved.status_code == 401
    assert _refusal(saved) == _refusal(read)
    item = db_session.scalars(
        select(AttemptItem).where(
            AttemptItem.attempt_id == attempt["id"], AttemptItem.question_uid == "sample-single"
        )
    ).one()
    assert item.response is None


def test_autosave_into_another_learners_attempt_is_not_found(
    client: Any, make_quiz: Callable, make_user: Callable
) -> None:
    make_quiz()
    _, owner_token = make_user("learner")
    _, other_token = make_user("learner")
    attempt = start(client, bearer(owner_token))

    response = answer(
        client, bearer(other_token), attempt["id"], "sample-single", CORRECT["sample-single"]
    )

    assert response.status_code == 404
    owner_view = client.get(f"{API}/attempts/{attempt['id']}", headers=bearer(owner_token))
    responses = {i["question_id"]: i["response"] for i in owner_view.get_json()["items"]}
    assert responses["sample-single"] is None


def _item_rows(db_session: Any, attempt_id: int) -> dict[str, dict[str, Any]]:
    table = AttemptItem.__table__
    rows = db_session.execute(select(table).where(table.c.attempt_id == attempt_id)).mappings()
    return {row["question_uid"]: dict(row) for row in rows}


def test_autosave_writes_the_response_and_one_event_and_nothing_else(
    client: Any, db_session: Any, make_quiz: Callable, make_user: Callable
) -> None:
    make_quiz()
    user, token = make_user("learner")
    attempt = start(client, bearer(token))
    before = _item_rows(db_session, attempt["id"])
    db_session.rollback()

    saved = answer(client, bearer(token), attempt["id"], "sample-single", {"choice": "b"})

    assert saved.status_code == 200
    after = _item_rows(db_session, attempt["id"])
    changed = {
        (uid, column)
        for uid, row in after.items()
        for column, value in row.items()
        if before[uid][column] != value
    }
    assert changed == {("sample-single", "response"), ("sample-single", "answered_at")}
    assert after["sample-single"]["response"] == {"choice": "b"}
    event = db_session.scalars(select(ActivityEvent).order_by(ActivityEvent.id.desc())).first()
    assert (event.user_id, event.verb.value, event.object_kind.value) == (
        user.id,
        "answered",
        "quiz",
    )
    assert (event.object_slug, event.subject_id) == ("sample-quiz", attempt["id"])
    assert event.details == {"question_id": "sample-single"}


def test_a_grant_checks_roles_and_loads_the_account_on_first_use(
    app: Any, db_session: Any, make_user: Callable
) -> None:
    learner, token = make_user("learner")
    admin, admin_token = make_user("admin")
    with app.test_request_context(headers=bearer(token)):
        grant = authorize_request()
        assert (grant.user_id, grant.role.value) == (learner.id, "learner")
        assert current_user_id() == learner.id
        assert "current_user" not in g
        assert current_user().email == learner.email
        with pytest.raises(Forbidden, match="needs the role trainer; you are learner"):
            authorize_request("trainer")
    with app.test_request_context(headers=bearer(admin_token)):
        assert authorize_request("trainer").user_id == admin.id


def test_an_api_request_without_a_session_cookie_gets_no_cookie_headers(
    client: Any, make_quiz: Callable, learner: Any
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)

    saved = answer(client, headers, attempt["id"], "sample-single", CORRECT["sample-single"])

    assert saved.status_code == 200
    assert "Set-Cookie" not in saved.headers
    assert "Cookie" not in saved.headers.get("Vary", "")


@pytest.mark.postgres
def test_autosave_replaces_a_connection_the_database_closed(tmp_path: Any) -> None:
    """The pool does not ping connections on PostgreSQL; the autosave route's token
    check is the request's first statement and retries once on a fresh connection, as
    the account-loading lookup does, instead of answering 500."""
    import psycopg

    from app import create_app
    from app.extensions import db

    url = create_pg_database("certprep_autosave")
    app = create_app(
        {"database_url": url, "instance_dir": str(tmp_path), "env": "testing", "testing": True}
    )
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="heads")
            builders.import_bank(tmp_path / "bank")
            builders.quiz()
            _, token = builders.user("learner")
            db.session.remove()
        client = app.test_client()
        attempt = start(client, bearer(token))
        with psycopg.connect(_psycopg_dsn(_pg_server_url()), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (make_url(url).database,),
            ).fetchone()[0]
        assert killed >= 1
        for qid in ("sample-single", "sample-numeric", "sample-true-false"):
            saved = answer(client, bearer(token), attempt["id"], qid, CORRECT[qid])
            assert saved.status_code == 200, saved.get_data(as_text=True)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_pg_database(url)
