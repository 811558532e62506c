"""Container tools beyond the shell's own: `gzip`, `gunzip`, `zcat` and `uptime`
(busybox and Debian images ship them).

Data travels as text decoded with `surrogateescape` (see `shell.py`), so the compressed
bytes reach `kubectl exec` unchanged. Files are (de)compressed in place as the real
tools do (`gzip f` writes `f.gz` and removes `f`); `-c` or standard input writes to
standard output.
"""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime

from app.sim.nodes.containers.shell import _container_command, decode, encode
from app.sim.nodes.shell import CommandResult, NodeShell, fail, ok
from app.sim.nodes.vfs import FsError


def _split(args: list[str]) -> tuple[set[str], list[str]]:
    flags: set[str] = set()
    files: list[str] = []
    for arg in args:
        if arg.startswith("-") and arg != "-":
            flags.update(arg.lstrip("-"))
        else:
            files.append(arg)
    return flags, files


def _transform(data: str, decompress: bool) -> str:
    raw = encode(data)
    out = gzip.decompress(raw) if decompress else gzip.compress(raw, mtime=0)
    return decode(out)


def _run(tool: str, sh: NodeShell, args: list[str], stdin: str, decompress: bool) -> CommandResult:
    flags, files = _split(args)
    decompress = decompress or "d" in flags
    to_stdout = "c" in flags or tool == "zcat" or not files or files == ["-"]
    try:
        if not files or files == ["-"]:
            return ok(_transform(stdin, decompress))
        out = []
        for name in files:
            path = sh.path(name)
            text = _transform(sh.fs.read(path), decompress)
            if to_stdout:
                out.append(text)
                continue
            target = path.removesuffix(".gz") if decompress else f"{path}.gz"
            sh.fs.write(target, text)
            sh.fs.remove(path)
        return ok("".join(out))
    except FsError as exc:
        return fail(f"{tool}: {exc}", 1)
    except (OSError, EOFError, zlib.error):
        return fail(f"{tool}: invalid magic", 1)


@_container_command("gzip")
def _gzip(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _run("gzip", sh, args, stdin, decompress=False)


@_container_command("gunzip")
def _gunzip(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _run("gunzip", sh, args, stdin, decompress=True)


@_container_command("zcat")
def _zcat(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _run("zcat", sh, args, stdin, decompress=True)


@_container_command("uptime")
def _uptime(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    """busybox's one line: the time, how long the node is up (since its Node object was
    created), users and load averages."""
    now = sh.now().astimezone(UTC)
    created = _node_created(sh) or now
    minutes = max(0, int((now - created).total_seconds()) // 60)
    hours, mins = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    span = f"{hours}:{mins:02d}" if hours else f"{mins} min"
    if days:
        span = f"{days} day{'s' if days > 1 else ''}, {span}"
    return ok(f" {now:%H:%M:%S} up {span},  0 users,  load average: 0.08, 0.05, 0.01\n")


def _node_created(sh: NodeShell) -> datetime | None:
    agent = getattr(sh, "agent", None)
    node = agent.store.get("", "nodes", None, agent.name) if agent is not None else None
    stamp = ((node or {}).get("metadata") or {}).get("creationTimestamp")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
