"""The shell inside a container: what `kubectl exec POD -- CMD` and an attached
terminal run.

`ContainerShell` is the node shell's parser and coreutils over the container's own
file system, limited to the executables its image ships (`profile.tools`), plus the
container-only tools: `sh -c`, `exit`, `sleep`, `ps`, `id`, `hostname`, `uname`, `tar`
(what `kubectl cp` runs), and the network clients shared with node shells (`wget`,
`curl`, `nc`, `nslookup`, `ping`, ...; see app/sim/nodes/nettools.py). On top of the
node shell's syntax it expands `$((...))` and runs `for`/`while`/`if` compound commands.

Binary data (tar streams) travels as text decoded with `surrogateescape`, so the bytes
come back unchanged when encoded the same way.
"""

from __future__ import annotations

import ast
import io
import operator
import posixpath
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.sim.nodes import nettools
from app.sim.nodes.containers.images import ImageProfile
from app.sim.nodes.dataplane import Client
from app.sim.nodes.shell import COMMANDS, Command, CommandResult, NodeShell, fail, ok, split_flags
from app.sim.nodes.vfs import FsError, VirtualFS

if TYPE_CHECKING:
    from app.sim.nodes import ClusterNodes
    from app.sim.nodes.kubelet import NodeAgent

# Node-shell commands a container image also has (under the same names).
_SHARED = frozenset(
    {
        "true", ":", "false", "echo", "pwd", "cd", "export", "env", "whoami", "date", "cat",
        "ls", "mkdir", "touch", "rm", "cp", "mv", "head", "tail", "wc", "sort", "grep", "sed",
        "find", "which", "etcdctl", "etcdutl",
    }
)  # fmt: skip
CONTAINER_COMMANDS: dict[str, Command] = {}
# A loop that never ends on its own (`while true`) stops after this many rounds: an
# exec'd command has no clock of its own to wait on.
MAX_LOOP_ROUNDS = 1000
ENCODING = "utf-8"


def decode(data: bytes) -> str:
    return data.decode(ENCODING, "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode(ENCODING, "surrogateescape")


def _container_command(*names: str) -> Callable[[Command], Command]:
    def wrap(fn: Command) -> Command:
        for name in names:
            CONTAINER_COMMANDS[name] = fn
        return fn

    return wrap


@dataclass
class ContainerContext:
    """What a container's shell knows about its pod."""

    namespace: str
    pod: str
    container: str
    ip: str
    profile: ImageProfile
    main_argv: list[str] = field(default_factory=list)
    # The pod's end of network connections (its resolv.conf, /etc/hosts, IP and node).
    client: Callable[[], Client] | None = None
    image: str = ""


class _Exit(Exception):
    pass


class ContainerShell(NodeShell):
    """`sh` in one container: its own files and environment, the image's tools."""

    def __init__(
        self,
        nodes: ClusterNodes,
        agent: NodeAgent,
        fs: VirtualFS,
        context: ContainerContext,
        env: dict[str, str],
    ) -> None:
        self.nodes = nodes
        self.agent = agent
        self.fs = fs
        self.context = context
        self.cwd = "/"
        self.env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME": context.pod,
            "HOME": "/root",
            **env,
        }
        self.cmd_env = dict(self.env)
        self.exit_code: int | None = None
        # Standard input for the next command (`echo x | sh -c 'cat > f'`).
        self.stdin: str | None = None
        self._depth = 0

    # ---- hooks -------------------------------------------------------------------------

    def _prepare(self, command_line: str) -> None:
        return None

    def _lookup(self, name: str) -> Command | None:
        base = posixpath.basename(name)
        if base not in self.context.profile.tools:
            return None
        if base in CONTAINER_COMMANDS:
            return CONTAINER_COMMANDS[base]
        self.cmd_env["_"] = base
        return COMMANDS.get(base) if base in _SHARED else _present_but_idle

    def _not_found(self, name: str) -> CommandResult:
        # busybox ash: "sh: sheep: not found"; bash: "bash: sheep: command not found".
        if "bash" in self.context.profile.tools:
            return fail(f"bash: {name}: command not found", 127)
        return fail(f"sh: {name}: not found", 127)

    # ---- running -----------------------------------------------------------------------

    def has(self, executable: str) -> bool:
        return posixpath.basename(executable) in self.context.profile.tools

    def run(self, command_line: str) -> CommandResult:
        with self.nodes.lock:
            if self._depth == 0:
                self.exit_code = None  # a new top-level command line
                self.nodes.catch_up()
            self._depth += 1
            try:
                return self._script(command_line)
            finally:
                self._depth -= 1
                # The command may have changed what probes see (files, servers).
                self.nodes.touch()

    def _script(self, script: str) -> CommandResult:
        """Run statements in order; compound commands (`for`, `while`, `if`) first
        split out so their bodies expand per round."""
        out: list[str] = []
        err: list[str] = []
        code = 0
        for statement in _statements(script):
            if self.exit_code is not None:
                break
            result = self._statement(statement)
            out.append(result.stdout)
            err.append(result.stderr)
            code = result.exit_code
        if self.exit_code is not None:
            code = self.exit_code
        return CommandResult(code, "".join(out), "".join(err))

    def _statement(self, text: str) -> CommandResult:
        words = text.split(None, 1)
        head = words[0] if words else ""
        if head == "for":
            match = re.fullmatch(r"for\s+(\w+)\s+in\s+(.*?)\s*;?\s*do\s+(.*)\s*done", text, re.S)
            if match is None:
                return fail("sh: syntax error: unexpected end of file", 2)
            name, items, body = match.groups()
            parts: list[CommandResult] = []
            for value in self._tokens(self._expand(items)):
                self.env[name] = value
                parts.append(self._script(body))
                if self.exit_code is not None:
                    break
            return _joined(parts)
        if head in ("while", "until"):
            match = re.fullmatch(r"(while|until)\s+(.*?)\s*;?\s*do\s+(.*)\s*done", text, re.S)
            if match is None:
                return fail("sh: syntax error: unexpected end of file", 2)
            kind, condition, body = match.groups()
            parts = []
            for _ in range(MAX_LOOP_ROUNDS):
                test = self._script(condition)
                if (test.exit_code == 0) != (kind == "while") or self.exit_code is not None:
                    break
                parts.append(self._script(body))
                if self.exit_code is not None:
                    break
            return _joined(parts)
        if head == "if":
            match = re.fullmatch(
                r"if\s+(.*?)\s*;?\s*then\s+(.*?)(?:\s*;?\s*else\s+(.*?))?\s*;?\s*fi", text, re.S
            )
            if match is None:
                return fail("sh: syntax error: unexpected end of file", 2)
            condition, then, otherwise = match.groups()
            test = self._script(condition)
            if self.exit_code is not None:
                return test
            if test.exit_code == 0:
                chosen = self._script(then)
            elif otherwise:
                chosen = self._script(otherwise)
            else:
                chosen = ok()
            return _joined([test, chosen], code=chosen.exit_code)
        return self._run(text)

    def _pipeline(self, words: list[str]) -> CommandResult:
        if self.exit_code is not None:
            return CommandResult(self.exit_code, "", "")
        if self.stdin is None:
            return super()._pipeline(words)
        # The script's standard input goes to the first command that runs.
        data, self.stdin = self.stdin, None
        stages: list[list[str]] = [[]]
        for word in words:
            if word == "|":
                stages.append([])
            else:
                stages[-1].append(word)
        errors: list[str] = []
        result = ok()
        for stage in stages:
            if not stage:
                return fail('sh: syntax error: unexpected "|"', 2)
            result = self._simple(stage, data)
            errors.append(result.stderr)
            data = result.stdout
        return CommandResult(result.exit_code, data, "".join(errors))

    def _expand(self, line: str) -> str:
        return super()._expand(self._arithmetic(line))

    def _arithmetic(self, line: str) -> str:
        """`$((expression))` with integer + - * / % and variables."""
        while True:
            start = line.find("$((")
            if start < 0:
                return line
            depth, j = 0, start + 1
            while j < len(line):
                depth += {"(": 1, ")": -1}.get(line[j], 0)
                j += 1
                if depth == 0:
                    break
            inner = line[start + 3 : j - 2]
            value = self._evaluate(inner)
            line = line[:start] + value + line[j:]

    def _evaluate(self, expression: str) -> str:
        text = re.sub(
            r"\$\{?([A-Za-z_]\w*)\}?|\b([A-Za-z_]\w*)\b",
            lambda m: self.env.get(m.group(1) or m.group(2), "0") or "0",
            expression,
        )
        try:
            return str(_arith(ast.parse(text.strip() or "0", mode="eval").body))
        except (SyntaxError, ValueError, ZeroDivisionError, TypeError):
            return "0"


_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: lambda a, b: int(a / b),
    ast.Mod: operator.mod,
}


def _arith(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    raise ValueError("unsupported expression")


def _joined(parts: list[CommandResult], code: int | None = None) -> CommandResult:
    last = parts[-1].exit_code if parts else 0
    return CommandResult(
        last if code is None else code,
        "".join(p.stdout for p in parts),
        "".join(p.stderr for p in parts),
    )


_OPENERS = {"for": "done", "while": "done", "until": "done", "if": "fi"}


def _statements(script: str) -> list[str]:
    """Split a script at top-level `;` and newlines, keeping compound commands
    (`for ... done`, `if ... fi`) and quoted text whole."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    quote = ""
    i = 0
    word_start = True
    while i < len(script):
        ch = script[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(script):
                current.append(script[i + 1])
                i += 1
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            current.append(ch)
            i += 1
            word_start = False
            continue
        if word_start:
            match = re.match(r"(for|while|until|if|done|fi)\b", script[i:])
            if match:
                word = match.group(1)
                depth += -1 if word in ("done", "fi") else 1
                current.append(word)
                i += len(word)
                word_start = False
                continue
        if ch in ";\n" and depth == 0:
            # `;;` and `&&`-chains stay in one statement for the node parser.
            out.append("".join(current))
            current = []
            i += 1
            word_start = True
            continue
        current.append(ch)
        word_start = ch in " \t;\n|&("
        i += 1
    out.append("".join(current))
    return [s.strip() for s in out if s.strip()]


# ---- container tools ----------------------------------------------------------------


_SERVERS = frozenset({"nginx", "httpd", "httpd-foreground", "redis-server", "mysqld", "postgres"})


def _present_but_idle(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    name = sh.cmd_env.get("_", "")
    if name in _SERVERS:
        # The image's server run by hand beside the running one: the port is taken.
        return fail("bind() to 0.0.0.0 failed (98: Address already in use)", 1)
    return fail(f"{name}: this command is in the image but not simulated", 126)


@_container_command("sh", "ash", "bash")
def _sh(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    assert isinstance(sh, ContainerShell)
    opts, rest = split_flags(args[:1]) if args and args[0].startswith("-") else ({}, args)
    if "c" in opts:
        script = args[1] if len(args) > 1 else ""
        sub = ContainerShell(sh.nodes, sh.agent, sh.fs, sh.context, dict(sh.env))
        sub.cwd = sh.cwd
        sub.stdin = stdin or None
        return sub.run(script)
    if rest:
        try:
            script = sh.fs.read(sh.path(rest[0]))
        except FsError:
            return fail(f"sh: can't open '{rest[0]}': No such file or directory", 2)
        return ContainerShell(sh.nodes, sh.agent, sh.fs, sh.context, dict(sh.env)).run(script)
    if stdin:
        return ContainerShell(sh.nodes, sh.agent, sh.fs, sh.context, dict(sh.env)).run(stdin)
    return ok()


@_container_command("exit")
def _exit(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    assert isinstance(sh, ContainerShell)
    try:
        code = int(args[0]) % 256 if args else 0
    except ValueError:
        return fail(f"sh: exit: Illegal number: {args[0]}", 2)
    sh.exit_code = code
    return CommandResult(code, "", "")


@_container_command("sleep")
def _sleep(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    # An exec'd sleep ends at once: the exec session does not wait on the cluster clock
    # (a container's main `sleep N` does, in the kubelet's timeline).
    if not args:
        return fail("sleep: missing operand\nBusyBox v1.37.0 multi-call binary.", 1)
    return ok()


@_container_command("hostname")
def _hostname(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    assert isinstance(sh, ContainerShell)
    if args and args[0] in ("-i", "-I"):
        return ok(sh.context.ip + "\n")
    return ok(sh.context.pod + "\n")


@_container_command("id")
def _id(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    return ok("uid=0(root) gid=0(root) groups=0(root),10(wheel)\n")


@_container_command("uname")
def _uname(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if args and "a" in args[0]:
        return ok(
            f"Linux {sh.env.get('HOSTNAME', '')} 6.8.0-60-generic #63-Ubuntu SMP x86_64 GNU/Linux\n"
        )
    return ok("Linux\n")


@_container_command("printenv")
def _printenv(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if args:
        values = [sh.cmd_env[a] for a in args if a in sh.cmd_env]
        return CommandResult(
            0 if len(values) == len(args) else 1, "".join(v + "\n" for v in values), ""
        )
    return ok("".join(f"{k}={v}\n" for k, v in sorted(sh.cmd_env.items())))


@_container_command("ps")
def _ps(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    assert isinstance(sh, ContainerShell)
    main = " ".join(sh.context.main_argv) or "sh"
    return ok(
        f"PID   USER     TIME  COMMAND\n    1 root      0:00 {main}\n   42 root      0:00 ps\n"
    )


@_container_command("test", "[")
def _test(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    if args and args[-1] == "]":
        args = args[:-1]
    negate = bool(args) and args[0] == "!"
    if negate:
        args = args[1:]
    result = _test_value(sh, args)
    return CommandResult(0 if result != negate else 1, "", "")


def _test_value(sh: NodeShell, args: list[str]) -> bool:
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        flag, value = args
        return {
            "-z": lambda: value == "",
            "-n": lambda: value != "",
            "-f": lambda: sh.fs.is_file(sh.path(value)),
            "-d": lambda: sh.fs.is_dir(sh.path(value)),
            "-e": lambda: sh.fs.exists(sh.path(value)),
            "-s": lambda: sh.fs.is_file(sh.path(value)) and sh.fs.read(sh.path(value)) != "",
        }.get(flag, lambda: False)()
    left, op, right = args[0], args[1], args[2]
    if op in ("=", "=="):
        return left == right
    if op == "!=":
        return left != right
    try:
        a, b = int(left), int(right)
    except ValueError:
        return False
    return {
        "-eq": a == b,
        "-ne": a != b,
        "-lt": a < b,
        "-le": a <= b,
        "-gt": a > b,
        "-ge": a >= b,
    }.get(op, False)


@_container_command("seq")
def _seq(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    numbers = [int(a) for a in args]
    first, last = (1, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[-1])
    step = numbers[1] if len(numbers) == 3 else 1
    return ok("".join(f"{n}\n" for n in range(first, last + 1, step)))


@_container_command("tar")
def _tar(sh: NodeShell, args: list[str], stdin: str) -> CommandResult:
    """`tar cf - PATH...` (to stdout) and `tar xf - [-C DIR]` (from stdin), the two
    forms `kubectl cp` runs, over the container's files."""
    flags, rest, directory, archive = _tar_options(sh, args)
    if archive != "-":
        return fail(f"tar: {archive}: archives on disk are not supported here; use -", 2)
    if "c" in flags:
        return _tar_create(sh, rest, directory)
    if "x" in flags or "t" in flags:
        return _tar_extract(sh, stdin, flags, directory)
    return fail("tar: need to specify one of -c, -t, -x", 1)


def _tar_options(sh: NodeShell, args: list[str]) -> tuple[str, list[str], str, str]:
    """tar's arguments: (flag letters, member paths, -C directory, archive name)."""
    flags = ""
    rest: list[str] = []
    directory = sh.cwd
    archive = "-"
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-C" and i + 1 < len(args):
            directory = sh.path(args[i + 1])
            i += 2
            continue
        if a.startswith("--"):
            i += 1
            continue
        if (a.startswith("-") or (i == 0 and not flags)) and not rest:
            flags += a.lstrip("-")
            if "f" in a and i + 1 < len(args):
                archive = args[i + 1]
                i += 2
                continue
        else:
            rest.append(a)
        i += 1
    return flags, rest, directory, archive


def _tar_create(sh: NodeShell, rest: list[str], directory: str) -> CommandResult:
    """`tar c`: an archive of `rest` (relative to `directory`) on stdout."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as out:
        for item in rest:
            base = posixpath.normpath(posixpath.join(directory, item))
            if not sh.fs.exists(base):
                return fail(f"tar: {item}: No such file or directory", 2)
            arcname = item.lstrip("/") or "."
            paths = [base] + (sh.fs.walk_files(base) if sh.fs.is_dir(base) else [])
            for path in paths:
                name = posixpath.normpath(arcname + path[len(base) :]) if path != base else arcname
                _tar_add(sh, out, path, name)
    return ok(decode(buffer.getvalue()))


def _tar_add(sh: NodeShell, out: tarfile.TarFile, path: str, name: str) -> None:
    """One file or directory of the container into the archive, as `name`."""
    if sh.fs.is_dir(path):
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        out.addfile(info)
        return
    data = encode(sh.fs.read(path))
    stat = sh.fs.stat(path)
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = stat.mode if stat else 0o644
    out.addfile(info, io.BytesIO(data))


def _tar_extract(sh: NodeShell, stdin: str, flags: str, directory: str) -> CommandResult:
    """`tar x` (unpack stdin under `directory`) and `tar t` (list it)."""
    try:
        archive_in = tarfile.open(fileobj=io.BytesIO(encode(stdin)), mode="r:*")  # noqa: SIM115 (closed by the with below)
    except tarfile.TarError:
        return fail("tar: short read", 1)
    listing: list[str] = []
    with archive_in:
        for member in archive_in.getmembers():
            listing.append(member.name)
            if "t" in flags:
                continue
            target = posixpath.normpath(posixpath.join(directory, member.name))
            if member.isdir():
                sh.fs.mkdir(target)
            elif member.isfile():
                handle = archive_in.extractfile(member)
                content = decode(handle.read()) if handle else ""
                sh.fs.write(target, content, mode=member.mode & 0o777)
    shown = "t" in flags or "v" in flags
    return ok("".join(n + "\n" for n in listing) if shown else "")


# The network clients are shared with node shells (app/sim/nodes/nettools.py).
CONTAINER_COMMANDS.update(nettools.TOOLS)


def result_bytes(result: CommandResult) -> tuple[bytes, bytes]:
    return encode(result.stdout), encode(result.stderr)
