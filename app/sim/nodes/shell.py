"""The node shell: one command line at a time, as a learner types it over SSH.

`NodeShell.run("sed -i 's/schedulr/scheduler/' /etc/kubernetes/manifests/kube-scheduler.yaml")`
returns a `CommandResult(exit_code, stdout, stderr)`. Supported syntax: words and
quotes (shlex), `$VAR` / `${VAR}` and `$(command)` expansion, `NAME=value` prefixes,
pipes `|`, `&&`, `||`, `;`, and the redirects `>`, `>>`, `2>`, `2>&1`, `< file`.
Interactive editors are not available: the node-access API writes whole files.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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

    def _tokens(self, line: str) -> list[str]:
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)

    def run(self, command_line: str) -> CommandResult:
        """Run one command line; never raises for the learner's mistakes (they come
        back as a non-zero exit code and stderr text)."""
        with self.nodes.lock:
            return self._run(command_line)

    def _run(self, command_line: str) -> CommandResult:
        if "/var/log" in command_line or self.cwd.startswith("/var/log"):
            self.agent.write_log_files()
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
                if args and args[-1] in ("1", "2") and w != "<":
                    fd = args.pop()
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
        impl = COMMANDS.get(args[0]) or COMMANDS.get(posixpath.basename(args[0]))
        if impl is None:
            result = fail(f"bash: {args[0]}: command not found", 127)
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


# ---- coreutils ---------------------------------------------------------------------------


@command("true", ":")
def _true(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok()


@command("false")
def _false(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return CommandResult(1, "", "")


@command("echo")
def _echo(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    elif args and args[0] == "-e":
        args = [a.encode().decode("unicode_escape") for a in args[1:]]
    return ok(" ".join(args) + ("\n" if newline else ""))


@command("pwd")
def _pwd(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok(sh.cwd + "\n")


@command("cd")
def _cd(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    target = sh.path(args[0] if args else sh.env.get("HOME", "/root"))
    if not sh.fs.is_dir(target):
        reason = "Not a directory" if sh.fs.is_file(target) else "No such file or directory"
        return fail(f"bash: cd: {args[0]}: {reason}")
    sh.cwd = target
    return ok()


@command("export")
def _export(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    for a in args:
        name, eq, value = a.partition("=")
        if eq:
            sh.env[name] = value
    return ok()


@command("env")
def _env(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok("".join(f"{k}={v}\n" for k, v in sorted(sh.cmd_env.items())))


@command("hostname")
def _hostname(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok(sh.agent.name + "\n")


@command("whoami")
def _whoami(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok("root\n")


@command("date")
def _date(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    now = sh.now().astimezone(UTC)
    fmt = next((a[1:] for a in args if a.startswith("+")), None)
    if fmt is not None:
        return ok(now.strftime(fmt) + "\n")
    return ok(now.strftime("%a %b %d %H:%M:%S UTC %Y") + "\n")


def _read_inputs(
    sh: NodeShell, name: str, files: list[str], stdin: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """(file, text) for each operand (stdin when none) and error lines."""
    if not files:
        return [("-", stdin)], []
    out, errors = [], []
    for f in files:
        try:
            out.append((f, sh.fs.read(sh.path(f))))
        except FsError as exc:
            errors.append(f"{name}: {f}: {exc.reason}\n")
    return out, errors


@command("cat")
def _cat(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, files = split_flags(args)
    inputs, errors = _read_inputs(sh, "cat", files, stdin)
    text = "".join(t for _, t in inputs)
    if "n" in opts:
        text = "".join(f"{i:6d}\t{line}\n" for i, line in enumerate(text.splitlines(), 1))
    return CommandResult(1 if errors else 0, text, "".join(errors))


def _mode_string(mode: int, is_dir: bool) -> str:
    bits = "rwxrwxrwx"
    perms = "".join(b if mode & (1 << (8 - i)) else "-" for i, b in enumerate(bits))
    return ("d" if is_dir else "-") + perms


@command("ls")
def _ls(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, paths = split_flags(args)
    long = "l" in opts
    show_all = "a" in opts or "A" in opts
    paths = paths or ["."]
    out: list[str] = []
    errors: list[str] = []
    for index, p in enumerate(paths):
        full = sh.path(p)
        if sh.fs.is_file(full):
            entries = [(p, full)]
            header = False
        elif sh.fs.is_dir(full):
            names = sh.fs.listdir(full)
            if not show_all:
                names = [n for n in names if not n.startswith(".")]
            entries = [(n, posixpath.join(full, n)) for n in names]
            header = len(paths) > 1
        else:
            errors.append(f"ls: cannot access '{p}': No such file or directory\n")
            continue
        if header:
            if index and out:
                out.append("")
            out.append(f"{p}:")
        if long:
            if sh.fs.is_dir(full):
                out.append(f"total {len(entries) * 4}")
            for name, path in entries:
                is_dir = sh.fs.is_dir(path)
                f = sh.fs.stat(path)
                size = len(f.content.encode()) if f else 4096
                mode = f.mode if f else 0o755
                stamp = _ls_time(f.mtime if f and f.mtime else "", sh)
                out.append(f"{_mode_string(mode, is_dir)} 1 root root {size:>5} {stamp} {name}")
        elif entries:
            out.append("  ".join(name for name, _ in entries))
    text = "\n".join(out) + ("\n" if out else "")
    return CommandResult(2 if errors else 0, text, "".join(errors))


def _ls_time(mtime: str, sh: NodeShell) -> str:
    try:
        moment = datetime.fromisoformat(mtime.replace("Z", "+00:00")) if mtime else sh.now()
    except ValueError:
        moment = sh.now()
    return moment.strftime("%b %d %H:%M").replace(" 0", "  ", 1)


@command("mkdir")
def _mkdir(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, paths = split_flags(args)
    errors = []
    for p in paths:
        full = sh.path(p)
        if sh.fs.exists(full):
            if "p" not in opts:
                errors.append(f"mkdir: cannot create directory '{p}': File exists\n")
            continue
        try:
            sh.fs.mkdir(full, parents="p" in opts)
        except FsError as exc:
            errors.append(f"mkdir: cannot create directory '{p}': {exc.reason}\n")
    return CommandResult(1 if errors else 0, "", "".join(errors))


@command("touch")
def _touch(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    _, paths = split_flags(args)
    for p in paths:
        full = sh.path(p)
        if sh.fs.is_file(full):
            sh.fs.write(full, sh.fs.read(full), mtime=sh.stamp())
        else:
            try:
                parent = posixpath.dirname(full)
                if not sh.fs.is_dir(parent):
                    return fail(f"touch: cannot touch '{p}': No such file or directory")
                sh.fs.write(full, "", mtime=sh.stamp())
            except FsError as exc:
                return fail(f"touch: cannot touch '{p}': {exc.reason}")
    return ok()


@command("rm")
def _rm(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, paths = split_flags(args)
    recursive = "r" in opts or "R" in opts or "recursive" in opts
    force = "f" in opts or "force" in opts
    errors = []
    for p in paths:
        full = sh.path(p)
        if sh.fs.is_dir(full) and not recursive:
            errors.append(f"rm: cannot remove '{p}': Is a directory\n")
            continue
        if not sh.fs.exists(full):
            if not force:
                errors.append(f"rm: cannot remove '{p}': No such file or directory\n")
            continue
        sh.fs.remove(full, recursive=recursive)
    return CommandResult(1 if errors else 0, "", "".join(errors))


def _copy_or_move(sh: NodeShell, args: list[str], name: str) -> CommandResult:
    opts, paths = split_flags(args)
    if len(paths) < 2:
        missing = (
            "missing file operand"
            if not paths
            else f"missing destination file operand after '{paths[0]}'"
        )
        return fail(f"{name}: {missing}\nTry '{name} --help' for more information.")
    *sources, dest = paths
    if len(sources) > 1 and not sh.fs.is_dir(sh.path(dest)):
        return fail(f"{name}: target '{dest}': Not a directory")
    errors = []
    for src in sources:
        full = sh.path(src)
        if not sh.fs.exists(full):
            errors.append(f"{name}: cannot stat '{src}': No such file or directory\n")
            continue
        parent = posixpath.dirname(sh.path(dest))
        if not sh.fs.is_dir(sh.path(dest)) and not sh.fs.is_dir(parent):
            action = "create regular file" if name == "cp" else "move"
            errors.append(f"{name}: cannot {action} '{dest}': No such file or directory\n")
            continue
        if name == "mv":
            sh.fs.move(full, sh.path(dest), mtime=sh.stamp())
        elif sh.fs.is_dir(full):
            if "r" not in opts and "R" not in opts and "a" not in opts:
                errors.append(f"cp: -r not specified; omitting directory '{src}'\n")
                continue
            base = sh.path(dest)
            target = posixpath.join(base, posixpath.basename(full)) if sh.fs.is_dir(base) else base
            sh.fs.mkdir(target)
            for f in sh.fs.walk_files(full):
                sh.fs.write(target + f[len(full) :], sh.fs.read(f), mtime=sh.stamp())
        else:
            sh.fs.copy(full, sh.path(dest), mtime=sh.stamp())
    return CommandResult(1 if errors else 0, "", "".join(errors))


@command("cp")
def _cp(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _copy_or_move(sh, args, "cp")


@command("mv")
def _mv(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return _copy_or_move(sh, args, "mv")


def _lines_option(args: list[str]) -> tuple[int, list[str], bool]:
    count, rest, from_start = 10, [], False
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-n" and i + 1 < len(args):
            value = args[i + 1]
            if not value.lstrip("+-").isdigit():
                raise UsageError(f"invalid number of lines: \u2018{value}\u2019")
            from_start = value.startswith("+")
            count = int(value.lstrip("+-"))
            i += 2
            continue
        if a.startswith("-n") and a[2:].lstrip("+").isdigit():
            from_start = a[2:].startswith("+")
            count = int(a[2:].lstrip("+"))
        elif a.startswith("-") and a[1:].isdigit():
            count = int(a[1:])
        elif a in ("-f", "-F", "--follow"):
            pass  # follow mode has nothing more to show in a one-shot command
        else:
            rest.append(a)
        i += 1
    return count, rest, from_start


@command("head")
def _head(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    count, files, _ = _lines_option(args)
    inputs, errors = _read_inputs(sh, "head", files, stdin)
    out = "".join("".join(line + "\n" for line in text.splitlines()[:count]) for _, text in inputs)
    return CommandResult(1 if errors else 0, out, "".join(errors))


@command("tail")
def _tail(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    count, files, from_start = _lines_option(args)
    inputs, errors = _read_inputs(sh, "tail", files, stdin)
    out = []
    for _, text in inputs:
        lines = text.splitlines()
        chosen = lines[count - 1 :] if from_start else (lines[-count:] if count else [])
        out.append("".join(line + "\n" for line in chosen))
    return CommandResult(1 if errors else 0, "".join(out), "".join(errors))


@command("wc")
def _wc(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, files = split_flags(args)
    inputs, errors = _read_inputs(sh, "wc", files, stdin)
    out = []
    for name, text in inputs:
        lines, words, chars = text.count("\n"), len(text.split()), len(text.encode())
        if "l" in opts:
            cells = [str(lines)]
        elif "w" in opts:
            cells = [str(words)]
        elif "c" in opts:
            cells = [str(chars)]
        else:
            cells = [str(lines), str(words), str(chars)]
        out.append(" ".join(cells) + ("" if name == "-" else f" {name}") + "\n")
    return CommandResult(1 if errors else 0, "".join(out), "".join(errors))


@command("sort")
def _sort(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, files = split_flags(args)
    inputs, errors = _read_inputs(sh, "sort", files, stdin)
    lines = [line for _, t in inputs for line in t.splitlines()]
    lines.sort(reverse="r" in opts)
    if "u" in opts:
        lines = list(dict.fromkeys(lines))
    return CommandResult(1 if errors else 0, "".join(x + "\n" for x in lines), "".join(errors))


@command("grep")
def _grep(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    opts, rest = split_flags(args, with_value={"e", "A", "B", "C"})
    pattern = opts.get("e")
    if pattern is None:
        if not rest:
            return fail("Usage: grep [OPTION]... PATTERNS [FILE]...", 2)
        pattern, rest = rest[0], rest[1:]
    flags = re.IGNORECASE if "i" in opts else 0
    regex_text = pattern if ("E" in opts or "P" in opts) else _basic_regex(pattern)
    if "F" in opts:
        regex_text = re.escape(pattern)
    if "w" in opts:
        regex_text = rf"\b(?:{regex_text})\b"
    try:
        regex = re.compile(regex_text, flags)
    except re.error:
        return fail(f"grep: Invalid regular expression: {pattern}", 2)
    files = rest
    if ("r" in opts or "R" in opts) and files:
        expanded = []
        for f in files:
            full = sh.path(f)
            expanded += sh.fs.walk_files(full) if sh.fs.is_dir(full) else [f]
        files = expanded
    for flag in ("A", "B", "C"):
        if flag in opts and not opts[flag].isdigit():
            raise UsageError(f"{opts[flag]}: invalid context length argument")
    inputs, errors = _read_inputs(sh, "grep", files, stdin)
    after = int(opts.get("A", opts.get("C", "0")) or 0)
    before = int(opts.get("B", opts.get("C", "0")) or 0)
    out: list[str] = []
    matched_any = False
    for name, text in inputs:
        lines = text.splitlines()
        hits = [i for i, line in enumerate(lines) if bool(regex.search(line)) != ("v" in opts)]
        matched_any = matched_any or bool(hits)
        if "c" in opts:
            out.append((f"{name}:" if len(inputs) > 1 else "") + f"{len(hits)}")
            continue
        if "l" in opts:
            if hits:
                out.append(name)
            continue
        shown: set[int] = set()
        for i in hits:
            for j in range(max(0, i - before), min(len(lines), i + after + 1)):
                shown.add(j)
        prefix = f"{name}:" if len(inputs) > 1 else ""
        for j in sorted(shown):
            number = f"{j + 1}:" if "n" in opts else ""
            out.append(f"{prefix}{number}{lines[j]}")
    code = 0 if matched_any else 1
    if errors:
        code = 2
    return CommandResult(code, "".join(x + "\n" for x in out), "".join(errors))


def _basic_regex(pattern: str) -> str:
    # POSIX basic regular expressions: `\|`, `\+`, `\?`, `\(`, `\)` are the operators
    # and their bare forms are literals.
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "|+?(){}" else "\\" + nxt)
            i += 2
            continue
        out.append("\\" + ch if ch in "|+?(){}" else ch)
        i += 1
    return "".join(out)


def _sed_script(expr: str) -> tuple[re.Pattern[str], str, bool] | str:
    """Parse `s<d>pattern<d>replacement<d>flags`; an error message on failure."""
    if len(expr) < 2 or expr[0] != "s":
        return f"sed: -e expression #1, char {len(expr)}: unknown command: `{expr[:1]}'"
    delim = expr[1]
    parts: list[str] = []
    current = []
    i = 2
    while i < len(expr):
        ch = expr[i]
        if ch == "\\" and i + 1 < len(expr) and expr[i + 1] == delim:
            current.append(delim)
            i += 2
            continue
        if ch == delim:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if len(parts) < 2:
        return f"sed: -e expression #1, char {len(expr)}: unterminated `s' command"
    flags_text = "".join(current)
    pattern, replacement = parts[0], parts[1]
    if any(f not in "gIi0123456789p" for f in flags_text):
        return f"sed: -e expression #1, char {len(expr)}: unknown option to `s'"
    try:
        regex = re.compile(
            _basic_regex(pattern), re.IGNORECASE if ("I" in flags_text or "i" in flags_text) else 0
        )
    except re.error:
        return f"sed: -e expression #1, char {len(expr)}: Invalid preceding regular expression"
    # sed's & and \1 in the replacement; Python wants \g<0> and \1.
    py_repl = re.sub(r"(?<!\\)&", r"\\g<0>", replacement.replace("\\&", "\x00")).replace(
        "\x00", "&"
    )
    return regex, py_repl, "g" in flags_text


@command("sed")
def _sed(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    in_place = False
    scripts: list[str] = []
    files: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-i" or a.startswith("-i") or a == "--in-place":
            in_place = True
        elif a == "-e" and i + 1 < len(args):
            scripts.append(args[i + 1])
            i += 1
        elif a in ("-E", "-r", "-n"):
            pass
        elif not scripts and not a.startswith("-"):
            scripts.append(a)
        else:
            files.append(a)
        i += 1
    if not scripts:
        return fail("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...", 1)
    compiled = []
    for s in scripts:
        for piece in s.split(";") if s.count("s") > 1 and ";s" in s else [s]:
            parsed = _sed_script(piece.strip())
            if isinstance(parsed, str):
                return fail(parsed)
            compiled.append(parsed)

    def apply(text: str) -> str:
        out = []
        for line in text.splitlines(keepends=True):
            body, nl = (line[:-1], "\n") if line.endswith("\n") else (line, "")
            for regex, repl, glob in compiled:
                body = regex.sub(repl, body, count=0 if glob else 1)
            out.append(body + nl)
        return "".join(out)

    if in_place:
        if not files:
            return fail("sed: no input files")
        for f in files:
            full = sh.path(f)
            try:
                text = sh.fs.read(full)
            except FsError as exc:
                return fail(f"sed: can't read {f}: {exc.reason}", 2)
            sh.fs.write(full, apply(text), mtime=sh.stamp())
        return ok()
    inputs, errors = _read_inputs(sh, "sed", files, stdin)
    return CommandResult(2 if errors else 0, "".join(apply(t) for _, t in inputs), "".join(errors))


@command("find")
def _find(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    roots = [a for a in args if not a.startswith("-")][:1] or ["."]
    name = None
    if "-name" in args and args.index("-name") + 1 < len(args):
        name = args[args.index("-name") + 1]
    root = sh.path(roots[0])
    if not sh.fs.exists(root):
        return fail(f"find: '{roots[0]}': No such file or directory")
    paths = [root, *sh.fs.walk_files(root)]
    out = [p for p in paths if name is None or fnmatch.fnmatch(posixpath.basename(p), name)]
    return ok("".join(p + "\n" for p in out))


@command("which")
def _which(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    out, code = [], 0
    for a in args:
        for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin"):
            if sh.fs.is_file(f"{d}/{a}"):
                out.append(f"{d}/{a}")
                break
        else:
            code = 1
    return CommandResult(code, "".join(x + "\n" for x in out), "")


@command("kubectl")
def _kubectl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    runner = sh.nodes.kubectl
    if runner is None or not sh.agent.control_plane:
        return fail("bash: kubectl: command not found", 127)
    code, stdout, stderr = runner(args, stdin)
    return CommandResult(code, stdout, stderr)


@command("vi", "vim", "nano", "emacs")
def _editor(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return fail(
        "interactive editors are not available in this shell: edit the file with the node "
        "file API (save the whole file) or with sed -i"
    )


@command("openssl")
def _openssl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.components import parse_cert

    if not args or args[0] != "x509":
        return fail(f"Invalid command '{args[0] if args else ''}'; type \"help\" for a list.")
    path = (
        args[args.index("-in") + 1] if "-in" in args and args.index("-in") + 1 < len(args) else None
    )
    text = stdin
    if path is not None:
        try:
            text = sh.fs.read(sh.path(path))
        except FsError:
            return fail(f"Could not open file or uri for loading certificate from {path}")
    cert = parse_cert(text)
    if cert is None:
        return fail("Could not find certificate\nUnable to load certificate")

    def fmt(value: str) -> str:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.strftime("%b %d %H:%M:%S %Y GMT").replace(" 0", "  ", 1)

    out = []
    if "-subject" in args:
        out.append(f"subject=CN={cert['subject']}")
    if "-issuer" in args:
        out.append(f"issuer=CN={cert['issuer']}")
    if "-startdate" in args or "-dates" in args:
        out.append(f"notBefore={fmt(cert['notBefore'])}")
    if "-enddate" in args or "-dates" in args:
        out.append(f"notAfter={fmt(cert['notAfter'])}")
    if "-text" in args or not out:
        out += [
            "Certificate:",
            "    Data:",
            "        Version: 3 (0x2)",
            f"        Issuer: CN={cert['issuer']}",
            "        Validity",
            f"            Not Before: {fmt(cert['notBefore'])}",
            f"            Not After : {fmt(cert['notAfter'])}",
            f"        Subject: CN={cert['subject']}",
        ]
    return ok("".join(x + "\n" for x in out))


# ---- services ----------------------------------------------------------------------------


@command("systemctl")
def _systemctl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.services import UNITS, unit_name

    opts, rest = split_flags(args)
    if not rest:
        return fail("systemctl: a verb is required")
    verb, names = rest[0], [unit_name(n) for n in rest[1:]]
    agent = sh.agent
    if verb == "daemon-reload":
        agent.daemon_reload()
        return ok()
    if verb == "cat":
        texts = []
        for n in names:
            meta = UNITS.get(n)
            if meta is None:
                return fail(f"No files found for {n}.service.")
            texts.append(f"# {meta['path']}\n" + sh.fs.read(meta["path"]))
            if n == "kubelet":
                from app.sim.nodes.components import KUBELET_DROPIN

                texts.append(f"\n# {KUBELET_DROPIN}\n" + sh.fs.read(KUBELET_DROPIN))
        return ok("".join(texts))
    if verb in ("list-units",):
        lines = ["  UNIT               LOAD   ACTIVE SUB     DESCRIPTION"]
        for n in UNITS:
            u = agent.services.units[n]
            state = (
                ("active", "running")
                if u.active and u.failing_since is None
                else (("activating", "auto-restart") if u.active else ("inactive", "dead"))
            )
            lines.append(
                f"  {n + '.service':<18} loaded {state[0]:<6} {state[1]:<7} "
                f"{UNITS[n]['description']}"
            )
        return ok("\n".join(lines) + "\n")
    if not names:
        return fail("Too few arguments.")
    for n in names:
        if n not in UNITS:
            return fail(f"Unit {n}.service could not be found.", 4 if verb == "status" else 5)
    out, code = [], 0
    warnings = []
    now = sh.now().timestamp()
    if (
        "kubelet" in names
        and verb in ("status", "start", "restart")
        and agent.unit_changed_on_disk()
    ):
        warnings.append(
            "Warning: The unit file, source configuration file or drop-ins of kubelet.service "
            "changed on disk. Run 'systemctl daemon-reload' to reload units.\n"
        )
    for n in names:
        unit = agent.services.units[n]
        if verb == "status":
            text, rc = agent.services.status_text(
                n, now, agent.kubelet_cmdline() if n == "kubelet" else "/usr/bin/containerd"
            )
            out.append(text)
            code = max(code, rc)
        elif verb == "start":
            agent.start_service(n)
        elif verb == "stop":
            agent.stop_service(n)
        elif verb in ("restart", "reload-or-restart", "try-restart"):
            agent.restart_service(n)
        elif verb == "enable":
            if not unit.enabled:
                out.append(
                    f"Created symlink /etc/systemd/system/multi-user.target.wants/{n}.service "
                    f"→ /usr/lib/systemd/system/{n}.service.\n"
                )
            unit.enabled = True
            if "now" in opts:
                agent.start_service(n)
        elif verb == "disable":
            if unit.enabled:
                out.append(f'Removed "/etc/systemd/system/multi-user.target.wants/{n}.service".\n')
            unit.enabled = False
            if "now" in opts:
                agent.stop_service(n)
        elif verb == "is-active":
            state = (
                "active"
                if unit.active and unit.failing_since is None
                else ("activating" if unit.active else "inactive")
            )
            out.append(state + "\n")
            code = max(code, 0 if state == "active" else 3)
        elif verb == "is-enabled":
            out.append(("enabled" if unit.enabled else "disabled") + "\n")
            code = max(code, 0 if unit.enabled else 1)
        else:
            return fail(f"Unknown command verb '{verb}'.")
    if verb in ("start", "stop", "restart"):
        # Give the kubelet its start-up pass at once, so status reads right after.
        agent.sync()
        sh.nodes._publish_logs()
    return CommandResult(code, "".join(out), "".join(warnings))


def _listening(sh: NodeShell, args: list[str]) -> list[tuple[str, int, str]]:
    flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
    # Only listening TCP sockets are simulated: other selections show none.
    return sh.agent.listening() if "l" in flags or not args else []


@command("ss")
def _ss(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    lines = ["State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process"]
    for sock, pid, name in _listening(sh, args):
        lines.append(
            f'LISTEN 0      4096   {sock:>18}  {"0.0.0.0:*":>16} users:(("{name}",pid={pid},fd=3))'
        )
    return ok("\n".join(lines) + "\n")


@command("netstat")
def _netstat(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    lines = [
        "Active Internet connections (only servers)",
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       "
        "PID/Program name",
    ]
    for sock, pid, name in _listening(sh, args):
        wildcard = sock.startswith("*:")
        proto = "tcp6" if wildcard else "tcp"
        local = ":::" + sock[2:] if wildcard else sock
        peer = ":::*" if wildcard else "0.0.0.0:*"
        lines.append(f"{proto:<5} {0:>6} {0:>6} {local:<23} {peer:<23} LISTEN      {pid}/{name}")
    return ok("\n".join(lines) + "\n")


@command("service")
def _service(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if len(args) < 2:
        return fail("Usage: service < option > | --status-all | [ service_name [ command ] ]")
    return COMMANDS["systemctl"](sh, [args[1], args[0]], stdin)


@command("ps")
def _ps(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.services import UNITS

    agent = sh.agent
    procs: list[tuple[int, int, str]] = [(1, 0, "/sbin/init")]
    for name in UNITS:
        unit = agent.services.units[name]
        if unit.active and unit.failing_since is None:
            cmd = agent.kubelet_cmdline() if name == "kubelet" else UNITS[name]["binary"]
            procs.append((unit.pid, 1, cmd))
    for pod in sorted(agent.pods.values(), key=lambda p: p.created):
        for slot in pod.slots.values():
            cur = slot.current
            if cur is None or not cur.running():
                continue
            spec = agent._container_spec(pod, slot.name)
            argv = [str(x) for x in (spec.get("command") or []) + (spec.get("args") or [])]
            shim_pid = cur.pid() - 1
            procs.append(
                (
                    shim_pid,
                    1,
                    "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io "
                    f"-id {pod.sandbox[:64]} -address /run/containerd/containerd.sock",
                )
            )
            procs.append((cur.pid(), shim_pid, " ".join(argv) or f"[{slot.name}]"))
    start = sh.now().strftime("%H:%M")
    if any(a in ("-ef", "-e", "-A", "-eF") for a in args):
        lines = ["UID          PID    PPID  C STIME TTY          TIME CMD"]
        lines += [
            f"root     {pid:>7} {ppid:>7}  0 {start} ?        00:00:01 {cmd}"
            for pid, ppid, cmd in procs
        ]
    else:
        lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
        lines += [
            f"root     {pid:>7}  0.3  1.0 1289460 41984 ?      Ssl  {start}   0:01 {cmd}"
            for pid, _, cmd in procs
        ]
    return ok("\n".join(lines) + "\n")


@command("journalctl")
def _journalctl(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    from app.sim.nodes.services import format_entry, unit_name

    opts, _ = split_flags(args, with_value={"u", "n", "since", "until", "unit", "lines", "o"})
    unit = opts.get("u") or opts.get("unit")
    if unit is not None:
        unit = unit_name(unit)
    agent = sh.agent
    now = sh.now().timestamp()
    entries = agent.services.entries(unit, now)
    lines_opt = opts.get("n") or opts.get("lines")
    if lines_opt is None and "e" in opts:
        lines_opt = "1000"
    if lines_opt is not None and lines_opt.isdigit():
        entries = entries[-int(lines_opt) :]
    if "r" in opts or "reverse" in opts:
        entries = list(reversed(entries))
    if not entries:
        return ok("-- No entries --\n")
    pids = {n: u.pid for n, u in agent.services.units.items()}
    return ok("".join(format_entry(e, agent.name, pids.get(e.unit, 1)) + "\n" for e in entries))


def load_tools() -> None:
    """Register the tool commands (crictl, etcdctl, kubeadm) defined in their modules."""
    from app.sim.nodes import crictl, etcdctl, kubeadm  # noqa: F401


load_tools()
