"""`certprep bank check|import`: validate and load question banks and quiz blueprints."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from app.banks.validator import ContentSet, load_content


def default_content_paths() -> list[Path]:
    """`./questions` when it exists, else the project's own `questions/` folder."""
    here = Path("questions")
    if here.is_dir():
        return [here]
    from app.config import PROJECT_ROOT

    return [PROJECT_ROOT / "questions"]


def _command_app() -> Flask:
    """The app on the configured database (`CERTPREP_DATABASE_URL`)."""
    from app import create_app

    return create_app()


def _summary(content: ContentSet) -> str:
    return (
        f"{len(content.files)} file(s), {len(content.banks)} bank(s),"
        f" {len(content.questions)} question(s), {len(content.quizzes)} quiz(zes)"
    )


def _load_or_exit(paths: tuple[Path, ...]) -> ContentSet:
    content = load_content(list(paths) or default_content_paths())
    for issue in content.issues:
        click.echo(str(issue), err=True)
    if content.issues:
        click.echo(f"{len(content.issues)} error(s) in {_summary(content)}", err=True)
        raise SystemExit(1)
    return content


@click.group("bank")
def bank() -> None:
    """Question banks and quiz blueprints (questions/*.yaml, questions/quizzes/*.yaml)."""


@bank.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Validate banks and blueprints; print FILE:LINE: MESSAGE per error, exit 1 on any."""
    content = _load_or_exit(paths)
    click.echo(f"ok: {_summary(content)}")


@bank.command("import")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def import_(paths: tuple[Path, ...]) -> None:
    """Validate, then load banks and blueprints into the database (idempotent).

    Nothing is written when any file has an error. Without PATHS the whole content
    folder is imported, and banks or blueprint quizzes no longer in it are retired.
    """
    content = _load_or_exit(paths)
    from app.services.banks import import_content

    with _command_app().app_context():
        report = import_content(content, complete=not paths)
    click.echo(f"imported {_summary(content)}: {report or 'nothing changed'}")


commands = [bank]
