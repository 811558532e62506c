"""Autosave in one statement on PostgreSQL (`app.services.autosave`).

A well-formed bearer-token autosave is written by one statement on the driver
connection; everything else takes the ordinary path. These tests run on their own
throw-away PostgreSQL database whatever `CERTPREP_TEST_DB` says, and prove that the
statement writes exactly what the ordinary path writes, that it writes nothing whenever
the ordinary path would refuse (which then answers as before), that it locks nothing for
a token that fails, and that it waits for a submit holding the attempt.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from app.clock import CLOCK_CONFIG_KEY
from app.models.activity import ActivityEvent
from app.models.attempt import AttemptItem
from app.models.base import utcnow
from app.models.user import ApiToken, User
from app.schemas.attempts import SavedResponseSchema
from app.services import autosave
from app.services.attempts import save_response_of
from app.services.auth import hash_token, issue_token
from tests import builders
from tests.builders import CORRECT, DEFAULT_PASSWORD, WRONG
from tests.fixtures.app import _pg_server_url, _psycopg_dsn, bearer, delete_all_rows
from tests.fixtures.concurrency import app_on_own_database
from tests.fixtures.quizzes import API, START, ManualClock, start

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from app_on_own_database(tmp_path_factory, "certprep_autosave_one")


class Setup:
    """A quiz over the sample bank, a learner with an attempt, and a manual clock."""

    def __init__(self, app: Any, tmp_path: Path) -> None:
        from app.extensions import db

        self.app = app
        self.clock = ManualClock(START)
        app.config[CLOCK_CONFIG_KEY] = self.clock
        delete_all_rows(app)
        app.extensions.pop("certprep.autosave_items", None)
        with app.app_context():
            builders.import_bank(tmp_path)
            builders.quiz()
            self.user, self.token = builders.user("learner")
            self.user_id = self.user.id
            self.email = self.user.email
            db.session.remove()
        self.client = app.test_client()
        self.headers = bearer(self.token)
        self.attempt = start(self.client, self.headers)["id"]

    def put(self, qid: str, response: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.put(
            f"{API}/attempts/{self.attempt}/responses/{qid}",
            json={"response": response},
            headers=self.headers if headers is None else headers,
        )

    def fast(self, qid: str, response: Any, token: str | None = None) -> Any:
        """`autosave.save` called directly, as the route calls it."""
        with self.app.test_request_context():
            return autosave.save(
                hash_token(token or self.token), self.attempt, qid, response, self.clock()
            )

    def item(self, qid: str) -> dict[str, Any]:
        from app.extensions import db

        with self.app.app_context():
            table = AttemptItem.__table__
            row = db.session.execute(
                select(table).where(table.c.attempt_id == self.attempt, table.c.question_uid == qid)
            ).mappings()
            found = dict(row.one())
            db.session.remove()
            return found

    def answered_events(self) -> list[tuple[int, str, int, dict[str, Any]]]:
        from app.extensions import db

        with self.app.app_context():
            events = db.session.scalars(
                select(ActivityEvent)
                .where(ActivityEvent.verb == "answered")
                .order_by(ActivityEvent.id)
            ).all()
            found = [(e.user_id, e.object_slug, e.subject_id, e.details) for e in events]
            db.session.remove()
            return found


@pytest.fixture
def setup(pg_app: Any, tmp_path: Path) -> Iterator[Setup]:
    made = Setup(pg_app, tmp_path)
    yield made
    pg_app.config.pop(CLOCK_CONFIG_KEY, None)


def _sqlalchemy_statements(app: Any) -> Callable[[], list[str]]:
    """Start recording the statements SQLAlchemy runs on `app`'s engine."""
    from app.extensions import db

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)

    def stop() -> list[str]:
        event.remove(engine, "before_cursor_execute", record)
        return seen

    return stop


def test_an_autosave_runs_no_statement_through_the_orm_and_writes_what_the_ordinary_path_writes(
    setup: Setup,
) -> None:
    from app.extensions import db

    stop = _sqlalchemy_statements(setup.app)
    fast = setup.put("sample-single", WRONG["sample-single"])
    assert stop() == []
    assert fast.status_code == 200
    fast_item = setup.item("sample-single")

    # The same autosave through the ordinary path, at the same moment.
    with setup.app.test_request_context():
        ordinary = SavedResponseSchema().dump(
            save_response_of(setup.user_id, setup.attempt, "sample-single", WRONG["sample-single"])
        )
        db.session.remove()
    ordinary_item = setup.item("sample-single")

    assert fast.get_json() == ordinary
    assert ordinary["answered_at"] == START.isoformat()
    assert fast_item == ordinary_item
    assert fast_item["response"] == WRONG["sample-single"]
    assert (
        setup.answered_events()
        == [(setup.user_id, "sample-quiz", setup.attempt, {"question_id": "sample-single"})] * 2
    )


def test_every_item_type_is_validated_and_saved(setup: Setup) -> None:
    for qid, response in CORRECT.items():
        saved = setup.fast(qid, response)
        assert saved is not None, qid
        assert saved.result["response"] == response
        assert saved.user_id == setup.user_id
        assert setup.item(qid)["response"] == response


def _revoke(setup: Setup) -> str:
    from app.extensions import db

    with setup.app.app_context():
        db.session.execute(
            ApiToken.__table__.update().values(revoked_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    return setup.token


def _expire(setup: Setup) -> str:
    from app.extensions import db

    with setup.app.app_context():
        token = issue_token(db.session.get(User, setup.user_id), ttl_seconds=0).token
        db.session.remove()
    return token


def _disable(setup: Setup) -> str:
    from app.extensions import db

    with setup.app.app_context():
        db.session.get(User, setup.user_id).is_active = False
        db.session.commit()
    return setup.token


def _other_learner(setup: Setup) -> str:
    from app.extensions import db

    with setup.app.app_context():
        _, token = builders.user("learner")
        db.session.remove()
    return token


def _submitted(setup: Setup) -> str:
    submitted = setup.client.post(f"{API}/attempts/{setup.attempt}/submit", headers=setup.headers)
    assert submitted.status_code == 200
    return setup.token


def _past_deadline(setup: Setup) -> str:
    setup.clock.advance(days=1)
    return setup.token


@pytest.mark.parametrize(
    ("make_token", "qid", "response", "status"),
    [
        (lambda setup: "cp_not-a-token", "sample-single", CORRECT["sample-single"], 401),
        (lambda setup: setup.token + "x", "sample-single", CORRECT["sample-single"], 401),
        (_revoke, "sample-single", CORRECT["sample-single"], 401),
        (_expire, "sample-single", CORRECT["sample-single"], 401),
        (_disable, "sample-single", CORRECT["sample-single"], 401),
        (_other_learner, "sample-single", CORRECT["sample-single"], 404),
        (_submitted, "sample-single", CORRECT["sample-single"], 409),
        (_past_deadline, "sample-single", CORRECT["sample-single"], 409),
        (lambda setup: setup.token, "no-such-question", CORRECT["sample-single"], 404),
        (lambda setup: setup.token, "sample-single", {"choice": "zz"}, 422),
        (lambda setup: setup.token, "sample-single", {"value": True}, 422),
    ],
    ids=[
        "unknown",
        "near-miss",
        "revoked",
        "expired",
        "disabled",
        "other-learner",
        "submitted",
        "past-deadline",
        "unknown-question",
        "unknown-option",
        "wrong-shape",
    ],
)
def test_what_the_ordinary_path_refuses_the_statement_does_not_write(
    setup: Setup, make_token: Callable[[Setup], str], qid: str, response: Any, status: int
) -> None:
    # The owner's first autosave caches the attempt's items, so what follows is decided
    # by the statement's own checks, not by the owner-only read that fills the cache.
    assert setup.fast("sample-numeric", CORRECT["sample-numeric"]) is not None
    token = make_token(setup)
    events_before = setup.answered_events()

    assert setup.fast(qid, response, token=token) is None
    answered = setup.put(qid, response, headers=bearer(token))

    assert answered.status_code == status, answered.get_json()
    assert answered.get_json()["code"] == status
    assert setup.item("sample-single")["response"] is None
    assert setup.answered_events() == events_before


def test_a_wrong_cache_entry_writes_nothing_and_is_read_again(setup: Setup) -> None:
    assert setup.fast("sample-numeric", CORRECT["sample-numeric"]) is not None
    cache = setup.app.extensions["certprep.autosave_items"]
    items = cache.get(setup.attempt)
    right = items["sample-single"]
    # As if the database had been rebuilt under this process and the id reused for
    # other content: the statement's own checks refuse the write.
    items["sample-single"] = autosave.PinnedQuestion(
        right.question_id, "0" * 64, right.type, right.body
    )

    assert setup.fast("sample-single", CORRECT["sample-single"]) is None
    assert setup.item("sample-single")["response"] is None
    assert cache.get(setup.attempt) is None

    assert setup.fast("sample-single", CORRECT["sample-single"]) is not None
    assert setup.item("sample-single")["response"] == CORRECT["sample-single"]


def _admin_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(_psycopg_dsn(_pg_server_url()), autocommit=True)


def _lock_attempt(app: Any, attempt_id: int) -> psycopg.Connection[Any]:
    """A connection holding attempt `attempt_id` `FOR UPDATE`, as a submit does."""
    from app.extensions import db

    with app.app_context():
        dsn = _psycopg_dsn(db.engine.url.render_as_string(hide_password=False))
    holder = psycopg.connect(dsn)
    holder.execute("SELECT id FROM attempts WHERE id = %s FOR UPDATE", (attempt_id,))
    return holder


def _lock_waiters(database: str) -> int:
    with _admin_connection() as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (database,),
        ).fetchone()
        return int(row[0]) if row else 0


def _database(app: Any) -> str:
    from app.extensions import db

    with app.app_context():
        return str(make_url(str(db.engine.url)).database)


def _until_one_waits(database: str) -> int:
    """How many backends of `database` wait for a lock, once one does (or after 10 s)."""
    deadline = time.monotonic() + 10
    while _lock_waiters(database) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return _lock_waiters(database)


def test_a_failing_token_locks_nothing_and_a_valid_one_waits_for_a_submit(setup: Setup) -> None:
    database = _database(setup.app)
    assert setup.fast("sample-numeric", CORRECT["sample-numeric"]) is not None
    holder = _lock_attempt(setup.app, setup.attempt)
    try:
        # Refused without waiting for the row another transaction holds.
        refused = setup.fast("sample-single", CORRECT["sample-single"], token="cp_not-a-token")
        assert refused is None
        assert _lock_waiters(database) == 0

        outcome: list[Any] = []
        waiter = threading.Thread(
            target=lambda: outcome.append(setup.fast("sample-single", CORRECT["sample-single"]))
        )
        waiter.start()
        assert _until_one_waits(database) == 1
        assert outcome == []
    finally:
        holder.rollback()
        holder.close()
    waiter.join(10)
    assert outcome and outcome[0] is not None
    assert setup.item("sample-single")["response"] == CORRECT["sample-single"]


def test_an_autosave_queued_behind_a_submit_is_refused_once_it_committed(setup: Setup) -> None:
    holder = _lock_attempt(setup.app, setup.attempt)
    outcome: list[Any] = []
    try:
        waiter = threading.Thread(
            target=lambda: outcome.append(setup.fast("sample-single", CORRECT["sample-single"]))
        )
        waiter.start()
        assert _until_one_waits(_database(setup.app)) == 1
        holder.execute(
            "UPDATE attempts SET status = 'submitted', version = version + 1 WHERE id = %s",
            (setup.attempt,),
        )
        holder.commit()
    finally:
        holder.close()
    waiter.join(10)
    assert outcome == [None]
    assert setup.item("sample-single")["response"] is None
    refused = setup.put("sample-single", CORRECT["sample-single"])
    assert (refused.status_code, refused.get_json()["errors"]["reason"]) == (409, ["closed"])


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _browser(setup: Setup) -> tuple[Any, str]:
    """A test client logged in through the login form, and its page's CSRF token."""
    browser = setup.app.test_client()
    form = _CSRF_FIELD.search(browser.get("/login").get_data(as_text=True))
    assert form is not None
    login = browser.post(
        "/login",
        data={"email": setup.email, "password": DEFAULT_PASSWORD, "csrf_token": form.group(1)},
    )
    assert login.status_code == 302, login.get_data(as_text=True)
    page = _CSRF_FIELD.search(browser.get("/").get_data(as_text=True))
    assert page is not None
    return browser, page.group(1)


def test_a_browser_sessions_autosave_is_one_statement_too_and_needs_its_csrf_token(
    setup: Setup,
) -> None:
    browser, csrf = _browser(setup)
    url = f"{API}/attempts/{setup.attempt}/responses"

    stop = _sqlalchemy_statements(setup.app)
    saved = browser.put(
        f"{url}/sample-single",
        json={"response": WRONG["sample-single"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert stop() == []
    assert saved.status_code == 200, saved.get_json()
    assert setup.item("sample-single")["response"] == WRONG["sample-single"]
    # The session is read as by any API call with the cookie, and not rewritten.
    read = browser.get(f"{API}/attempts/{setup.attempt}")
    assert (saved.headers.get("Vary"), saved.headers.get("Set-Cookie")) == (
        read.headers.get("Vary"),
        read.headers.get("Set-Cookie"),
    )

    for headers in ({}, {"X-CSRF-Token": csrf + "x"}):
        refused = browser.put(
            f"{url}/sample-numeric", json={"response": CORRECT["sample-numeric"]}, headers=headers
        )
        assert refused.status_code == 403, refused.get_json()
    assert setup.item("sample-numeric")["response"] is None

    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    ended = browser.put(
        f"{url}/sample-numeric",
        json={"response": CORRECT["sample-numeric"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert ended.status_code == 401
    assert setup.item("sample-numeric")["response"] is None


@pytest.mark.parametrize(
    ("qid", "body"),
    [
        ("sample-numeric", '{"response": {"value": NaN}}'),
        ("sample-numeric", '{"response": {"value": -Infinity}}'),
        ("sample-numeric", '{"response": {"value": 1e400}}'),
        ("sample-short", '{"response": {"text": "a\\u0000b"}}'),
        ("sample-single", '{"response": {"choice": "a", "extra": NaN}}'),
        ("sample-single", '{"response": {"choice": "a"}, "response2": 1}'),
        ("sample-single", '{"response": "a"}'),
        ("sample-single", '{"response": {"choice": "a"'),
    ],
)
def test_a_body_postgresql_could_not_store_is_refused_with_422_or_400(
    setup: Setup, qid: str, body: str
) -> None:
    answered = setup.client.put(
        f"{API}/attempts/{setup.attempt}/responses/{qid}",
        data=body,
        headers={**setup.headers, "Content-Type": "application/json"},
    )

    assert answered.status_code in (400, 422), answered.get_json()
    assert setup.item(qid)["response"] is None
    assert setup.answered_events() == []


def test_attempts_at_one_quiz_share_each_question_body_in_the_cache(setup: Setup) -> None:
    from app.extensions import db

    with setup.app.app_context():
        _, other_token = builders.user("learner")
        db.session.remove()
    other = start(setup.client, bearer(other_token))["id"]
    assert setup.fast("sample-single", CORRECT["sample-single"]) is not None
    with setup.app.test_request_context():
        saved = autosave.save(
            hash_token(other_token), other, "sample-single", WRONG["sample-single"], setup.clock()
        )
    assert saved is not None and saved.result["response"] == WRONG["sample-single"]

    cache = setup.app.extensions["certprep.autosave_items"]
    mine, theirs = cache.get(setup.attempt), cache.get(other)
    assert mine.keys() == theirs.keys() == set(CORRECT)
    assert all(mine[uid].body is theirs[uid].body for uid in mine)
