"""Slow clients (slowloris) do not starve the web server of `certprep up` (`certprep
serve` with the gunicorn arguments `up` gives it): with more stalled connections than the
thread model has request threads, /healthz still answers. A real gunicorn server on a
free port; the slow clients are raw sockets that send a request head one line at a time
and never finish it. The wait bound detects starvation (a probe that never answers); it
is not a speed target (bench/slowloris_bench.py prints the latency figures)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.serve import UP_SERVE_ARGS
from app.config import PROJECT_ROOT

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SLOW_CONNECTIONS = 24  # more than 2 workers x 4 threads of the gthread model
# A probe that gets no answer in this long counts as starved.
STARVED_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthz(port: int, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
        return reply


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "CERTPREP_INSTANCE_DIR": str(tmp_path / "instance"),
        "CERTPREP_LOG_LEVEL": "WARNING",
    }
    # `serve` refuses an instance without a database: create it as an operator would.
    subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "db", "upgrade"],
        env=env,
        cwd=str(PROJECT_ROOT),
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "serve",
            "--port",
            str(port),
            *UP_SERVE_ARGS,
        ],
        env=env,
        cwd=str(PROJECT_ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 60
        while True:
            try:
                if _healthz(port, timeout=2).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert server.poll() is None, "certprep serve exited"
            assert time.monotonic() < end, "certprep serve did not start"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_healthz_answers_while_slow_clients_hold_connections(served):
    slow = []
    try:
        for _ in range(SLOW_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", served), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
            slow.append(sock)
        for round_number in range(3):
            time.sleep(1.0)
            for sock in slow:
                sock.sendall(f"X-Slow-{round_number}: 1\r\n".encode())
            reply = _healthz(served, timeout=STARVED_SECONDS)
            assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
            assert b'"status":"ok"' in reply.replace(b" ", b"")
    finally:
        for sock in slow:
            sock.close()
