"""The learner workstation: a simulated bash for one lab session, never the host's.

`Workstation.run(line)` runs one command line and returns a `Result` (terminal text,
exit code, and an `edit` request when `vi`/`vim`/`nano` opened a file). The state (the
virtual folder, cwd, variables, aliases, history, the node an `ssh` entered and that
node shell's cwd and variables) is plain JSON: `to_state()` / `Workstation(state=...)`.

Syntax: words and quotes, `$VAR` / `${VAR}` / `~`, `NAME=value`, pipes `|`, `&&`,
`||`, `;`, redirects `>`, `>>`, `2>`, `2>&1`, `&>`, `< file` (all on workstation
files). Refused with a message: command substitution (`$(...)`, backticks), process
substitution, background jobs (`&`), functions and subshells, so nothing can loop or
fork. Every command is a Python function over the virtual folder, except `kubectl`
(the real binary, see `app.workstation.kubectl`) and `ssh` (the cluster's node shells).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.workstation import kubectl as kubectl_args
from app.workstation.cluster import ClusterAccess, ClusterUnavailable
from app.workstation.files import HOME, FileError, VirtualFolder, normalize

HOSTNAME = "workstation"
USER = "candidate"
MAX_LINE = 8192
MAX_OUTPUT = 256 * 1024
MAX_HISTORY = 500
MAX_VARIABLES = 100
EDITORS = ("vi", "vim", "nano")
DEFAULT_ENV = {
    "HOME": HOME,
    "USER": USER,
    "LOGNAME": USER,
    "HOSTNAME": HOSTNAME,
    "SHELL": "/bin/bash",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "TERM": "xterm-256color",
    "EDITOR": "vim",
}
DEFAULT_ALIASES = {"k": "kubectl"}
NODE_DEFAULT_ENV = {"HOME": "/root", "USER": "root"}


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str = ""

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class EditRequest:
    """`vi FILE` asks the browser to edit `path` (on `node`, or the workstation when
    None); `content` is the file's text ("" for a new file)."""

    node: str | None
    path: str
    content: str
    exists: bool

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "path": self.path, "content": self.content}


class ShellSyntaxError(Exception):
    pass


def ok(stdout: str = "") -> Result:
    return Result(0, stdout)


def fail(message: str, code: int = 1) -> Result:
    return Result(code, "", message if message.endswith("\n") else message + "\n")


def cap(text: str, limit: int = MAX_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[output cut at {limit // 1024} KiB]\n"


# ---------------------------------------------------------------------------- lexing

OPERATORS = ("&&", "||", "2>&1", "&>", ">>", "2>", ";", "|", ">", "<", "&")


@dataclass
class Word:
    text: str
    quoted: bool = False


SUBSTITUTION = (
    "command substitution is not available in this terminal; run the commands one after another"
)
GROUPING = "subshells, groups and functions are not available in this terminal"


class _Lexer:
    """The state of `tokenize`: one method per kind of character."""

    def __init__(self, line: str, env: dict[str, str]) -> None:
        self.line = line
        self.env = env
        self.i = 0
        self.tokens: list[Word | str] = []
        self.current: list[str] = []
        self.in_word = False
        self.quoted = False

    def finish(self) -> None:
        if self.in_word:
            self.tokens.append(Word("".join(self.current), self.quoted))
        self.current.clear()
        self.in_word = self.quoted = False

    def add(self, text: str, quoted: bool = False) -> None:
        self.current.append(text)
        self.in_word = True
        self.quoted = self.quoted or quoted

    def variable(self) -> None:
        line, at = self.line, self.i
        if line.startswith("${", at):
            end = line.find("}", at)
            name = line[at + 2 : end] if end >= 0 else ""
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ShellSyntaxError(f"${{{name}}}: bad substitution")
            self.current.append(self.env.get(name, ""))
            self.i = end + 1
            return
        match = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[?$#0-9]", line[at + 1 :])
        if not match:
            self.current.append("$")
            self.i = at + 1
            return
        name = match.group(0)
        if name == "$":
            value = "4242"
        else:
            value = self.env.get(name, "0" if name in "?#0123456789" else "")
        self.current.append(value)
        self.i = at + 1 + len(name)

    def single_quoted(self) -> None:
        end = self.line.find("'", self.i + 1)
        if end < 0:
            raise ShellSyntaxError("unexpected EOF while looking for matching `''")
        self.add(self.line[self.i + 1 : end], quoted=True)
        self.i = end + 1

    def double_quoted(self) -> None:
        line = self.line
        self.i += 1
        self.add("", quoted=True)
        while self.i < len(line) and line[self.i] != '"':
            ch = line[self.i]
            if ch == "`" or line.startswith("$(", self.i):
                raise ShellSyntaxError(SUBSTITUTION)
            if ch == "\\" and line[self.i + 1 : self.i + 2] in ('"', "\\", "$", "`"):
                self.current.append(line[self.i + 1])
                self.i += 2
            elif ch == "$":
                self.variable()
            else:
                self.current.append(ch)
                self.i += 1
        if self.i >= len(line):
            raise ShellSyntaxError("unexpected EOF while looking for matching `\"'")
        self.i += 1

    def operator(self) -> bool:
        operator = next((op for op in OPERATORS if self.line.startswith(op, self.i)), None)
        if operator is None or (operator in ("2>", "2>&1") and self.in_word):
            return False  # `a2>f` is the word a2 and a redirect
        if operator == "&":
            raise ShellSyntaxError("background jobs (&) are not available in this terminal")
        self.finish()
        self.tokens.append(operator)
        self.i += len(operator)
        return True

    def step(self) -> bool:
        """Consume what starts at `i`; False at a comment (the end of the line)."""
        line, i = self.line, self.i
        ch = line[i]
        if ch == "`" or line.startswith("$(", i) or line.startswith("<(", i):
            raise ShellSyntaxError(SUBSTITUTION)
        if ch in "()" or (ch in "{}" and not self.in_word):
            raise ShellSyntaxError(GROUPING)
        if ch == "#" and not self.in_word:
            return False
        if ch in " \t":
            self.finish()
            self.i += 1
        elif ch == "'":
            self.single_quoted()
        elif ch == '"':
            self.double_quoted()
        elif ch == "\\":
            self.add(line[i + 1 : i + 2])
            self.i += 2
        elif ch == "$":
            self.in_word = True
            self.variable()
        elif (
            ch == "~" and not self.in_word and line[i + 1 : i + 2] in ("", "/", " ", "\t", ";", "|")
        ):
            self.add(self.env.get("HOME", HOME))
            self.i += 1
        elif not self.operator():
            self.add(ch)
            self.i += 1
        return True


def tokenize(line: str, env: dict[str, str]) -> list[Word | str]:
    """Words (with variables expanded) and operator strings. Raises
    ShellSyntaxError for what this shell does not run."""
    lexer = _Lexer(line, env)
    while lexer.i < len(line) and lexer.step():
        pass
    lexer.finish()
    return lexer.tokens


def split_list(line: str) -> list[tuple[str, str]]:
    """`a && b; c` -> [(";", "a "), ("&&", " b"), (";", " c")]: the parts of a command
    list with the operator before each (quotes respected)."""
    parts: list[tuple[str, str]] = []
    pending = ";"
    start = 0
    i = 0
    quote = ""
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 2
            continue
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        elif line.startswith("&&", i) or line.startswith("||", i) or ch == ";":
            op = ch if ch == ";" else line[i : i + 2]
            parts.append((pending, line[start:i]))
            pending = op
            i += len(op)
            start = i
            continue
        i += 1
    parts.append((pending, line[start:] if i >= len(line) else line[start:i]))
    if not line[start:].strip() and pending in ("&&", "||"):
        raise ShellSyntaxError(f"syntax error near unexpected token `{pending}'")
    return parts


# ------------------------------------------------------------------------- the shell

Command = Callable[["Workstation", list[str], str], Result]
COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    def wrap(fn: Command) -> Command:
        for name in names:
            COMMANDS[name] = fn
        return fn

    return wrap


class Workstation:
    """One learner's workstation. `cluster` is the session's cluster (None: a
    workstation without one, where kubectl and ssh say so)."""

    def __init__(
        self, state: dict[str, Any] | None = None, cluster: ClusterAccess | None = None
    ) -> None:
        state = state or {}
        self.cluster = cluster
        self.fs = VirtualFolder.from_state(state)
        self.cwd: str = state.get("cwd") or HOME
        if not self.fs.is_dir(self.cwd):
            self.cwd = HOME
        self.env: dict[str, str] = {**DEFAULT_ENV, **(state.get("env") or {})}
        self.aliases: dict[str, str] = dict(state.get("aliases") or DEFAULT_ALIASES)
        self.history: list[str] = list(state.get("history") or [])
        self.node: str | None = state.get("node")
        self.node_state: dict[str, dict[str, Any]] = dict(state.get("node_state") or {})
        self.namespace: str | None = state.get("namespace")
        self.last_code = int(state.get("last_code") or 0)
        self.edit: EditRequest | None = None
        # A cluster with state of its own (an exam attempt's current context and
        # namespaces) keeps it in the workstation's.
        load = getattr(cluster, "load_state", None)
        if load is not None:
            load(dict(state.get("cluster") or {}))

    def to_state(self) -> dict[str, Any]:
        return {
            **self.fs.to_state(),
            "cwd": self.cwd,
            "env": {k: v for k, v in self.env.items() if DEFAULT_ENV.get(k) != v},
            "aliases": self.aliases,
            "history": self.history[-MAX_HISTORY:],
            "node": self.node,
            "node_state": self.node_state,
            "namespace": self.namespace,
            "last_code": self.last_code,
            **self._cluster_state(),
        }

    def _cluster_state(self) -> dict[str, Any]:
        save = getattr(self.cluster, "to_state", None)
        return {} if save is None else {"cluster": save()}

    # ---- prompt ---------------------------------------------------------------------

    def prompt(self) -> str:
        if self.node:
            cwd = self._node_cwd()
            shown = "~" if cwd == "/root" else cwd
            return f"root@{self.node}:{shown}# "
        shown = self.cwd
        if shown == HOME or shown.startswith(HOME + "/"):
            shown = "~" + shown[len(HOME) :]
        return f"{USER}@{HOSTNAME}:{shown}$ "

    # ---- running ----------------------------------------------------------------------

    def path(self, value: str) -> str:
        return normalize(value, self.cwd)

    def run(self, line: str) -> Result:
        """Run one command line typed by the learner."""
        self.edit = None
        line = line.rstrip("\r\n")
        if len(line) > MAX_LINE:
            return fail(f"bash: line too long (at most {MAX_LINE} characters)", 2)
        if line.strip() and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-MAX_HISTORY]
        if self.node:
            result = self._run_on_node(line)
        else:
            result = self._run_local(line)
        result.stdout = cap(result.stdout)
        result.stderr = cap(result.stderr, 64 * 1024)
        self.last_code = result.exit_code
        return result

    def _run_local(self, line: str) -> Result:
        try:
            # Checked on the whole line first, so nothing of a refused line runs.
            tokenize(line, {})
            sequence = split_list(line)
        except ShellSyntaxError as exc:
            return fail(f"bash: {exc}", 2)
        out: list[str] = []
        err: list[str] = []
        code = self.last_code
        for op, text in sequence:
            # Each part is expanded when it runs: `export A=1; echo $A` prints 1.
            env = {**self.env, "?": str(code), "PWD": self.cwd}
            words = tokenize(text, env)
            if not words:
                if op in ("&&", "||"):
                    return fail(f"bash: syntax error near unexpected token `{op}'", 2)
                continue
            if (op == "&&" and code != 0) or (op == "||" and code == 0):
                continue
            result = self._pipeline(words)
            out.append(result.stdout)
            err.append(result.stderr)
            code = result.exit_code
            if self.node or self.edit:
                break
        return Result(code, "".join(out), "".join(err))

    def _pipeline(self, words: list[Word | str]) -> Result:
        stages: list[list[Word | str]] = [[]]
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
            data = cap(result.stdout)
        return Result(result.exit_code, data, "".join(errors))

    def _glob(self, word: Word) -> list[str]:
        if word.quoted or not any(c in word.text for c in "*?["):
            return [word.text]
        pattern = self.path(word.text)
        folder = posixpath.dirname(pattern)
        if not self.fs.is_dir(folder) or any(c in folder for c in "*?["):
            return [word.text]
        names = [
            n
            for n in self.fs.children(folder)
            if fnmatch.fnmatchcase(n, posixpath.basename(pattern)) and not n.startswith(".")
        ]
        if not names:
            return [word.text]
        prefix = word.text[: len(word.text) - len(posixpath.basename(word.text))]
        return [prefix + n for n in names]

    def _simple(self, words: list[Word | str], stdin: str) -> Result:
        parsed = self._words_and_redirects(words)
        if isinstance(parsed, Result):
            return parsed
        args, redirects = parsed
        assignments: dict[str, str] = {}
        while args and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", args[0]):
            name, _, value = args.pop(0).partition("=")
            assignments[name] = value
        if not args:
            return self._set_variables(assignments)
        try:
            args = self._expand_alias(args)
        except ShellSyntaxError as exc:
            return fail(f"bash: {exc}", 2)
        if not args:
            return ok()
        for op, target in redirects:
            if op == "<":
                try:
                    stdin = self.fs.read(self.path(target))
                except FileError as exc:
                    return fail(f"bash: {target}: {exc.reason}")
        return self._redirect(self._call(args, stdin), redirects)

    def _words_and_redirects(
        self, words: list[Word | str]
    ) -> tuple[list[str], list[tuple[str, str]]] | Result:
        args: list[str] = []
        redirects: list[tuple[str, str]] = []
        i = 0
        while i < len(words):
            w = words[i]
            if isinstance(w, Word):
                args.extend(self._glob(w) if args else [w.text])
                i += 1
            elif w == "2>&1":
                redirects.append(("2>&1", ""))
                i += 1
            else:
                target = words[i + 1] if i + 1 < len(words) else None
                if not isinstance(target, Word):
                    return fail("bash: syntax error near unexpected token `newline'", 2)
                redirects.append((w, target.text))
                i += 2
        return args, redirects

    def _expand_alias(self, args: list[str]) -> list[str]:
        """Aliases of the first word, as bash does for interactive shells."""
        seen: set[str] = set()
        while args and args[0] in self.aliases and args[0] not in seen:
            seen.add(args[0])
            tokens = tokenize(self.aliases[args[0]], self.env)
            if any(isinstance(t, str) for t in tokens):
                raise ShellSyntaxError(f"alias {args[0]}: only words are supported in aliases")
            args = [t.text for t in tokens if isinstance(t, Word)] + args[1:]
        return args

    def _call(self, args: list[str], stdin: str) -> Result:
        impl = COMMANDS.get(args[0])
        if impl is None:
            return fail(f"{args[0]}: command not found", 127)
        try:
            return impl(self, args[1:], stdin)
        except FileError as exc:
            return fail(f"{args[0]}: {exc.path}: {exc.reason}")
        except ClusterUnavailable as exc:
            return fail(f"{args[0]}: {exc}")

    def _set_variables(self, assignments: dict[str, str]) -> Result:
        for name, value in assignments.items():
            if name not in self.env and len(self.env) >= MAX_VARIABLES:
                return fail("bash: too many variables")
            self.env[name] = value[:4096]
        return ok()

    def _redirect(self, result: Result, redirects: list[tuple[str, str]]) -> Result:
        for op, target in redirects:
            if op == "2>&1":
                result = Result(result.exit_code, result.stdout + result.stderr, "")
                continue
            if op == "<":
                continue
            if target == "/dev/null":
                text = result.stdout if op in (">", ">>") else result.stderr
                if op == "&>":
                    result = Result(result.exit_code, "", "")
                elif op == "2>":
                    result = Result(result.exit_code, result.stdout, "")
                else:
                    result = Result(result.exit_code, "", result.stderr)
                del text
                continue
            path = self.path(target)
            try:
                if op in (">", ">>"):
                    self.fs.write(path, result.stdout, append=op == ">>")
                    result = Result(result.exit_code, "", result.stderr)
                elif op == "2>":
                    self.fs.write(path, result.stderr)
                    result = Result(result.exit_code, result.stdout, "")
                elif op == "&>":
                    self.fs.write(path, result.stdout + result.stderr)
                    result = Result(result.exit_code, "", "")
            except FileError as exc:
                return fail(f"bash: {target}: {exc.reason}")
        return result

    # ---- node shells ------------------------------------------------------------------

    def _node_cwd(self) -> str:
        return str(self.node_state.get(self.node or "", {}).get("cwd") or "/root")

    def enter_node(self, node: str) -> None:
        self.node = node
        self.node_state.setdefault(node, {"cwd": "/root", "env": {}})

    def _run_on_node(self, line: str) -> Result:
        node = self.node or ""
        state = self.node_state.setdefault(node, {"cwd": "/root", "env": {}})
        stripped = line.strip()
        if not stripped:
            return ok()
        words = stripped.split()
        if words[0] in self.aliases and words[0] != "k":
            words = self.aliases[words[0]].split() + words[1:]
            stripped = " ".join(words)
        if words[0] in ("exit", "logout"):
            self.node = None
            return ok(f"logout\nConnection to {node} closed.\n")
        if words[0] == "ssh":
            return fail("ssh: you are on a node; type exit to go back to the workstation first")
        if words[0] in EDITORS:
            return self._node_edit(node, state, words)
        if self.cluster is None:
            return fail("ssh: this workstation has no cluster")
        env: dict[str, str] = dict(state.get("env") or {})
        if words[0] == "export" or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$", stripped):
            return _node_export(state, words[1:] if words[0] == "export" else words)
        prefix = f"cd {_quote(state['cwd'])}"
        if env:
            prefix += "; export " + " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        if words[0] == "cd":
            return self._node_cd(node, state, prefix, words)
        code, out, err = self.cluster.node_exec(node, f"{prefix}; {_expand_known(stripped, env)}")
        return Result(code, out, err)

    def _node_edit(self, node: str, state: dict[str, Any], words: list[str]) -> Result:
        if len(words) != 2:
            return fail(f"{words[0]}: give one file to edit", 2)
        target = words[1]
        if target == "~" or target.startswith("~/"):
            target = "/root" + target[1:]
        return self._open_node_editor(node, normalize(target, state["cwd"]))

    def _node_cd(self, node: str, state: dict[str, Any], prefix: str, words: list[str]) -> Result:
        assert self.cluster is not None
        target = words[1] if len(words) > 1 else "/root"
        code, out, err = self.cluster.node_exec(node, f"{prefix}; cd {target} && pwd")
        if code == 0 and out.strip().startswith("/"):
            state["cwd"] = out.strip().splitlines()[-1]
            return ok()
        return Result(code or 1, "", err or f"bash: cd: {target}: No such file or directory\n")

    def _open_node_editor(self, node: str, path: str) -> Result:
        if self.cluster is None:
            return fail("vi: this workstation has no cluster")
        try:
            content = self.cluster.read_node_file(node, path)
            exists = True
        except ClusterUnavailable:
            content, exists = "", False
        self.edit = EditRequest(node, path, content, exists)
        return ok()

    # ---- the editor's save ---------------------------------------------------------------

    def save(self, node: str | None, path: str, content: str) -> str:
        """Save the editor's text to the file `vi` opened. Returns the saved path;
        raises FileError (workstation) or ClusterUnavailable (node)."""
        if node is None:
            target = normalize(path, "/")
            self.fs.write(target, content)
            return target
        if self.cluster is None or node not in self.cluster.nodes:
            raise ClusterUnavailable(f"no node {node}")
        target = normalize(path, "/")
        self.cluster.write_node_file(node, target, content)
        return target


def _node_export(state: dict[str, Any], assignments: list[str]) -> Result:
    """`export A=1` / `A=1` in a node shell: kept with the workstation and sent with
    every later command of that node."""
    env: dict[str, str] = dict(state.get("env") or {})
    for item in assignments:
        name, sep, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            return fail(f"bash: export: `{item}': not a valid identifier")
        if sep:
            env[name] = value.strip("'\"")
    if len(env) > MAX_VARIABLES:
        return fail("bash: too many variables")
    state["env"] = env
    return ok()


def _expand_known(line: str, env: dict[str, str]) -> str:
    """`$NAME` / `${NAME}` of the variables this node shell exported, outside single
    quotes (the node expands a whole line before it runs, so an `export` sent with the
    line would come too late). Other variables are left for the node."""
    out: list[str] = []
    quote = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "'":
            quote = not quote
        elif ch == "$" and not quote:
            match = re.match(
                r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", line[i:]
            )
            if match:
                name = match.group(1) or match.group(2)
                if name in env:
                    out.append(env[name])
                    i += len(match.group(0))
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


# ---------------------------------------------------------------------------- commands


def _split_options(args: list[str], known: str) -> tuple[set[str], list[str]]:
    flags: set[str] = set()
    rest: list[str] = []
    for a in args:
        if a.startswith("-") and len(a) > 1 and not a.startswith("--") and not a[1].isdigit():
            for ch in a[1:]:
                if ch not in known:
                    raise FileError(a, f"invalid option -- '{ch}'")
                flags.add(ch)
        else:
            rest.append(a)
    return flags, rest


@command("true", ":")
def _true(ws: Workstation, args: list[str], stdin: str) -> Result:
    return ok()


@command("false")
def _false(ws: Workstation, args: list[str], stdin: str) -> Result:
    return Result(1, "")


@command("echo")
def _echo(ws: Workstation, args: list[str], stdin: str) -> Result:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    elif args and args[0] == "-e":
        args = [a.encode().decode("unicode_escape", errors="replace") for a in args[1:]]
    return ok(" ".join(args) + ("\n" if newline else ""))


@command("pwd")
def _pwd(ws: Workstation, args: list[str], stdin: str) -> Result:
    return ok(ws.cwd + "\n")


@command("cd")
def _cd(ws: Workstation, args: list[str], stdin: str) -> Result:
    target = args[0] if args else HOME
    if target == "-":
        target = ws.env.get("OLDPWD", ws.cwd)
    path = ws.path(target)
    if not ws.fs.exists(path):
        return fail(f"bash: cd: {target}: No such file or directory")
    if not ws.fs.is_dir(path):
        return fail(f"bash: cd: {target}: Not a directory")
    ws.env["OLDPWD"] = ws.cwd
    ws.cwd = path
    return ok()


@command("export")
def _export(ws: Workstation, args: list[str], stdin: str) -> Result:
    if not args or args == ["-p"]:
        return ok("".join(f'declare -x {k}="{v}"\n' for k, v in sorted(ws.env.items())))
    values: dict[str, str] = {}
    for item in args:
        name, sep, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            return fail(f"bash: export: `{item}': not a valid identifier")
        values[name] = value if sep else ws.env.get(name, "")
    return ws._set_variables(values)


@command("unset")
def _unset(ws: Workstation, args: list[str], stdin: str) -> Result:
    for name in args:
        ws.env.pop(name, None)
    return ok()


@command("env", "printenv")
def _env(ws: Workstation, args: list[str], stdin: str) -> Result:
    if args:
        return ok("".join(f"{ws.env[a]}\n" for a in args if a in ws.env))
    return ok("".join(f"{k}={v}\n" for k, v in sorted(ws.env.items())))


@command("set")
def _set(ws: Workstation, args: list[str], stdin: str) -> Result:
    if args:
        return ok()  # `set -o vi` and friends: accepted, nothing to change
    return ok("".join(f"{k}={_quote(v)}\n" for k, v in sorted(ws.env.items())))


@command("alias")
def _alias(ws: Workstation, args: list[str], stdin: str) -> Result:
    if not args:
        return ok("".join(f"alias {k}={_quote(v)}\n" for k, v in sorted(ws.aliases.items())))
    out = []
    for item in args:
        name, sep, value = item.partition("=")
        if not sep:
            if name not in ws.aliases:
                return fail(f"bash: alias: {name}: not found")
            out.append(f"alias {name}={_quote(ws.aliases[name])}\n")
        elif not re.fullmatch(r"[A-Za-z0-9_.:-]+", name):
            return fail(f"bash: alias: `{name}': invalid alias name")
        elif len(ws.aliases) >= MAX_VARIABLES and name not in ws.aliases:
            return fail("bash: alias: too many aliases")
        else:
            ws.aliases[name] = value[:1024]
    return ok("".join(out))


@command("unalias")
def _unalias(ws: Workstation, args: list[str], stdin: str) -> Result:
    for name in args:
        ws.aliases.pop(name, None)
    return ok()


@command("history")
def _history(ws: Workstation, args: list[str], stdin: str) -> Result:
    return ok("".join(f"{i:5d}  {line}\n" for i, line in enumerate(ws.history, 1)))


@command("clear")
def _clear(ws: Workstation, args: list[str], stdin: str) -> Result:
    return ok("\x1b[H\x1b[2J")


@command("whoami")
def _whoami(ws: Workstation, args: list[str], stdin: str) -> Result:
    return ok(USER + "\n")


@command("hostname")
def _hostname(ws: Workstation, args: list[str], stdin: str) -> Result:
    return ok(HOSTNAME + "\n")


def _inputs(ws: Workstation, files: list[str], stdin: str) -> list[tuple[str, str]]:
    if not files:
        return [("-", stdin)]
    return [(f, stdin if f == "-" else ws.fs.read(ws.path(f))) for f in files]


@command("cat")
def _cat(ws: Workstation, args: list[str], stdin: str) -> Result:
    errors: list[str] = []
    found = _inputs_lenient(ws, [a for a in args if a != "-n"], stdin, errors)
    return Result(1 if errors else 0, cap("".join(text for _, text in found)), "".join(errors))


def _inputs_lenient(
    ws: Workstation, files: list[str], stdin: str, errors: list[str]
) -> list[tuple[str, str]]:
    if not files:
        return [("-", stdin)]
    found = []
    for f in files:
        try:
            found.append((f, stdin if f == "-" else ws.fs.read(ws.path(f))))
        except FileError as exc:
            errors.append(f"cat: {f}: {exc.reason}\n")
    return found


@command("ls")
def _ls(ws: Workstation, args: list[str], stdin: str) -> Result:
    flags, paths = _split_options(args, "laAh1tR")
    out, errors = [], []
    targets = paths or ["."]
    for target in targets:
        path = ws.path(target)
        if ws.fs.is_file(path):
            out.append(_ls_line(ws, path, target, "l" in flags))
            continue
        if not ws.fs.is_dir(path):
            errors.append(f"ls: cannot access '{target}': No such file or directory\n")
            continue
        names = ws.fs.children(path)
        if "a" in flags:
            names = [".", "..", *names]
        if len(targets) > 1:
            out.append(f"{target}:\n")
        if "l" in flags:
            out.append(f"total {len(names)}\n")
            out.extend(_ls_line(ws, posixpath.join(path, n), n, True) for n in names)
        elif names:
            out.append("  ".join(names) + "\n")
    return Result(2 if errors else 0, "".join(out), "".join(errors))


def _ls_line(ws: Workstation, path: str, name: str, long: bool) -> str:
    if not long:
        return name + "\n"
    if ws.fs.is_dir(path) or name in (".", ".."):
        return f"drwxr-xr-x 2 {USER} {USER} {4096:>6} {name}\n"
    size = len(ws.fs.files.get(path, "").encode())
    return f"-rw-r--r-- 1 {USER} {USER} {size:>6} {name}\n"


@command("mkdir")
def _mkdir(ws: Workstation, args: list[str], stdin: str) -> Result:
    flags, paths = _split_options(args, "pv")
    if not paths:
        return fail("mkdir: missing operand")
    for p in paths:
        ws.fs.mkdir(ws.path(p), parents="p" in flags)
    return ok()


@command("touch")
def _touch(ws: Workstation, args: list[str], stdin: str) -> Result:
    for p in args:
        path = ws.path(p)
        if not ws.fs.exists(path):
            ws.fs.write(path, "")
    return ok()


@command("rm")
def _rm(ws: Workstation, args: list[str], stdin: str) -> Result:
    flags, paths = _split_options(args, "rfRiv")
    errors = []
    for p in paths:
        try:
            ws.fs.remove(ws.path(p), recursive=bool(flags & {"r", "R"}))
        except FileError as exc:
            if not ("f" in flags and exc.reason.startswith("No such")):
                errors.append(f"rm: cannot remove '{p}': {exc.reason}\n")
    return Result(1 if errors else 0, "", "".join(errors))


def _copy(ws: Workstation, args: list[str], move: bool) -> Result:
    name = "mv" if move else "cp"
    flags, paths = _split_options(args, "rRfiv")
    if len(paths) < 2:
        return fail(f"{name}: missing file operand")
    *sources, target = paths
    target_path = ws.path(target)
    for source in sources:
        source_path = ws.path(source)
        if ws.fs.is_dir(source_path) and not move and not flags & {"r", "R"}:
            return fail(f"cp: -r not specified; omitting directory '{source}'")
        destination = target_path
        if ws.fs.is_dir(target_path):
            destination = posixpath.join(target_path, posixpath.basename(source_path))
        elif len(sources) > 1:
            return fail(f"{name}: target '{target}' is not a directory")
        ws.fs.copy_tree(source_path, destination, move=move)
    return ok()


@command("cp")
def _cp(ws: Workstation, args: list[str], stdin: str) -> Result:
    return _copy(ws, args, move=False)


@command("mv")
def _mv(ws: Workstation, args: list[str], stdin: str) -> Result:
    return _copy(ws, args, move=True)


def _count(args: list[str], default: int = 10) -> tuple[int, list[str], bool]:
    count, rest, from_start = default, [], False
    i = 0
    while i < len(args):
        a = args[i]
        value = None
        if a == "-n" and i + 1 < len(args):
            value = args[i + 1]
            i += 1
        elif a.startswith("-n"):
            value = a[2:]
        elif re.fullmatch(r"-\d+", a):
            value = a[1:]
        else:
            rest.append(a)
        if value is not None:
            from_start = value.startswith("+")
            if not value.lstrip("+-").isdigit():
                raise FileError(value, "invalid number of lines")
            count = int(value.lstrip("+-"))
        i += 1
    return count, rest, from_start


@command("head")
def _head(ws: Workstation, args: list[str], stdin: str) -> Result:
    count, files, _ = _count(args)
    out = []
    for _name, text in _inputs(ws, files, stdin):
        out.extend(text.splitlines(keepends=True)[:count])
    return ok("".join(out))


@command("tail")
def _tail(ws: Workstation, args: list[str], stdin: str) -> Result:
    count, files, from_start = _count([a for a in args if a not in ("-f", "-F")])
    out = []
    for _name, text in _inputs(ws, files, stdin):
        lines = text.splitlines(keepends=True)
        out.extend(lines[count - 1 :] if from_start else lines[-count:] if count else [])
    return ok("".join(out))


@command("wc")
def _wc(ws: Workstation, args: list[str], stdin: str) -> Result:
    flags, files = _split_options(args, "lwc")
    out = []
    for name, text in _inputs(ws, files, stdin):
        counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
        shown = [str(counts[f]) for f in "lwc" if not flags or f in flags]
        out.append(" ".join(shown) + ("" if name == "-" else f" {name}") + "\n")
    return ok("".join(out))


@command("sort")
def _sort(ws: Workstation, args: list[str], stdin: str) -> Result:
    flags, files = _split_options(args, "rnu")
    lines = [line for _n, text in _inputs(ws, files, stdin) for line in text.splitlines()]
    if "u" in flags:
        lines = list(dict.fromkeys(lines))
    if "n" in flags:
        lines.sort(key=_number)
    else:
        lines.sort()
    if "r" in flags:
        lines.reverse()
    return ok("".join(line + "\n" for line in lines))


def _number(line: str) -> float:
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)", line)
    return float(match.group(1)) if match else 0.0


def _grep_options(args: list[str]) -> tuple[set[str], str | None, list[str]]:
    flags: set[str] = set()
    rest: list[str] = []
    pattern: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-e" and i + 1 < len(args):
            pattern = args[i + 1]
            i += 1
        elif a.startswith("-") and len(a) > 1:
            bad = [ch for ch in a[1:] if ch not in "ivncEHlwo"]
            if bad:
                raise FileError(a, f"invalid option -- '{bad[0]}'")
            flags.update(a[1:])
        else:
            rest.append(a)
        i += 1
    return flags, pattern, rest


def _grep_text(
    regex: re.Pattern[str], flags: set[str], name: str, text: str, many: bool
) -> tuple[int, list[str]]:
    """Matching lines of one input as grep prints them, and how many matched."""
    out: list[str] = []
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        if bool(regex.search(line)) == ("v" in flags):
            continue
        count += 1
        if "c" in flags or "l" in flags:
            continue
        shown = "\n".join(m.group(0) for m in regex.finditer(line)) if "o" in flags else line
        prefix = f"{name}:" if many or "H" in flags else ""
        if "n" in flags:
            prefix += f"{number}:"
        out.append(prefix + shown + "\n")
    if "c" in flags:
        out.append((f"{name}:" if many else "") + f"{count}\n")
    elif "l" in flags and count:
        out.append(name + "\n")
    return count, out


@command("grep")
def _grep(ws: Workstation, args: list[str], stdin: str) -> Result:
    try:
        flags, pattern, rest = _grep_options(args)
    except FileError as exc:
        return fail(f"grep: {exc.reason}", 2)
    if pattern is None:
        if not rest:
            return fail("Usage: grep [OPTION]... PATTERNS [FILE]...", 2)
        pattern = rest.pop(0)
    expr = pattern if "E" in flags else _basic_regex(pattern)
    if "w" in flags:
        expr = rf"\b(?:{expr})\b"
    try:
        regex = re.compile(expr, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        return fail("grep: invalid regular expression", 2)
    errors: list[str] = []
    sources = []
    for f in rest or ["-"]:
        try:
            sources.append((f, stdin if f == "-" else ws.fs.read(ws.path(f))))
        except FileError as exc:
            errors.append(f"grep: {f}: {exc.reason}\n")
    out: list[str] = []
    matched = 0
    for name, text in sources:
        count, lines = _grep_text(regex, flags, name, text, len(sources) > 1)
        matched += count
        out.extend(lines)
    code = 2 if errors and not matched else (0 if matched else 1)
    return Result(code, cap("".join(out)), "".join(errors))


def _basic_regex(pattern: str) -> str:
    """A POSIX basic regular expression in Python syntax (`\\|`, `\\(`, `\\+`)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "|()+?{}" else "\\" + nxt)
            i += 2
            continue
        out.append("\\" + ch if ch in "|()+?{}" else ch)
        i += 1
    return "".join(out)


@command("vi", "vim", "nano", "view")
def _editor(ws: Workstation, args: list[str], stdin: str) -> Result:
    files = [a for a in args if not a.startswith("-") and not a.startswith("+")]
    if len(files) != 1:
        return fail("vi: give one file to edit, e.g. vi pod.yaml", 2)
    path = ws.path(files[0])
    if ws.fs.is_dir(path):
        return fail(f'vi: "{files[0]}" is a directory')
    if not ws.fs.is_dir(posixpath.dirname(path)):
        return fail(f'vi: "{files[0]}": the folder does not exist')
    exists = ws.fs.is_file(path)
    ws.edit = EditRequest(None, path, ws.fs.files.get(path, ""), exists)
    return ok()


@command("ssh")
def _ssh(ws: Workstation, args: list[str], stdin: str) -> Result:
    words = list(args)
    host = None
    while words:
        w = words.pop(0)
        if w in ("-o", "-p", "-i", "-l", "-F", "-J"):
            if w in ("-i", "-F", "-J"):
                return fail(f"ssh: option {w} is not available in this terminal", 255)
            if words:
                words.pop(0)
            continue
        if w.startswith("-"):
            continue
        host = w
        break
    if host is None:
        return fail("usage: ssh [user@]NODE [command]", 255)
    user, _, name = host.rpartition("@")
    nodes = ws.cluster.nodes if ws.cluster else []
    if name not in nodes:
        known = ", ".join(nodes) or "none"
        return fail(
            f"ssh: Could not resolve hostname {name}: Name or service not known "
            f"(the cluster's nodes: {known})",
            255,
        )
    if user and user != "root":
        return fail(f"{user}@{name}: Permission denied (publickey); log in as root", 255)
    if words:
        assert ws.cluster is not None
        code, out, err = ws.cluster.node_exec(name, " ".join(words))
        return Result(code, out, err)
    ws.enter_node(name)
    return ok()


@command("kubectl")
def _kubectl(ws: Workstation, args: list[str], stdin: str) -> Result:
    if ws.cluster is None:
        return fail("The connection to the server was refused: this workstation has no cluster")
    try:
        argv, data = kubectl_args.prepare(args, lambda p: ws.fs.read(ws.path(p)), stdin)
    except kubectl_args.Refused as exc:
        return fail(f"error: {exc}")
    except FileError as exc:
        return fail(f'error: the path "{exc.path}" does not exist')
    if not argv:
        return ok(KUBECTL_USAGE)
    result, namespace = ws.cluster.kubectl(argv, data, ws.namespace)
    ws.namespace = namespace
    return Result(result.exit_code, result.stdout, result.stderr)


KUBECTL_USAGE = """\
kubectl controls the Kubernetes cluster manager.

 Find more information at: https://kubernetes.io/docs/reference/kubectl/

Usage:
  kubectl [flags] [options]

Use "kubectl <command> --help" for more information about a given command.
"""


@command("help")
def _help(ws: Workstation, args: list[str], stdin: str) -> Result:
    names = sorted(n for n in COMMANDS if n not in (":",))
    return ok(
        "This is your workstation. Commands: " + " ".join(names) + "\n"
        "kubectl (alias k) talks to your cluster (kubectl config use-context NAME "
        "switches between an exam's clusters); ssh NODE opens a node's shell "
        "(exit to come back); vi FILE opens the editor.\n"
    )
