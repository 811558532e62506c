"""The sockets a Python script serves, read from its source without running it.

Containers here do not interpret programs. A container whose command runs a Python
script (`python -u /opt/server.py 1234 1235`, the script typically mounted from a
ConfigMap) listens where the script's source says, found with the standard `ast`
module (the source is parsed, never executed):

- a server bound with `socketserver.TCPServer((host, PORT), ...)` (or its Threading/
  Forking variants, `http.server.HTTPServer`), `sock.bind((host, PORT))` or
  `socket.create_server((host, PORT))`;
- PORT a number listens there; any other expression (`int(sys.argv[1])`, a parameter
  filled from the arguments) is taken as the script's numeric arguments;
- what the port speaks: `echo` when the script sends back what it reads (a name
  filled from `recv`/`read`/`readline`, directly or through other names, passed to
  `send`/`sendall`/`write`), else nothing this simulator answers (a TCP probe
  connects; a port-forwarded connection is reset).

A script that cannot be read or parsed listens nowhere (upstream it would exit).
"""

from __future__ import annotations

import ast
import posixpath
import re
from functools import lru_cache

from app.sim.nodes.vfs import VirtualFS

# `python`, `python3`, `python3.13`, `/usr/local/bin/python3`.
_INTERPRETER = re.compile(r"^python(\d+(\.\d+)?)?$")
# Interpreter options that take a value (`-X dev`, `-W ignore`).
_VALUED_OPTIONS = frozenset({"-X", "-W", "-Q"})
# Servers whose first argument is the (host, port) address.
_SERVER_CLASSES = frozenset(
    {
        "TCPServer",
        "ThreadingTCPServer",
        "ForkingTCPServer",
        "HTTPServer",
        "ThreadingHTTPServer",
        "create_server",
    }
)
_SOURCES = frozenset({"recv", "read", "readline", "recvfrom"})
_SINKS = frozenset({"send", "sendall", "write", "sendto"})
# Larger scripts are not read (a ConfigMap holds at most about 1 MiB).
MAX_SOURCE = 256 * 1024


def script_of(argv: list[str]) -> tuple[str, list[str]] | None:
    """(script path, its arguments) when argv runs a Python script, else None."""
    if not argv or not _INTERPRETER.match(posixpath.basename(argv[0])):
        return None
    index = 1
    while index < len(argv) and argv[index].startswith("-"):
        option = argv[index]
        if option in ("-m", "-c"):
            return None  # a module or inline code: not read here
        index += 2 if option in _VALUED_OPTIONS else 1
    if index >= len(argv):
        return None
    return argv[index], argv[index + 1 :]


def python_listening(argv: list[str], fs: VirtualFS) -> dict[int, tuple[str, str]]:
    """port -> (protocol, "") where the script argv runs listens (see the module)."""
    found = script_of(argv)
    if found is None:
        return {}
    path, args = found
    if not path.startswith("/"):
        path = "/" + path
    if not fs.is_file(path):
        return {}
    source = fs.read(path)
    if len(source) > MAX_SOURCE:
        return {}
    return dict(_served(source, tuple(args)))


@lru_cache(maxsize=64)
def _served(source: str, args: tuple[str, ...]) -> tuple[tuple[int, tuple[str, str]], ...]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return ()
    ports: set[int] = set()
    numeric = {int(a) for a in args if a.isdigit() and 0 < int(a) < 65536}
    for address in _bound_addresses(tree):
        port = address.elts[1] if len(address.elts) == 2 else None
        if isinstance(port, ast.Constant) and isinstance(port.value, int):
            ports.add(port.value)
        elif port is not None:
            ports |= numeric
    protocol = "echo" if _echoes(tree) else ""
    return tuple((port, (protocol, "")) for port in sorted(ports) if 0 < port < 65536)


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _bound_addresses(tree: ast.AST) -> list[ast.Tuple]:
    """The (host, port) tuples the script binds or builds servers on."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = _called_name(node)
        if name in _SERVER_CLASSES or name == "bind":
            first = node.args[0]
            if isinstance(first, ast.Tuple):
                out.append(first)
    return out


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _reads(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and _called_name(n) in _SOURCES for n in ast.walk(node))


def _targets(node: ast.Assign | ast.AugAssign | ast.AnnAssign) -> set[str]:
    if isinstance(node, ast.Assign):
        return set().union(*(_names_in(t) for t in node.targets))
    return _names_in(node.target)


def _echoes(tree: ast.AST) -> bool:
    """Whether data read from a connection reaches a send: names filled from a read,
    directly or through assignments (`echo += data`), passed to send/write."""
    assignments = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and n.value is not None
    ]
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in assignments:
            value = node.value
            assert value is not None
            if _reads(value) or _names_in(value) & tainted:
                new = _targets(node) - tainted
                if new:
                    tainted |= new
                    changed = True
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and _called_name(call) in _SINKS:
            for arg in call.args:
                if _reads(arg) or _names_in(arg) & tainted:
                    return True
    return False
