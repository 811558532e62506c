"""`certprep up` end to end: a subprocess on free ports in a temporary instance folder."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from app.cli.serve import ADMIN_EMAIL, certprep_argv

pytestmark = pytest.mark.slow

# Generous: migrations, content import and four roles starting on a busy 2-core machine.
START_TIMEOUT = 240.0
STOP_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_members(pgid: int) -> list[str]:
    """Live (non-zombie) processes in process group `pgid`, as "pid command" strings."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, _ppid, pgrp = text[text.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(f"{stat.parent.name} {name}")
    return members


def _reader(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


@pytest.fixture
def up_process(tmp_path):
    port, sim_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTPREP_")}
    env["CERTPREP_LOG_FORMAT"] = "json"
    argv = [
        *certprep_argv(),
        "up",
        "--port",
        str(port),
        "--sim-port",
        str(sim_port),
        "--instance-dir",
        str(tmp_path / "instance"),
    ]
    process = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so we can find every child
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        yield process, port, lines, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _read_until(lines: queue.Queue, output: list[str], pattern: str) -> re.Match:
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            pytest.fail("certprep up exited early:\n" + "".join(output[-60:]))
        output.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    pytest.fail(f"no line matching {pattern!r}:\n" + "".join(output[-60:]))


@pytest.mark.skipif(sys.platform != "linux", reason="reads process groups from /proc")
def test_up_runs_everything_and_stops_every_child_on_sigint(up_process, tmp_path):
    process, port, lines, output = up_process
    token = _read_until(lines, output, r"admin token\s+(\S+)").group(1)
    base = f"http://127.0.0.1:{port}"

    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    me = requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == ADMIN_EMAIL and me.json()["role"] == "admin"
    assert (tmp_path / "instance" / "certprep.sqlite3").is_file()
    started = [line for line in output if line.startswith("started ")]
    assert {line.split()[1] for line in started} >= {"web", "worker", "beat"}
    assert len(_group_members(process.pid)) > len(started)  # up, its children, theirs

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=STOP_TIMEOUT) == 0

    end = time.monotonic() + STOP_TIMEOUT
    while _group_members(process.pid) and time.monotonic() < end:
        time.sleep(0.2)
    assert _group_members(process.pid) == []
