"""Alembic migrations: one head, a clean chain, up/down/up, and no drift from the models.

Each test builds its own empty database (SQLite file and a throw-away PostgreSQL
database), independent of the suite's shared test database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect

import app.models  # noqa: F401  (every model on the metadata)
from app import create_app
from app.config import PROJECT_ROOT
from app.extensions import db
from tests.fixtures.app import create_pg_database, drop_pg_database

MIGRATIONS = PROJECT_ROOT / "migrations"

pytestmark = pytest.mark.db


def script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_single_head():
    heads = script_directory().get_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"


def test_chain_starts_at_0001_users_and_is_linear():
    scripts = script_directory()
    base = scripts.get_revision("0001_users")
    assert base.down_revision is None
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].revision == "0001_users"
    for revision in revisions:
        down = revision.down_revision
        assert down is None or isinstance(down, str), f"{revision.revision} is a merge"
        assert revision.revision[:4].isdigit(), "revision ids are fixed NNNN_name strings"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    url = create_pg_database("certprep_migr")
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def migration_app(empty_database: str, tmp_path: Path):
    application = create_app(
        {"database_url": empty_database, "instance_dir": str(tmp_path), "testing": True}
    )
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _drift() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _current() -> set[str]:
    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def test_upgrade_downgrade_upgrade_without_drift(migration_app):
    model_tables = set(db.metadata.tables)
    head = script_directory().get_current_head()
    with migration_app.app_context():
        assert _tables() == set()

        flask_migrate.upgrade(revision="heads")
        assert _current() == {head}
        assert model_tables <= _tables()
        assert _drift() == []

        flask_migrate.downgrade(revision="base")
        assert _tables() <= {"alembic_version"}
        assert _current() == set()

        flask_migrate.upgrade(revision="heads")
        assert model_tables <= _tables()
        assert _drift() == []


def test_each_step_downgrades_cleanly(migration_app):
    """Walk up one revision at a time, and down again one at a time."""
    revisions = [r.revision for r in reversed(list(script_directory().walk_revisions()))]
    with migration_app.app_context():
        for revision in revisions:
            flask_migrate.upgrade(revision=revision)
            assert _current() == {revision}
        for expected in reversed(revisions[:-1]):
            flask_migrate.downgrade(revision="-1")
            assert _current() == {expected}
        flask_migrate.downgrade(revision="-1")
        assert _current() == set()
        assert _tables() <= {"alembic_version"}


def test_users_tables_and_constraints(migration_app):
    with migration_app.app_context():
        flask_migrate.upgrade(revision="0001_users")
        inspector = inspect(db.engine)
        assert {"users", "api_tokens", "login_failures"} <= set(inspector.get_table_names())
        unique = {c["name"] for c in inspector.get_unique_constraints("users")}
        assert "uq_users_email" in unique
        foreign = inspector.get_foreign_keys("api_tokens")
        assert foreign[0]["name"] == "fk_api_tokens_user_id_users"
        assert foreign[0]["referred_table"] == "users"
        indexes = {i["name"] for i in inspector.get_indexes("login_failures")}
        assert {"ix_login_failures_email", "ix_login_failures_address"} <= indexes


def test_db_commands(empty_database, tmp_path, monkeypatch):
    from app.cli.db import db_group

    monkeypatch.setenv("CERTPREP_DATABASE_URL", empty_database)
    monkeypatch.setenv("CERTPREP_INSTANCE_DIR", str(tmp_path))
    head = script_directory().get_current_head()
    runner = CliRunner()

    assert runner.invoke(db_group, ["current"]).stdout.strip() == ""
    upgraded = runner.invoke(db_group, ["upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert runner.invoke(db_group, ["current"]).stdout.strip() == head
    downgraded = runner.invoke(db_group, ["downgrade", "base"])
    assert downgraded.exit_code == 0, downgraded.output
    assert runner.invoke(db_group, ["current"]).stdout.strip() == ""

    for command in (["--help"], ["upgrade", "--help"], ["downgrade", "--help"]):
        result = runner.invoke(db_group, command)
        assert result.exit_code == 0
        assert "Usage" in result.output


def test_exam_tables_come_and_go_with_0009(migration_app):
    with migration_app.app_context():
        flask_migrate.upgrade(revision="0009_exams")
        inspector = inspect(db.engine)
        assert {"exams", "exam_attempts", "exam_grades"} <= set(inspector.get_table_names())
        assert "uq_exams_slug" in {c["name"] for c in inspector.get_unique_constraints("exams")}
        grades_unique = {c["name"] for c in inspector.get_unique_constraints("exam_grades")}
        assert "uq_exam_grades_attempt_id_number" in grades_unique
        foreign = {f["name"]: f for f in inspector.get_foreign_keys("exam_attempts")}
        assert foreign["fk_exam_attempts_user_id_users"]["options"].get("ondelete") == "CASCADE"
        indexes = {i["name"] for i in inspector.get_indexes("exam_attempts")}
        assert "ix_exam_attempts_status_deadline_at" in indexes

        flask_migrate.downgrade(revision="0008_workstations")
        left = set(inspect(db.engine).get_table_names())
        assert not {"exams", "exam_attempts", "exam_grades"} & left
        assert "lab_workstations" in left


def test_exam_workstations_come_and_go_with_0010(migration_app):
    with migration_app.app_context():
        flask_migrate.upgrade(revision="0010_exam_workstations")
        inspector = inspect(db.engine)
        assert "exam_workstations" in inspector.get_table_names()
        assert inspector.get_pk_constraint("exam_workstations")["constrained_columns"] == [
            "attempt_id"
        ]
        foreign = {f["name"]: f for f in inspector.get_foreign_keys("exam_workstations")}
        link = foreign["fk_exam_workstations_attempt_id_exam_attempts"]
        assert link["referred_table"] == "exam_attempts"
        assert link["options"].get("ondelete") == "CASCADE"

        flask_migrate.downgrade(revision="0009_exams")
        left = set(inspect(db.engine).get_table_names())
        assert "exam_workstations" not in left
        assert {"lab_workstations", "exam_attempts"} <= left
