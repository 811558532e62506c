"""`certprep logs [ROLE]`: the logs `certprep up` keeps for its roles.

`up` writes each child's output to `<instance>/logs/<role>.log` (web, worker, beat,
simulator, and the start-up steps migrate, content, demo), appending across runs. This
command prints the last lines and follows them, like `tail -f`; without ROLE it follows
every log with the role in front of each line.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

import click

LOGS_DIR = "logs"
POLL_SECONDS = 0.3


def logs_dir(instance: Path) -> Path:
    return instance / LOGS_DIR


def log_file(instance: Path, role: str) -> Path:
    return logs_dir(instance) / f"{role}.log"


def _instance() -> Path:
    from app.config import load_settings

    return load_settings().instance_dir


def _tail(path: Path, count: int) -> tuple[list[str], int]:
    """The last `count` lines of `path` and the offset of its end."""
    with path.open("rb") as handle:
        data = handle.read()
    lines = data.decode("utf-8", "replace").splitlines()
    return (lines[-count:] if count > 0 else []), len(data)


class _Follower:
    """New complete lines appended to one file since the last read."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self.partial = b""

    def read(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # truncated or replaced: start again from the top
            self.offset, self.partial = 0, b""
        if size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete]


def _echo(out: IO[str] | None, prefix: str, line: str) -> None:
    click.echo(f"{prefix}{line}", file=out)


@click.command("logs")
@click.argument("role", required=False)
@click.option("-n", "--lines", "count", default=20, show_default=True, help="Lines to show first.")
@click.option("--follow/--no-follow", default=True, show_default=True, help="Keep following.")
def logs(role: str | None, count: int, follow: bool) -> None:
    """Show and follow the logs `certprep up` keeps for its roles (instance/logs/)."""
    instance = _instance()
    folder = logs_dir(instance)
    known = sorted(path.stem for path in folder.glob("*.log")) if folder.is_dir() else []
    if not known:
        raise click.ClickException(
            f"no logs in {folder}: `certprep up` writes them there (or pass --instance-dir)"
        )
    if role is not None and role not in known:
        raise click.ClickException(f"no log for {role!r} in {folder}; known: {', '.join(known)}")
    roles = [role] if role else known
    width = max(len(name) for name in roles)
    followers = []
    for name in roles:
        prefix = "" if role else f"{name.ljust(width)} | "
        lines, end = _tail(log_file(instance, name), count)
        for line in lines:
            _echo(None, prefix, line)
        followers.append((prefix, _Follower(log_file(instance, name), end)))
    if not follow:
        return
    try:
        while True:
            for prefix, follower in followers:
                for line in follower.read():
                    _echo(None, prefix, line)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        # Ctrl-C ends following; that is how this command is meant to stop.
        os.write(2, b"\n")


commands: list[click.Command] = [logs]
