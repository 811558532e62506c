"""The node shell's coreutils: echo, cd, env, cat, ls, mkdir, touch, rm, cp, mv, head,
tail, wc, sort, grep, sed, find, which, openssl, and the kubectl and editor stubs.
Each is registered with `shell.command` when this module is imported.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from datetime import UTC, datetime

from app.sim.nodes.shell import CommandResult, NodeShell, UsageError, command, fail, ok, split_flags
from app.sim.nodes.vfs import FsError

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
    if "-checkend" in args:
        # openssl x509 -checkend N: exit 1 when the certificate expires within N seconds.
        position = args.index("-checkend") + 1
        seconds = args[position] if position < len(args) else ""
        if not seconds.isdigit():
            return fail(f'x509: Invalid number "{seconds}" for option -checkend')
        end = datetime.fromisoformat(cert["notAfter"].replace("Z", "+00:00"))
        if (end - sh.now()).total_seconds() <= int(seconds):
            return CommandResult(
                1, "".join(x + "\n" for x in out) + "Certificate will expire\n", ""
            )
        out.append("Certificate will not expire")
    if "-text" in args or (not out and "-noout" not in args):
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
