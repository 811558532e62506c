"""The command line starts light: the import graph of `certprep --help`, the learner
commands and `certprep sim create` holds no Flask, SQLAlchemy, Celery or Kubernetes
client (a structural check; bench/cli_startup_bench.py prints the timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

from app.cli import COMMANDS, _attach, cli
from app.config import PROJECT_ROOT

HEAVY = ("flask", "werkzeug", "sqlalchemy", "celery", "kombu", "kubernetes", "marshmallow")

# Resolves the commands of each path the way `certprep ...` does before running them.
PROBE = """
import json, sys
import click
from app.cli import cli
paths = json.loads(sys.argv[1])
for path in paths:
    command = cli
    for name in path:
        command = command.get_command(click.Context(command), name)
        assert command is not None, path
if paths == [[]]:
    from click.testing import CliRunner
    assert "Commands:" in CliRunner().invoke(cli, ["--help"]).output
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def _loaded_after(*paths: list[str]) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(paths))],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize(
    "paths",
    [
        [[]],  # `certprep --help`
        [["quiz", "take"], ["quiz", "list"]],
        [["lab", "start"]],
        [["login"], ["logout"]],
        [["sim", "create"]],
        [["logs"]],
    ],
    ids=["help", "quiz", "lab", "login", "sim-create", "logs"],
)
def test_light_commands_import_no_heavy_library(paths: list[list[str]]) -> None:
    loaded = _loaded_after(*paths)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_help_table_matches_every_command() -> None:
    _attach()
    for name, (_module, _attribute, help_text) in COMMANDS.items():
        command = cli.commands[name]
        assert command.name == name
        assert command.get_short_help_str(limit=1000) == help_text, name


def _leaves(command: click.Command, path: tuple[str, ...] = ()):
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


def test_every_command_takes_instance_dir() -> None:
    _attach()
    leaves = list(_leaves(cli))
    assert len(leaves) > 20
    for path, command in leaves:
        options = [opt for param in command.params for opt in getattr(param, "opts", [])]
        assert "--instance-dir" in options, " ".join(path)


def test_user_roles_are_the_model_roles() -> None:
    from app.cli.users import ROLES
    from app.models.user import Role

    assert list(ROLES) == [role.value for role in Role]
