"""`nc -l` in a container's command: the port (busybox `-p`, bundled `-lp`, OpenBSD's
operand) and what is piped in (echo, echo -e, printf)."""

from __future__ import annotations

import pytest

from app.sim.nodes.containers.nc_listen import http_answer, nc_listening
from app.sim.nodes.runtime import program_for

LOOP = (
    r'while true; do echo -e "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi" '
    r"| nc -l -p 8080; done"
)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nc", "-l", "-p", "9000"], {9000: ("nc", "")}),
        (["nc", "-lk", "-p", "9000"], {9000: ("nc", "")}),
        (["nc", "-lp9001"], {9001: ("nc", "")}),
        (["nc", "-l", "7000"], {7000: ("nc", "")}),
        (["/bin/nc", "-l", "-p", "7002"], {7002: ("nc", "")}),
        (["sh", "-c", "echo pong | nc -lk -p 7000"], {7000: ("nc", "pong\n")}),
        (["sh", "-c", "echo -n pong | nc -l -p 7000"], {7000: ("nc", "pong")}),
        (["sh", "-c", r"printf 'a\tb\n' | nc -l -p 7000"], {7000: ("nc", "a\tb\n")}),
        (["nc", "web", "80"], {}),  # a client
        (["nc", "-zv", "web", "80"], {}),
        (["nc", "-l", "-p", "99999"], {}),
        (["sleep", "3600"], {}),
    ],
)
def test_listen_ports_and_replies(argv: list[str], expected: dict) -> None:
    assert nc_listening(argv) == expected


def test_an_http_reply_in_a_loop() -> None:
    served = nc_listening(["sh", "-c", LOOP])
    assert served == {
        8080: ("nc", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi\n"),
    }
    assert http_answer(served[8080][1]) == (200, "hi\n")
    assert http_answer("pong\n") is None
    # The loop keeps the container running and logs nothing (the echo feeds the pipe).
    program = program_for({"image": "busybox", "command": ["sh", "-c", LOOP]})
    assert (program.exit_after, program.logs, program.repeat) == (None, [], None)
    # A pipeline into anything else is left as it was.
    other = program_for({"image": "busybox", "command": ["sh", "-c", "echo hi | tr a-z A-Z"]})
    assert other.exit_after == 0.0
