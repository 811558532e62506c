"""The node shell: one command line at a time, as a learner types it over SSH.

`NodeShell.run("sed -i 's/schedulr/scheduler/' /etc/kubernetes/manifests/kube-scheduler.yaml")`
returns a `CommandResult(exit_code, stdout, stderr)`. Supported syntax: words and
quotes (shlex), `$VAR` / `${VAR}` and `$(command)` expansion, `NAME=value` prefixes,
pipes `|`, `&&`, `||`, `;`, and the redirects `>`, `>>`, `2>`, `2>&1`, `< file`.
Interactive editors are not available: the node-access API writes whole files.


The commands live in `coreutils`, `system`, `crictl`, `etcdctl` and `kubeadm`, each
registering itself with `command`; `load_tools` imports them.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.sim.machinery.clock import rfc3339
from app.sim.nodes.vfs import FsError, normalize

if TYPE_CHECKING:
    from app.sim.nodes import ClusterNodes
    from app.sim.nodes.kubelet import NodeAgent


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


OPERATORS = {"|", "&&", "||", ";"}
# Marks a descriptor digit written against a redirect (`2>`, `1>&2`), see `_tokens`.
FD_MARK = "\ue000"
_FD_BEFORE_REDIRECT = re.compile(r"(^|[\s;&|(])([12])(?=>)")


class UsageError(Exception):
    """A command's arguments are wrong; the message is what the tool prints."""


Command = Callable[["NodeShell", list[str], str], CommandResult]
COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    """Register a shell command implementation under `names`."""

    def wrap(fn: Command) -> Command:
        for name in names:
            if name in COMMANDS:
                raise ValueError(f"duplicate shell command {name}")
            COMMANDS[name] = fn
        return fn

    return wrap


def ok(stdout: str = "") -> CommandResult:
    return CommandResult(0, stdout, "")


def fail(stderr: str, code: int = 1, stdout: str = "") -> CommandResult:
    return CommandResult(
        code, stdout, stderr if stderr.endswith("\n") or not stderr else stderr + "\n"
    )


def tabwrite(rows: list[list[str]], minwidth: int = 20, padding: int = 3) -> str:
    """Go tabwriter output: every cell but the last padded to its column width."""
    if not rows:
        return ""
    widths = [0] * max(len(r) for r in rows)
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    out = []
    for r in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])] + [r[-1]]
        out.append("".join(cells).rstrip() if len(r) > 1 and not r[-1] else "".join(cells))
    return "\n".join(out) + "\n"


class NodeShell:
    """A login shell on one node: a working directory and environment variables."""

    def __init__(self, nodes: ClusterNodes, agent: NodeAgent, cwd: str = "/root") -> None:
        self.nodes = nodes
        self.agent = agent
        self.fs = agent.fs
        self.cwd = cwd
        self.env: dict[str, str] = {
            "HOME": "/root",
            "USER": "root",
            "HOSTNAME": agent.name,
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        }
        # Environment of the command being run (prefix assignments included).
        self.cmd_env: dict[str, str] = dict(self.env)

    # ---- helpers for commands ----------------------------------------------------------

    def path(self, value: str) -> str:
        return normalize(value, self.cwd)

    def now(self) -> datetime:
        return self.agent.clock.now()

    def stamp(self) -> str:
        return rfc3339(self.now())

    # ---- parsing -----------------------------------------------------------------------

    def _expand(self, line: str) -> str:
        """Expand `$(cmd)`, `$VAR` and `${VAR}` outside single quotes."""
        out: list[str] = []
        i = 0
        quote = ""
        while i < len(line):
            ch = line[i]
            if ch == "'" and quote != '"':
                quote = "" if quote == "'" else "'"
                out.append(ch)
                i += 1
                continue
            if ch == '"' and quote != "'":
                quote = "" if quote == '"' else '"'
                out.append(ch)
                i += 1
                continue
            if ch == "$" and quote != "'":
                if line.startswith("$(", i):
                    depth, j = 1, i + 2
                    while j < len(line) and depth:
                        depth += {"(": 1, ")": -1}.get(line[j], 0)
                        j += 1
                    inner = line[i + 2 : j - 1]
                    result = self.run(inner)
                    value = result.stdout.rstrip("\n")
                    out.append(value if quote else shlex.quote(value) if " " in value else value)
                    i = j
                    continue
                match = re.match(
                    r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", line[i:]
                )
                if match:
                    name = match.group(1) or match.group(2)
                    out.append(self.env.get(name, ""))
                    i += match.end()
                    continue
            out.append(ch)
            i += 1
        return "".join(out)

    # ---- hooks a container shell overrides ---------------------------------------------

    def _prepare(self, command_line: str) -> None:
        """Bring generated files up to date before a command reads them."""
        if "/var/log" in command_line or self.cwd.startswith("/var/log"):
            self.agent.write_log_files()

    def _lookup(self, name: str) -> Command | None:
        return COMMANDS.get(name) or COMMANDS.get(posixpath.basename(name))

    def _not_found(self, name: str) -> CommandResult:
        return fail(f"bash: {name}: command not found", 127)

    def _tokens(self, line: str) -> list[str]:
        # `2>` names a descriptor only when the digit touches the operator (`echo 2 >&2`
        # prints "2" to stderr): mark such digits before shlex splits them off.
        line = _FD_BEFORE_REDIRECT.sub(lambda m: f"{m.group(1)}{FD_MARK}{m.group(2)}", line)
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
        lexer.wordchars += FD_MARK
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)

    def run(self, command_line: str) -> CommandResult:
        """Run one command line; never raises for the learner's mistakes (they come
        back as a non-zero exit code and stderr text)."""
        with self.nodes.lock:
            self.nodes.catch_up()
            try:
                return self._run(command_line)
            finally:
                self.nodes.touch()  # the command may have changed what the kubelet sees

    def _run(self, command_line: str) -> CommandResult:
        self._prepare(command_line)
        try:
            tokens = self._tokens(self._expand(command_line))
        except ValueError as exc:
            return fail(f"bash: syntax error: {exc}", 2)
        # Split into (operator-before, simple pipeline) groups.
        stdout_parts: list[str] = []
        stderr_parts: list[str] = []
        code = 0
        pending_op = ";"
        current: list[str] = []
        sequence: list[tuple[str, list[str]]] = []
        for tok in tokens:
            if tok in ("&&", "||", ";"):
                sequence.append((pending_op, current))
                pending_op, current = tok, []
            else:
                current.append(tok)
        sequence.append((pending_op, current))
        for op, words in sequence:
            if not words:
                if op in ("&&", "||"):
                    return fail(f"bash: syntax error near unexpected token `{op}'", 2)
                continue
            if (op == "&&" and code != 0) or (op == "||" and code == 0):
                continue
            result = self._pipeline(words)
            stdout_parts.append(result.stdout)
            stderr_parts.append(result.stderr)
            code = result.exit_code
        return CommandResult(code, "".join(stdout_parts), "".join(stderr_parts))

    def _pipeline(self, words: list[str]) -> CommandResult:
        stages: list[list[str]] = [[]]
        for w in words:
            if w == "|":
                stages.append([])
            else:
                stages[-1].append(w)
        data = ""
        errors: list[str] = []
        result = ok()
        for stage in stages:
            if not stage:
                return fail("bash: syntax error near unexpected token `|'", 2)
            result = self._simple(stage, data)
            errors.append(result.stderr)
            data = result.stdout
        return CommandResult(result.exit_code, data, "".join(errors))

    def _simple(self, words: list[str], stdin: str) -> CommandResult:
        args: list[str] = []
        redirects: list[tuple[str, str]] = []
        i = 0
        while i < len(words):
            w = words[i]
            if w in (">", ">>", "<", ">&", "&>"):
                fd = "1"
                if args and args[-1] in (f"{FD_MARK}1", f"{FD_MARK}2") and w != "<":
                    fd = args.pop().removeprefix(FD_MARK)
                if i + 1 >= len(words):
                    return fail("bash: syntax error near unexpected token `newline'", 2)
                target = words[i + 1]
                if target in (">", ">>", "<", ">&", "&>", "|"):
                    return fail(f"bash: syntax error near unexpected token `{target}'", 2)
                op = w if w != "&>" else ">"
                if w == "&>":
                    redirects.append(("2", ">&1"))
                redirects.append((fd, f"{op}{target}" if op != ">&" else f">&{target}"))
                i += 2
                continue
            args.append(w)
            i += 1
        args = [a.replace(FD_MARK, "") for a in args]
        env = dict(self.env)
        while args and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", args[0]):
            name, _, value = args.pop(0).partition("=")
            env[name] = value
        if not args:
            # A line of bare assignments sets shell variables.
            self.env.update(env)
            return ok()
        if args[0] == "sudo":
            args = args[1:] or ["true"]
            if args and args[0] in ("-i", "-s", "su"):
                return ok()
        for _, spec in redirects:
            if spec.startswith("<"):
                try:
                    stdin = self.fs.read(self.path(spec[1:]))
                except FsError as exc:
                    return fail(f"bash: {spec[1:]}: {exc.reason}")
        self.cmd_env = env
        args = [args[0], *self._glob(args[1:])]
        impl = self._lookup(args[0])
        if impl is None:
            result = self._not_found(args[0])
        else:
            try:
                result = impl(self, args[1:], stdin)
            except FsError as exc:
                shown = exc.path or "''"
                result = fail(f"{args[0]}: {shown}: {exc.reason}")
            except UsageError as exc:
                result = fail(f"{args[0]}: {exc}", 1)
            except (ValueError, IndexError, KeyError, TypeError):
                # Arguments no implemented form of the command accepts: answer like a
                # tool that rejects its usage rather than failing the request.
                result = fail(f"{args[0]}: invalid arguments: {' '.join(args[1:])}", 2)
        return self._redirect(result, redirects)

    def _glob(self, words: list[str]) -> list[str]:
        """Pathname expansion of words with `*`, `?` or `[`; a pattern that matches
        nothing stays as it is, as in bash."""
        out: list[str] = []
        for word in words:
            if not any(ch in word for ch in "*?[") or word.startswith("-"):
                out.append(word)
                continue
            absolute = word.startswith("/")
            # (shown prefix, absolute directory) pairs, extended one element at a time.
            found = [("/" if absolute else "", "/" if absolute else self.cwd)]
            parts = [p for p in word.split("/") if p]
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                grown = []
                for shown, real in found:
                    if any(ch in part for ch in "*?["):
                        try:
                            names = self.fs.listdir(real)
                        except FsError:
                            continue
                        hidden_ok = part.startswith(".")
                        chosen = [
                            n
                            for n in names
                            if fnmatch.fnmatchcase(n, part) and (hidden_ok or not n.startswith("."))
                        ]
                    else:
                        chosen = [part]
                    for name in chosen:
                        real_path = posixpath.join(real, name)
                        if (last and self.fs.exists(real_path)) or self.fs.is_dir(real_path):
                            grown.append(
                                (posixpath.join(shown, name) if shown else name, real_path)
                            )
                found = grown
            out.extend(sorted(shown for shown, _ in found) or [word])
        return out

    def _redirect(self, result: CommandResult, redirects: list[tuple[str, str]]) -> CommandResult:
        stdout, stderr = result.stdout, result.stderr
        for fd, spec in redirects:
            if spec.startswith("<"):
                continue
            if spec == ">&1" and fd == "2":
                stdout, stderr = stdout + stderr, ""
                continue
            if spec == ">&2" and fd == "1":
                stdout, stderr = "", stderr + stdout
                continue
            append = spec.startswith(">>")
            target = spec[2:] if append else spec[1:]
            data = stdout if fd == "1" else stderr
            if target != "/dev/null":
                path = self.path(target)
                try:
                    if append and self.fs.is_file(path):
                        self.fs.append(path, data, mtime=self.stamp())
                    else:
                        self.fs.write(path, data, mtime=self.stamp())
                except FsError as exc:
                    return fail(f"bash: {target}: {exc.reason}")
            if fd == "1":
                stdout = ""
            else:
                stderr = ""
        return CommandResult(result.exit_code, stdout, stderr)


# ---- option parsing helpers --------------------------------------------------------------


def split_flags(
    args: list[str], with_value: set[str] = frozenset()
) -> tuple[dict[str, str], list[str]]:  # type: ignore[assignment]
    """Short/long options ({name: value}) and operands. Combined short flags (`-rf`)
    expand to one entry each; options in `with_value` take the next word."""
    opts: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            rest.extend(args[i:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, value = a[2:].partition("=")
            if not eq and name in with_value and i < len(args):
                value = args[i]
                i += 1
            opts[name] = value if (eq or name in with_value) else "true"
        elif a.startswith("-") and len(a) > 1 and not a[1:].isdigit():
            body = a[1:]
            if body[0] in with_value:
                value = body[1:] or (args[i] if i < len(args) else "")
                if not body[1:]:
                    i += 1
                opts[body[0]] = value
            else:
                for ch in body:
                    opts[ch] = "true"
        else:
            rest.append(a)
    return opts, rest


def load_tools() -> None:
    """Register the commands defined in their modules (coreutils, system commands,
    crictl, etcdctl, kubeadm, apt and dpkg, network clients)."""
    from app.sim.nodes import (  # noqa: F401
        apt,
        coreutils,
        crictl,
        etcdctl,
        kubeadm,
        nettools,
        system,
    )


load_tools()
