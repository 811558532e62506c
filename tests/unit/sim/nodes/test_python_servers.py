"""Where a container running a Python script listens, read from the script's source
(parsed with `ast`, never executed)."""

from __future__ import annotations

import pytest

from app.sim.nodes.containers.python_servers import python_listening, script_of
from app.sim.nodes.vfs import VirtualFS

THREADED_ECHO = """
import select, socketserver, sys

class Port:
    def __init__(self, port):
        self.server = socketserver.ThreadingTCPServer(('0.0.0.0', port), self.handler)

    def handler(self, request, address, server):
        pending = b''
        while True:
            data = request.recv(1024)
            if not data:
                break
            pending += data
            pending = pending[request.send(pending):]

for port in sys.argv[1:]:
    Port(int(port))
"""
FIXED_GREETER = """
import socket
s = socket.socket()
s.bind(("", 9000))
s.listen()
conn, _ = s.accept()
conn.sendall(b"hello\\n")
"""
HTTP_SERVER = """
from http.server import HTTPServer, BaseHTTPRequestHandler
HTTPServer(("", 8080), BaseHTTPRequestHandler).serve_forever()
"""
STREAM_HANDLER = """
import socketserver

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(line.upper())

socketserver.TCPServer(("", 7070), Upper).serve_forever()
"""


def fs_with(source: str) -> VirtualFS:
    fs = VirtualFS()
    fs.write("/opt/app.py", source)
    return fs


def test_ports_from_arguments_and_an_echo_handler() -> None:
    argv = ["python", "-u", "/opt/app.py", "1234", "1235"]
    assert python_listening(argv, fs_with(THREADED_ECHO)) == {
        1234: ("echo", ""),
        1235: ("echo", ""),
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (FIXED_GREETER, {9000: ("", "")}),  # sends, but not what it read
        (HTTP_SERVER, {8080: ("", "")}),
        (STREAM_HANDLER, {7070: ("echo", "")}),  # what it writes comes from what it read
        ("def broken(:\n", {}),
        ("print('no sockets')\n", {}),
    ],
)
def test_literal_ports_and_protocols(source: str, expected: dict[int, tuple[str, str]]) -> None:
    assert python_listening(["python3", "/opt/app.py"], fs_with(source)) == expected


def test_what_is_not_a_readable_script_listens_nowhere() -> None:
    fs = fs_with(FIXED_GREETER)
    assert python_listening(["python3", "/opt/missing.py"], fs) == {}
    assert python_listening(["python3", "-m", "http.server"], fs) == {}
    assert python_listening(["sh", "-c", "python3 /opt/app.py"], fs) == {}


def test_interpreter_options_before_the_script() -> None:
    assert script_of(["/usr/local/bin/python3.13", "-X", "dev", "-B", "s.py", "a"]) == (
        "s.py",
        ["a"],
    )
    assert script_of(["python", "-c", "print(1)"]) is None
    assert script_of(["pythonista", "s.py"]) is None
    assert script_of(["python"]) is None
