"""`certprep bank check|import`: validate and load the content folders.

Content is question banks and quiz blueprints (`questions/`) and labs (`labs/<slug>/`).
A PATH that is a lab folder (holds `lab.yaml`) or a folder of lab folders is read as
labs; any other PATH as question content. Without PATHS both default folders are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask

    from app.banks.validator import ContentSet


def default_content_paths() -> list[Path]:
    """`./questions` when it exists, else the project's own `questions/` folder."""
    here = Path("questions")
    if here.is_dir():
        return [here]
    from app.config import PROJECT_ROOT

    return [PROJECT_ROOT / "questions"]


def _is_lab_path(path: Path) -> bool:
    from app.grading.labfile import LAB_FILE

    return path.is_dir() and ((path / LAB_FILE).is_file() or any(path.glob(f"*/{LAB_FILE}")))


def _is_exam_path(path: Path) -> bool:
    """A mock exam file, or a folder of them (`exams/`)."""
    from app.grading.examfile import EXAM_SPEC

    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return bool(files) and all(
        f.is_file() and f"spec: {EXAM_SPEC}" in f.read_text(errors="replace") for f in files
    )


def _split(paths: tuple[Path, ...]) -> tuple[list[Path], list[Path]]:
    """(question and exam paths, lab paths); the default folders when no PATHS are
    given. Exam files are validated by their spec's checker (app.grading.examfile)."""
    from app.grading.examfile import register_bank_checker

    register_bank_checker()
    if not paths:
        from app.services.exams import default_exams_root
        from app.services.labs import default_labs_root

        labs_root, exams_root = default_labs_root(), default_exams_root()
        exams = [exams_root] if exams_root.is_dir() else []
        return default_content_paths() + exams, [labs_root] if labs_root.is_dir() else []
    labs = [p for p in paths if _is_lab_path(p)]
    return [p for p in paths if p not in labs], labs


def _check_labs(lab_paths: list[Path]) -> tuple[int, list[str]]:
    """(number of valid labs, FILE:LINE problems) for lab folders or folders of labs."""
    from app.grading.labfile import LAB_FILE, check_lab, load_labs

    count, problems = 0, []
    for path in lab_paths:
        if (path / LAB_FILE).is_file():
            lab, issues = check_lab(path)
            found = [lab] if lab is not None else []
        else:
            found, issues = load_labs(path)
        count += len(found)
        problems.extend(str(issue) for issue in issues)
    return count, problems


def _command_app() -> Flask:
    """The app on the configured database (`CERTPREP_DATABASE_URL`)."""
    from app.cli.common import build_app

    return build_app()


def _summary(content: ContentSet) -> str:
    return (
        f"{len(content.files)} file(s), {len(content.banks)} bank(s),"
        f" {len(content.questions)} question(s), {len(content.quizzes)} quiz(zes)"
    )


def _load_or_exit(paths: tuple[Path, ...]) -> tuple[ContentSet | None, list[Path], int]:
    """Validate everything named; print every problem and exit 1 when there is any.

    Returns (question content or None when no question path was named, lab paths,
    number of labs)."""
    question_paths, lab_paths = _split(paths)
    from app.banks.validator import load_content

    content = load_content(question_paths) if question_paths else None
    problems = [str(issue) for issue in content.issues] if content else []
    lab_count, lab_problems = _check_labs(lab_paths)
    problems.extend(lab_problems)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        summary = _summary(content) if content else "no question files"
        click.echo(f"{len(problems)} error(s) in {summary}, {lab_count} valid lab(s)", err=True)
        raise SystemExit(1)
    return content, lab_paths, lab_count


@click.group("bank")
def bank() -> None:
    """Content: question banks, quiz blueprints (questions/) and labs (labs/<slug>/)."""


@bank.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--coverage/--no-coverage",
    default=None,
    help="Fail when a CKA domain is more than 5 points off its exam weight or lacks an"
    " item type (default: on when no PATHS are given, i.e. for the whole curriculum).",
)
def check(paths: tuple[Path, ...], coverage: bool | None) -> None:
    """Validate banks, blueprints and labs; print FILE:LINE: MESSAGE per error, exit 1 on any.

    Also prints the CKA track's questions per domain against the exam weights."""
    content, _, lab_count = _load_or_exit(paths)
    summary = _summary(content) if content else "no question files"
    if content is not None and content.questions:
        from app.banks.coverage import coverage as measure

        report = measure(q.data for q in content.questions)
        for line in report.lines():
            click.echo(line)
        enforce = not paths if coverage is None else coverage
        if enforce and report.problems:
            for problem in report.problems:
                click.echo(f"coverage: {problem}", err=True)
            click.echo(f"{len(report.problems)} coverage error(s) in {summary}", err=True)
            raise SystemExit(1)
    click.echo(f"ok: {summary}, {lab_count} lab(s)")


@bank.command("import")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--prune",
    is_flag=True,
    help="Also retire live banks, blueprint quizzes and labs that are not in the content read.",
)
def import_(paths: tuple[Path, ...], prune: bool) -> None:
    """Validate, then load banks, blueprints and labs into the database (idempotent).

    Nothing is written when any file has an error. Without PATHS the default content
    folders are read. Banks, blueprint quizzes and labs that were not read are kept
    (and listed) unless --prune is given, which retires them and prints each one.
    """
    content, lab_paths, _ = _load_or_exit(paths)
    from app.services.banks import import_content
    from app.services.labs import import_labs

    with _command_app().app_context():
        if content is not None:
            report = import_content(content, prune=prune)
            _print_missing(report.retired, report.absent)
            click.echo(f"imported {_summary(content)}: {report or 'nothing changed'}")
        if lab_paths:
            lab_report = import_labs(lab_paths, prune=prune)
            _print_missing(
                [f"lab {slug}" for slug in lab_report.retired],
                [f"lab {slug}" for slug in lab_report.absent],
            )
            shown = ", ".join(str(p) for p in lab_paths)
            click.echo(f"labs imported from {shown}: {lab_report}")
        _import_exams(paths)


def _import_exams(paths: tuple[Path, ...]) -> None:
    """Load the mock exam sets named (files or `exams/` folders), or the default exams
    folder when no PATHS are given; already validated by `_load_or_exit`."""
    from app.services.exams import default_exams_root, import_exams

    folders = [p for p in paths if _is_exam_path(p)] if paths else [default_exams_root()]
    for folder in folders:
        if folder.is_dir() or folder.is_file():
            report = import_exams(folder)
            click.echo(f"exams imported from {folder}: {report}")


def _print_missing(retired: list[str], absent: list[str]) -> None:
    for name in retired:
        click.echo(f"retired: {name}")
    if absent:
        click.echo(f"not in the content read and kept (--prune retires them): {', '.join(absent)}")


commands = [bank]
