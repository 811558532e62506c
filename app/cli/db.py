"""`certprep db upgrade|downgrade|current`: Alembic migrations of the configured database."""

from __future__ import annotations

import click

from app.cli.common import app_context


@click.group("db")
def db_group() -> None:
    """Database schema migrations (CERTPREP_DATABASE_URL, default the instance SQLite file)."""


@db_group.command("upgrade")
@click.argument("revision", default="heads")
def upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: the latest)."""
    import flask_migrate

    with app_context(create=True):
        flask_migrate.upgrade(revision=revision)
    click.echo(f"database upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step; `base` empties the schema)."""
    import flask_migrate

    with app_context(create=True):
        flask_migrate.downgrade(revision=revision)
    click.echo(f"database downgraded to {revision}")


@db_group.command("current")
def current() -> None:
    """Print the revision the database is at (empty output: not migrated)."""
    from alembic.migration import MigrationContext

    from app.extensions import db

    with app_context(), db.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    for head in heads:
        click.echo(head)


commands: list[click.Command] = [db_group]
