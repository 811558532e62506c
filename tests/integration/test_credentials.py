"""Credentials at rest and token lifetimes: a password reset ends the old sessions,
`certprep up` keeps one live admin token, the SQLite files are owner-only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from app.services.errors import Unauthorized
from tests.fixtures.app import DEFAULT_PASSWORD, assert_json_error, bearer

pytestmark = pytest.mark.reliability

API = "/api/v1"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_admin_password_reset_revokes_the_users_tokens(client: Any, make_user: Any) -> None:
    user, old_token = make_user("learner")
    _, admin_token = make_user("admin")
    logged_in = client.post(
        f"{API}/auth/token", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert logged_in.status_code == 200
    second_token = logged_in.get_json()["token"]

    reset = client.patch(
        f"{API}/users/{user.id}",
        json={"password": "a-brand-new-password"},
        headers=bearer(admin_token),
    )
    assert reset.status_code == 200, reset.get_data(as_text=True)

    for token in (old_token, second_token):
        body = assert_json_error(client.get(f"{API}/me", headers=bearer(token)), 401)
        assert "revoked" in body["message"]
    # The admin's own token is untouched, and the new password works.
    assert client.get(f"{API}/me", headers=bearer(admin_token)).status_code == 200
    again = client.post(
        f"{API}/auth/token", json={"email": user.email, "password": "a-brand-new-password"}
    )
    assert again.status_code == 200


def test_a_command_token_replaces_the_previous_one(db_session: Any, make_user: Any) -> None:
    from app.services.auth import authenticate_token, issue_replacing_token, issue_token

    user, _ = make_user("admin")
    other = issue_token(user, label="login").token
    first = issue_replacing_token(user, label="certprep up").token
    second = issue_replacing_token(user, label="certprep up").token

    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_token(first)
    assert authenticate_token(second).user.id == user.id
    # Tokens with another label are not touched.
    assert authenticate_token(other).user.id == user.id


def test_certprep_up_keeps_one_live_admin_token(
    db_session: Any, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli.serve import _issue_admin_token
    from app.services.auth import authenticate_token

    monkeypatch.setenv("CERTPREP_ENV", "testing")
    env = {
        "CERTPREP_INSTANCE_DIR": app_config["instance_dir"],
        "CERTPREP_DATABASE_URL": app_config["database_url"],
        "CERTPREP_BROKER_URL": "filesystem://",
    }
    first = _issue_admin_token(env)
    second = _issue_admin_token(env)
    db_session.expire_all()
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate_token(first)
    assert authenticate_token(second).user.role.value == "admin"


def test_sqlite_database_and_instance_folder_are_owner_only(tmp_path: Path) -> None:
    import flask_migrate

    from app import create_app
    from app.extensions import db

    instance = tmp_path / "instance"
    application = create_app({"instance_dir": str(instance), "env": "testing"})
    database = instance / "certprep.sqlite3"
    assert mode(instance) == 0o700
    assert mode(database) == 0o600
    with application.app_context():
        flask_migrate.upgrade(revision="heads")
        # WAL mode: SQLite gives its companion files the database file's mode.
        assert (instance / "certprep.sqlite3-wal").exists()
        assert mode(instance / "certprep.sqlite3-wal") == 0o600
        db.session.remove()
        db.engine.dispose()

    # An existing, world-readable database is tightened at the next start.
    database.chmod(0o644)
    instance.chmod(0o755)
    create_app({"instance_dir": str(instance), "env": "testing"})
    assert (mode(instance), mode(database)) == (0o700, 0o600)


KUBECONFIG = """apiVersion: v1
kind: Config
users:
- name: learner
  user:
    token: sim-secret-token-1234567890
"""


def test_lab_kubeconfig_is_encrypted_at_rest(db_session: Any, make_user: Any) -> None:
    from sqlalchemy import text

    from app.crypto import ENCRYPTED_PREFIX
    from app.models.lab import Lab, LabSession, LabSessionStatus

    user, _ = make_user("learner")
    lab = Lab(
        slug="enc-lab",
        version=1,
        title="Encrypted",
        domain="d",
        section="s",
        difficulty="easy",
        time_limit_minutes=30,
        content_hash="0" * 64,
        spec={},
    )
    session = LabSession(
        lab=lab,
        user_id=user.id,
        status=LabSessionStatus.READY,
        provider="simulator",
        content_hash="0" * 64,
        kubeconfig=KUBECONFIG,
    )
    db_session.add(session)
    db_session.commit()

    stored = db_session.execute(
        text("SELECT kubeconfig FROM lab_sessions WHERE id = :id"), {"id": session.id}
    ).scalar_one()
    assert stored.startswith(ENCRYPTED_PREFIX)
    assert "sim-secret-token" not in stored and "apiVersion" not in stored
    db_session.expire_all()
    assert db_session.get(LabSession, session.id).kubeconfig == KUBECONFIG

    # A value stored before encryption is still read (and encrypted at the next write).
    db_session.execute(
        text("UPDATE lab_sessions SET kubeconfig = :k WHERE id = :id"),
        {"k": KUBECONFIG, "id": session.id},
    )
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(LabSession, session.id).kubeconfig == KUBECONFIG


def test_a_kubeconfig_does_not_decrypt_under_another_secret_key() -> None:
    from app.crypto import decrypt_text, encrypt_text

    stored = encrypt_text(KUBECONFIG, "first-secret")
    assert decrypt_text(stored, "first-secret") == KUBECONFIG
    assert decrypt_text(stored, "another-secret") is None
    assert encrypt_text(KUBECONFIG, "first-secret") != stored  # random IV per value
