"""Helpers for commands that need the application (database, settings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask


def build_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Create the app from the `CERTPREP_*` environment plus `overrides`.

    A bad setting becomes a `click.ClickException` (message, exit status 1) instead of
    a traceback.
    """
    from app import create_app
    from app.config import ConfigError

    try:
        return create_app(overrides)
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


@contextmanager
def app_context(overrides: dict[str, Any] | None = None) -> Iterator[Flask]:
    """`with app_context() as app:` runs the body inside a fresh app's context."""
    app = build_app(overrides)
    with app.app_context():
        yield app
