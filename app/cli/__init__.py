"""The `certprep` command line: one entry point, many roles.

Each module in this package defines a click group or command and is listed in
`COMMAND_MODULES`; `main` attaches them all.
"""

from __future__ import annotations

from importlib import import_module

import click

# Modules exposing `commands: list[click.Command]`.
COMMAND_MODULES: list[str] = [
    "app.cli.bank",
    "app.cli.login",
    "app.cli.quiz",
    "app.cli.lab",
    "app.cli.db",
    "app.cli.users",
    "app.cli.serve",
    "app.cli.sim",
    "app.cli.demo",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certprep")
def cli() -> None:
    """certprep: Kubernetes certification prep with timed quizzes and graded labs."""


def _attach() -> None:
    for path in COMMAND_MODULES:
        for command in import_module(path).commands:
            cli.add_command(command)


def main() -> None:
    _attach()
    cli()
