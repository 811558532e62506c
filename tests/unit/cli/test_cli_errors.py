"""Commands run outside an instance answer in one line and leave nothing behind; the API
URL is accepted in both spellings."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli, main
from app.cli.login import api_base

# Commands set CERTPREP_INSTANCE_DIR from --instance-dir; the runner restores it after.
NO_INSTANCE = {"CERTPREP_INSTANCE_DIR": None, "CERTPREP_DATABASE_URL": None}


def test_user_create_outside_an_instance_is_one_line_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env=NO_INSTANCE).invoke(cli, ["user", "create", "--email", "a@ex.test"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no certprep database at ")
    assert "--instance-dir" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_instance_dir_is_taken_after_the_command_and_before_it(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere"
    for args in (
        ["user", "revoke", "--email", "a@example.test", "--instance-dir", str(missing)],
        ["--instance-dir", str(missing), "user", "revoke", "--email", "a@example.test"],
    ):
        result = CliRunner(env=NO_INSTANCE).invoke(cli, args)
        assert result.exit_code == 1
        assert result.output.strip() == (
            f"Error: no certprep database at {missing / 'certprep.sqlite3'}: run this in the "
            "folder where `certprep up` ran, pass --instance-dir DIR (or set "
            "CERTPREP_INSTANCE_DIR), or create it with `certprep db upgrade`"
        )
        assert not missing.exists()


def test_a_database_without_the_schema_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    sqlite3.connect(instance / "certprep.sqlite3").close()
    monkeypatch.setenv("CERTPREP_INSTANCE_DIR", str(instance))
    monkeypatch.delenv("CERTPREP_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["certprep", "user", "revoke", "--email", "a@ex.test"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: database error: no such table: users")
    assert "certprep db upgrade" in lines[0]


@pytest.mark.parametrize(
    "typed",
    [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:8000/api/v1",
        "http://127.0.0.1:8000/api/v1/",
        " http://127.0.0.1:8000/api/v1 ",
    ],
)
def test_api_url_with_or_without_the_api_path(typed: str) -> None:
    assert api_base(typed) == "http://127.0.0.1:8000"


def test_a_path_prefix_before_the_api_is_kept() -> None:
    assert api_base("https://lab.example/certprep/api/v1") == "https://lab.example/certprep"
