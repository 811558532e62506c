"""Accounts and authentication through the REST API, on the real test database."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from app import create_app
from app.extensions import db
from app.models.base import utcnow
from app.models.user import ApiToken, LoginFailure, User
from tests.fixtures.app import DEFAULT_PASSWORD, assert_json_error, bearer

TOKEN_URL = "/api/v1/auth/token"


def login(client, email, password, address="10.0.0.1"):
    return client.post(
        TOKEN_URL,
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


# --- login ---------------------------------------------------------------------------


def test_login_returns_a_working_bearer_token(client, make_user):
    user, _ = make_user("trainer", email="Trainer@Example.test")
    before = utcnow()

    response = login(client, "trainer@example.TEST", DEFAULT_PASSWORD)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["token"].startswith("cp_")
    ttl = client.application.config["CERTPREP_SETTINGS"].token_ttl_seconds
    expires_at = body["expires_at"]
    assert expires_at.endswith("+00:00")
    expiry = datetime.fromisoformat(expires_at)
    assert before + timedelta(seconds=ttl - 5) < expiry <= utcnow() + timedelta(seconds=ttl)

    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json()["email"] == "trainer@example.test"
    assert me.get_json()["role"] == "trainer"
    assert me.get_json()["id"] == user.id


def test_wrong_password_and_unknown_email_get_the_same_401(client, make_user):
    user, _ = make_user()

    wrong = assert_json_error(login(client, user.email, "not-the-password"), 401)
    unknown = assert_json_error(login(client, "nobody@example.test", DEFAULT_PASSWORD), 401)

    assert wrong["message"] == unknown["message"] == "Incorrect email or password."


def test_login_failure_carries_bearer_challenge(client, make_user):
    user, _ = make_user()
    response = login(client, user.email, "not-the-password")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_deactivated_account_cannot_log_in(client, make_user, auth_headers):
    _, admin_token = make_user("admin")
    user, _ = make_user()
    patched = client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers=auth_headers(admin_token)
    )
    assert patched.status_code == 200
    assert patched.get_json()["is_active"] is False
    assert_json_error(login(client, user.email, DEFAULT_PASSWORD), 401)


def test_password_and_tokens_are_stored_hashed(client, make_user, db_session):
    user, token = make_user(password="a-long-password")
    stored = db_session.get(User, user.id)
    assert stored.password_hash.startswith("$argon2id$")
    assert "a-long-password" not in stored.password_hash
    hashes = db_session.scalars(select(ApiToken.token_hash)).all()
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert token not in hashes


# --- token lifecycle -------------------------------------------------------------------


def test_expired_token_is_rejected(client, make_user, db_session):
    _, token = make_user()
    db_session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db_session.commit()

    body = assert_json_error(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert "expired" in body["message"]


def test_invalid_token_gets_invalid_token_challenge(client, make_user):
    make_user()
    response = client.get("/api/v1/me", headers=bearer("cp_not-a-real-token"))
    assert_json_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_logout_revokes_only_the_presented_token(client, make_user):
    user, first = make_user()
    second = login(client, user.email, DEFAULT_PASSWORD).get_json()["token"]

    response = client.delete(TOKEN_URL, headers=bearer(second))
    assert response.status_code == 204

    body = assert_json_error(client.get("/api/v1/me", headers=bearer(second)), 401)
    assert "revoked" in body["message"]
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 200


def test_admin_revokes_all_tokens_of_a_user(client, make_user):
    _, admin_token = make_user("admin")
    user, first = make_user()
    second = login(client, user.email, DEFAULT_PASSWORD).get_json()["token"]

    response = client.delete(f"/api/v1/users/{user.id}/tokens", headers=bearer(admin_token))

    assert response.status_code == 200
    assert response.get_json() == {"revoked": 2}
    for token in (first, second):
        assert_json_error(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert client.get("/api/v1/me", headers=bearer(admin_token)).status_code == 200


def test_revoking_tokens_of_a_missing_user_is_404(client, make_user):
    _, admin_token = make_user("admin")
    assert_json_error(
        client.delete("/api/v1/users/999999/tokens", headers=bearer(admin_token)), 404
    )


# --- throttling ------------------------------------------------------------------------


def _limits(app):
    return app.config["CERTPREP_SETTINGS"]


def test_repeated_failures_for_one_account_answer_429_with_retry_after(client, make_user):
    user, _ = make_user()
    settings = _limits(client.application)
    for attempt in range(settings.login_max_failures):
        # Each from a different address: the account limit alone must trigger.
        assert_json_error(login(client, user.email, "wrong-password", f"10.1.0.{attempt}"), 401)

    throttled = login(client, user.email, DEFAULT_PASSWORD, "10.2.0.1")

    body = assert_json_error(throttled, 429)
    assert "Too many" in body["message"]
    retry_after = int(throttled.headers["Retry-After"])
    assert 0 < retry_after <= settings.login_window_seconds
    # Another account is not affected.
    other, _ = make_user()
    assert login(client, other.email, DEFAULT_PASSWORD, "10.2.0.1").status_code == 200


def test_repeated_failures_from_one_address_answer_429(client, make_user):
    settings = _limits(client.application)
    user, _ = make_user()
    for attempt in range(settings.login_max_failures_per_address):
        response = login(client, f"guess{attempt}@example.test", "wrong-password", "10.3.0.1")
        assert_json_error(response, 401)

    blocked = login(client, user.email, DEFAULT_PASSWORD, "10.3.0.1")
    assert_json_error(blocked, 429)
    assert int(blocked.headers["Retry-After"]) >= 1
    assert login(client, user.email, DEFAULT_PASSWORD, "10.3.0.2").status_code == 200


def test_throttle_lifts_when_failures_leave_the_window(client, make_user, db_session):
    user, _ = make_user()
    settings = _limits(client.application)
    for _ in range(settings.login_max_failures):
        login(client, user.email, "wrong-password")
    assert_json_error(login(client, user.email, DEFAULT_PASSWORD), 429)

    db_session.execute(
        update(LoginFailure).values(
            failed_at=utcnow() - timedelta(seconds=settings.login_window_seconds + 1)
        )
    )
    db_session.commit()

    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 200


def test_retry_after_counts_from_the_oldest_failure_that_matters(client, make_user, db_session):
    user, _ = make_user()
    settings = _limits(client.application)
    now = utcnow()
    ages = [300] + [100] * (settings.login_max_failures - 1)
    for age in ages:
        db_session.add(
            LoginFailure(
                email=user.email, address="10.9.9.9", failed_at=now - timedelta(seconds=age)
            )
        )
    db_session.commit()

    response = login(client, user.email, DEFAULT_PASSWORD, "10.4.0.1")

    assert_json_error(response, 429)
    expected = settings.login_window_seconds - 300
    # Counted from the 300 s old failure, not the newer ones (window - 100); the slack
    # only absorbs the time between building the rows and the request.
    assert expected - 60 <= int(response.headers["Retry-After"]) <= expected


def test_account_without_password_cannot_log_in(client, db_session):
    from app.services.users import create_user

    user = create_user("tokens-only@example.test", "learner", password=None)
    assert user.password_hash is None
    assert_json_error(login(client, "tokens-only@example.test", ""), 422)
    assert_json_error(login(client, "tokens-only@example.test", "anything-at-all"), 401)


def test_outdated_password_hash_is_upgraded_at_login(client, make_user, db_session):
    from argon2 import PasswordHasher

    user, _ = make_user()
    old_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(DEFAULT_PASSWORD)
    db_session.execute(update(User).where(User.id == user.id).values(password_hash=old_hash))
    db_session.commit()

    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 200

    db_session.expire_all()
    new_hash = db_session.get(User, user.id).password_hash
    assert new_hash != old_hash
    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 200


def test_success_clears_the_account_failures(client, make_user):
    user, _ = make_user()
    settings = _limits(client.application)
    for _ in range(2):
        for _ in range(settings.login_max_failures - 1):
            assert_json_error(login(client, user.email, "wrong-password"), 401)
        assert login(client, user.email, DEFAULT_PASSWORD).status_code == 200


def test_throttle_is_shared_between_app_instances(client, make_user, app_config):
    """Two processes share the database, so failures seen by one throttle the other."""
    user, _ = make_user()
    settings = _limits(client.application)
    for _ in range(settings.login_max_failures):
        login(client, user.email, "wrong-password")

    other_app = create_app(app_config)
    try:
        assert_json_error(login(other_app.test_client(), user.email, DEFAULT_PASSWORD), 429)
    finally:
        with other_app.app_context():
            db.engine.dispose()


def test_forwarded_address_is_trusted_only_behind_configured_proxies(
    make_user, app_config, db_session
):
    user, _ = make_user()
    for hops in (0, 1):
        proxied = create_app({**app_config, "proxy_hops": hops})
        try:
            proxied.test_client().post(
                TOKEN_URL,
                json={"email": user.email, "password": "wrong-password"},
                headers={"X-Forwarded-For": "203.0.113.7"},
                environ_base={"REMOTE_ADDR": "10.5.0.1"},
            )
        finally:
            with proxied.app_context():
                db.engine.dispose()

    addresses = db_session.scalars(select(LoginFailure.address).order_by(LoginFailure.id)).all()
    assert addresses == ["10.5.0.1", "203.0.113.7"]


# --- roles and route protection --------------------------------------------------------


def _example_url(rule):
    values = {arg: 1 for arg in rule.arguments}
    url = rule.rule
    for arg in rule.arguments:
        url = url.replace(f"<{arg}>", str(values[arg]))
        for converter in ("int", "string", "path", "uuid"):
            url = url.replace(f"<{converter}:{arg}>", str(values[arg]))
    return url


def _api_operations(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, _example_url(rule), rule.rule


PUBLIC_OPERATIONS = {("POST", "/api/v1/auth/token")}


def test_every_api_operation_except_login_requires_a_token(client, make_user):
    make_user()
    checked = 0
    for method, url, rule in _api_operations(client.application):
        if (method, rule) in PUBLIC_OPERATIONS:
            continue
        # A JSON body that is valid for nothing: authentication must come first.
        response = client.open(url, method=method, json={"unexpected": True})
        assert response.status_code == 401, f"{method} {rule} answered {response.status_code}"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert_json_error(response, 401)
        bad = client.open(url, method=method, headers=bearer("cp_wrong"))
        assert bad.status_code == 401, f"{method} {rule} with a bad token: {bad.status_code}"
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("role", ["learner", "trainer"])
def test_admin_routes_forbid_other_roles(client, make_user, role):
    target, _ = make_user()
    _, token = make_user(role)
    headers = bearer(token)
    calls = [
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"email": "new@example.test", "password": "long-enough"}),
        ("GET", f"/api/v1/users/{target.id}", None),
        ("PATCH", f"/api/v1/users/{target.id}", {"accommodation": 2.0}),
        ("DELETE", f"/api/v1/users/{target.id}/tokens", None),
    ]
    for method, url, body in calls:
        response = client.open(url, method=method, json=body, headers=headers)
        assert_json_error(response, 403)


def test_learner_sees_own_account(client, make_user):
    user, token = make_user(accommodation=1.5)
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert body == {
        "id": user.id,
        "email": user.email,
        "role": "learner",
        "accommodation": 1.5,
        "is_active": True,
        "created_at": body["created_at"],
    }
    assert "password_hash" not in body


# --- user management -------------------------------------------------------------------


def test_admin_creates_a_user_who_can_log_in(client, make_user):
    _, admin_token = make_user("admin")
    response = client.post(
        "/api/v1/users",
        json={
            "email": "New.Learner@Example.test",
            "role": "learner",
            "password": "a-good-password",
            "accommodation": 1.25,
        },
        headers=bearer(admin_token),
    )
    assert response.status_code == 201
    created = response.get_json()
    assert created["email"] == "new.learner@example.test"
    assert created["accommodation"] == 1.25
    assert login(client, "new.learner@example.test", "a-good-password").status_code == 200


def test_duplicate_email_is_409_whatever_the_case(client, make_user):
    user, admin_token = make_user("admin")
    response = client.post(
        "/api/v1/users",
        json={"email": user.email.upper(), "password": "a-good-password"},
        headers=bearer(admin_token),
    )
    body = assert_json_error(response, 409)
    assert "email" in body["errors"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"email": "not-an-email", "password": "a-good-password"}, "email"),
        ({"email": "x@example.test", "role": "root"}, "role"),
        ({"email": "x@example.test", "password": "short"}, "password"),
        ({"email": "x@example.test", "accommodation": 0.5}, "accommodation"),
        ({"email": "x@example.test", "is_admin": True}, "is_admin"),
    ],
)
def test_invalid_user_input_is_422(client, make_user, payload, field):
    _, admin_token = make_user("admin")
    response = client.post("/api/v1/users", json=payload, headers=bearer(admin_token))
    body = assert_json_error(response, 422)
    assert field in body["errors"]["json"]


def test_users_list_is_paginated(client, make_user):
    _, admin_token = make_user("admin")
    for _ in range(4):
        make_user()

    response = client.get("/api/v1/users?page=2&page_size=2", headers=bearer(admin_token))

    assert response.status_code == 200
    assert len(response.get_json()) == 2
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 5
    assert pagination["total_pages"] == 3
    assert pagination["page"] == 2
    ids = [u["id"] for u in response.get_json()]
    assert ids == sorted(ids)
    assert_json_error(client.get("/api/v1/users?page_size=1000", headers=bearer(admin_token)), 422)


def test_admin_reads_and_updates_a_user(client, make_user):
    _, admin_token = make_user("admin")
    user, _ = make_user()

    assert client.get(f"/api/v1/users/{user.id}", headers=bearer(admin_token)).status_code == 200
    response = client.patch(
        f"/api/v1/users/{user.id}",
        json={"role": "trainer", "accommodation": 2.0, "password": "another-password"},
        headers=bearer(admin_token),
    )
    assert response.status_code == 200
    assert response.get_json()["role"] == "trainer"
    assert response.get_json()["accommodation"] == 2.0
    assert login(client, user.email, "another-password").status_code == 200
    assert_json_error(client.get("/api/v1/users/424242", headers=bearer(admin_token)), 404)


def test_deactivating_a_user_revokes_their_tokens(client, make_user):
    _, admin_token = make_user("admin")
    user, token = make_user()
    client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=bearer(admin_token))
    assert_json_error(client.get("/api/v1/me", headers=bearer(token)), 401)


def test_last_admin_cannot_be_demoted_or_deactivated(client, make_user):
    admin, admin_token = make_user("admin")
    headers = bearer(admin_token)
    for change in ({"role": "learner"}, {"is_active": False}):
        response = client.patch(f"/api/v1/users/{admin.id}", json=change, headers=headers)
        assert_json_error(response, 409)
    second, _ = make_user("admin")
    response = client.patch(f"/api/v1/users/{second.id}", json={"role": "trainer"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["role"] == "trainer"


def test_select_page_counts_through_a_subquery(db_session, make_user):
    from flask_smorest.pagination import PaginationParameters

    from app.api.common import SelectPage, count_rows

    created = [make_user()[0].id for _ in range(5)]
    stmt = select(User).where(User.id.in_(created[1:])).order_by(User.id.desc())
    page = SelectPage(stmt, PaginationParameters(page=2, page_size=3))

    assert page.item_count == count_rows(stmt) == 4
    assert [user.id for user in page.items] == [created[1]]


# --- command line ----------------------------------------------------------------------


def test_cli_user_create_prints_a_working_token(client, app_config, monkeypatch):
    from app.cli.users import user_group

    monkeypatch.setenv("CERTPREP_DATABASE_URL", app_config["database_url"])
    monkeypatch.setenv("CERTPREP_INSTANCE_DIR", app_config["instance_dir"])
    monkeypatch.setenv("CERTPREP_ENV", "testing")
    runner = CliRunner()

    result = runner.invoke(
        user_group,
        ["create", "--email", "ops@example.test", "--role", "admin", "--password", "ops-password"],
    )

    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.get_json()["role"] == "admin"
    assert login(client, "ops@example.test", "ops-password").status_code == 200

    again = runner.invoke(user_group, ["create", "--email", "OPS@example.test"])
    assert again.exit_code == 1
    assert "already exists" in again.output

    for command in (["--help"], ["create", "--help"], ["revoke", "--help"]):
        helped = runner.invoke(user_group, command)
        assert helped.exit_code == 0
        assert "Usage" in helped.output

    revoked = runner.invoke(user_group, ["revoke", "--email", "ops@example.test"])
    assert revoked.exit_code == 0, revoked.output
    assert_json_error(client.get("/api/v1/me", headers=bearer(token)), 401)


def test_a_connection_the_database_closed_is_replaced_without_an_error(
    app, client, make_user, database_url: str
) -> None:
    """PostgreSQL pools skip the per-checkout ping (a round trip on every request), so
    the first statement of a request can meet a connection the server closed; the token
    lookup retries once on a fresh connection instead of answering 500."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the pool runs without pre-ping on PostgreSQL only")
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.fixtures.app import _pg_server_url, _psycopg_dsn

    _, token = make_user()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    name = make_url(database_url).database
    # Return this test's own connection to the pool too: every pooled one dies below.
    db.session.close()
    with psycopg.connect(_psycopg_dsn(_pg_server_url()), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()[0]
    assert killed >= 1  # the pooled connection of the request above
    try:
        for _ in range(3):
            response = client.get("/api/v1/me", headers=bearer(token))
            assert response.status_code == 200, response.get_data(as_text=True)
    finally:
        # Other pooled connections (the fixtures' own) were closed too: start afresh.
        with app.app_context():
            db.engine.dispose()
