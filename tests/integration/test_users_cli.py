"""`certprep user create` says when an account has no password (and so cannot `certprep
login`), and `--no-password` makes such an account on purpose without asking."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from app.cli.users import user_group


@pytest.fixture
def runner(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CERTPREP_DATABASE_URL", app_config["database_url"])
    monkeypatch.setenv("CERTPREP_INSTANCE_DIR", app_config["instance_dir"])
    monkeypatch.setenv("CERTPREP_ENV", "testing")
    return CliRunner()


def _password_login(client: Any, email: str, password: str) -> int:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    return response.status_code


def test_an_account_without_password_is_announced_and_token_only(client, runner) -> None:
    created = runner.invoke(user_group, ["create", "--email", "tokenonly@example.test"])
    assert created.exit_code == 0, created.output
    assert "no password set: `certprep login` cannot use this account" in created.stderr
    token = created.stdout.strip()
    assert token.startswith("cp_") and "\n" not in token
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert _password_login(client, "tokenonly@example.test", "") in (400, 401, 422)


def test_no_password_flag_and_password_flag(client, runner) -> None:
    quiet = runner.invoke(user_group, ["create", "--email", "np@example.test", "--no-password"])
    assert quiet.exit_code == 0, quiet.output
    assert "no password set" in quiet.stderr
    with_password = runner.invoke(
        user_group, ["create", "--email", "pw@example.test", "--password", "pw-secret-123"]
    )
    assert with_password.exit_code == 0, with_password.output
    assert "no password set" not in with_password.stderr
    assert _password_login(client, "pw@example.test", "pw-secret-123") == 200
