"""Helpers for commands that need the application (database, settings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask


def sqlite_file(database_url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL; None for other databases and in-memory SQLite."""
    if not database_url.startswith("sqlite:///"):
        return None
    path = database_url.removeprefix("sqlite:///").split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def build_app(overrides: dict[str, Any] | None = None, *, create: bool = False) -> Flask:
    """Create the app from the `CERTPREP_*` environment plus `overrides`.

    A bad setting becomes a `click.ClickException` (message, exit status 1) instead of
    a traceback. Unless `create` (commands that make the schema: `db upgrade`, `demo
    seed`), an embedded SQLite database must already exist: a command run outside the
    instance folder gets a one-line error and leaves no stray `./instance` behind.
    """
    from app import create_app
    from app.config import ConfigError, load_settings

    try:
        if not create:
            settings = load_settings(overrides=overrides)
            database = sqlite_file(settings.database_url)
            if database is not None and not database.exists():
                raise click.ClickException(
                    f"no certprep database at {database}: run this in the folder where "
                    "`certprep up` ran, pass --instance-dir DIR (or set "
                    "CERTPREP_INSTANCE_DIR), or create it with `certprep db upgrade`"
                )
        return create_app(overrides)
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


@contextmanager
def app_context(
    overrides: dict[str, Any] | None = None, *, create: bool = False
) -> Iterator[Flask]:
    """`with app_context() as app:` runs the body inside a fresh app's context."""
    app = build_app(overrides, create=create)
    with app.app_context():
        yield app
