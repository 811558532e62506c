"""The `certprep` command line: one entry point, many roles.

Each command lives in a module of this package and is listed in `COMMANDS` with its
one-line help. The root group imports a command's module only when that command runs,
so `certprep --help` and the learner commands start without importing Flask,
SQLAlchemy, Celery or the Kubernetes client (a unit test checks the import graph; the
command modules import those inside their functions).

Every command that runs takes `--instance-dir DIR` (also accepted before the command,
`certprep --instance-dir DIR user create ...`): the instance folder, as
`CERTPREP_INSTANCE_DIR` would set it.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path

import click

# name -> (module, attribute, one-line help shown by `certprep --help`). The help must
# equal the command's own short help (a unit test checks it).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "bank": (
        "app.cli.bank",
        "bank",
        "Content: question banks, quiz blueprints (questions/) and labs (labs/<slug>/).",
    ),
    "login": (
        "app.cli.login",
        "login",
        "Log in and save the token in the user config folder (mode 0600).",
    ),
    "logout": (
        "app.cli.login",
        "logout",
        "Forget the saved login (the token stays valid until it expires).",
    ),
    "quiz": ("app.cli.quiz", "quiz", "Timed quizzes: list them, take one, read a result."),
    "lab": ("app.cli.lab", "lab", "Hands-on labs: start a cluster, work on it, get it graded."),
    "exam": (
        "app.cli.exam",
        "exam",
        "Two-hour hands-on mock exams over several clusters, graded once at the end.",
    ),
    "db": (
        "app.cli.db",
        "db_group",
        "Database schema migrations (CERTPREP_DATABASE_URL, default the instance SQLite file).",
    ),
    "user": ("app.cli.users", "user_group", "Accounts and their API tokens."),
    "serve": ("app.cli.serve", "serve", "Run the web API (REST, /healthz, /readyz, /metrics)."),
    "worker": (
        "app.cli.serve",
        "worker",
        "Run a Celery worker (grading, provisioning, maintenance jobs).",
    ),
    "beat": (
        "app.cli.serve",
        "beat",
        "Run the periodic scheduler (the jobs in app.tasks.schedule).",
    ),
    "up": (
        "app.cli.serve",
        "up",
        "Run everything on embedded defaults until Ctrl-C: web API, worker, beat, simulator.",
    ),
    "logs": (
        "app.cli.logs",
        "logs",
        "Show and follow the logs `certprep up` keeps for its roles (instance/logs/).",
    ),
    "sim": (
        "app.cli.sim",
        "sim",
        "The bundled Kubernetes simulator: a server holding many clusters.",
    ),
    "demo": ("app.cli.demo", "demo_group", "Demonstration data."),
}

# Modules exposing `commands: list[click.Command]` (all of `COMMANDS`' modules).
COMMAND_MODULES: list[str] = list(dict.fromkeys(module for module, _, _ in COMMANDS.values()))

INSTANCE_DIR_HELP = "Instance folder (default: $CERTPREP_INSTANCE_DIR, else ./instance)."


def _use_instance_dir(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        os.environ["CERTPREP_INSTANCE_DIR"] = str(value)


def _instance_dir_option() -> click.Option:
    return click.Option(
        ["--instance-dir"],
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_use_instance_dir,
        help=INSTANCE_DIR_HELP,
    )


def add_instance_dir_option(command: click.Command) -> click.Command:
    """Give `command` (and every command of a group, recursively) `--instance-dir`,
    unless it has its own."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_instance_dir_option(sub)
        return command
    if not any(param.name == "instance_dir" for param in command.params):
        command.params.append(_instance_dir_option())
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; `--help` lists them from
    `COMMANDS` without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            command = getattr(import_module(module), attribute)
            self.add_command(add_instance_dir_option(command), cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        # As click's own listing: one width for every row.
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.commands:
                help_text = self.commands[name].get_short_help_str(limit=limit)
            else:
                help_text = _shorten(COMMANDS[name][2], limit)
            rows.append((name, help_text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    """`text` cut at a word to fit `limit` characters, as click's short help is."""
    return click.Command("_", help=text).get_short_help_str(limit=limit)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certprep")
@click.option(
    "--instance-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_use_instance_dir,
    help=INSTANCE_DIR_HELP,
)
def cli() -> None:
    """certprep: Kubernetes certification prep with timed quizzes and graded labs."""


def _attach() -> None:
    """Import every command now (tests and tools that walk `cli.commands`)."""
    ctx = click.Context(cli)
    for name in COMMANDS:
        cli.get_command(ctx, name)


def _database_error_line(error: BaseException) -> str | None:
    """One line for a database error escaping a command (no schema, unreachable server),
    or None when `error` is not one. SQLAlchemy is looked up, never imported, here."""
    exc_module = sys.modules.get("sqlalchemy.exc")
    if exc_module is None or not isinstance(error, exc_module.DBAPIError):
        return None
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    hint = ""
    if "no such table" in detail or "does not exist" in detail:
        hint = " (the schema is missing: run `certprep db upgrade`, or pass --instance-dir)"
    return f"database error: {detail}{hint}"


def main() -> None:
    try:
        cli()
    except Exception as error:
        # click reports its own errors; a database error (no schema, server down) is one
        # line too instead of a traceback through SQLAlchemy.
        line = _database_error_line(error)
        if line is None:
            raise
        click.echo(f"Error: {line}", err=True)
        sys.exit(1)
