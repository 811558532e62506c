"""The production front end routes requests that wait to the gevent server.

Real nginx with docker/nginx.conf in front of two real `certprep serve` processes on one
instance: `web` (gthread, 1 worker x 2 threads here) and `web-stream` (gevent), as
docker/compose.yaml runs them. Which server answered a request is read from each
server's own JSON request log. The second test shows why: learners long-polling their
grades do not hold `web`'s threads, so an unrelated request is answered while they
wait (an ordering, not a speed target; bench/web_wait_bench.py prints latencies).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from tests.fixtures.proxy import (
    free_port,
    prepare_waiting_grade,
    start_nginx,
    start_serve,
    stop,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

# Seconds each long-poll waits on a grade that no worker will finish.
LONG_POLL = 6
LONG_POLLS = 4  # twice web's two threads


@dataclass
class Front:
    base: str
    token: str
    session_id: int
    grade_id: int
    web_log: Path
    stream_log: Path


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    work = tmp_path_factory.mktemp("front")
    instance = work / "instance"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "CERTPREP_INSTANCE_DIR": str(instance),
        "CERTPREP_LOG_FORMAT": "json",
        "CERTPREP_LOG_LEVEL": "INFO",
        "CERTPREP_PROXY_HOPS": "1",
    }
    subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "db", "upgrade"],
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        cwd=str(PROJECT_ROOT),
        check=True,
        capture_output=True,
        timeout=120,
    )
    token, session_id, grade_id = prepare_waiting_grade(instance)
    web_port, stream_port = free_port(), free_port()
    web_log, stream_log = work / "web.log", work / "web-stream.log"
    processes = [
        start_serve(env, web_port, web_log, "--workers", "1", "--threads", "2"),
        start_serve(env, stream_port, stream_log, "--workers", "1", "--worker-class", "gevent"),
    ]
    try:
        nginx, port = start_nginx(work / "nginx", web_port, stream_port)
        processes.append(nginx)
        yield Front(f"http://127.0.0.1:{port}", token, session_id, grade_id, web_log, stream_log)
    finally:
        for process in processes:
            stop(process)


def _get(front: Front, path: str, **headers: str) -> int:
    request = urllib.request.Request(
        front.base + path, headers={"Authorization": f"Bearer {front.token}", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _first_event(front: Front, path: str) -> str:
    """The first server-sent event of a stream (the stream is then closed)."""
    request = urllib.request.Request(
        front.base + path, headers={"Authorization": f"Bearer {front.token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        lines = []
        while line := answer.readline().decode():
            if line == "\n":
                break
            lines.append(line)
    return "".join(lines)


def _served_paths(log: Path) -> list[str]:
    paths = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "request":
            paths.append(f"{record['path']} {record['status']}")
    return paths


def _wait_logged(log: Path, entry: str) -> None:
    end = time.monotonic() + 10
    while entry not in _served_paths(log):
        assert time.monotonic() < end, f"{entry!r} not in {log.name}: {_served_paths(log)}"
        time.sleep(0.05)


def test_each_request_reaches_the_server_of_its_kind(front: Front) -> None:
    grade = f"/api/v1/lab-sessions/{front.session_id}/grades/{front.grade_id}"
    terminal = f"/api/v1/lab-sessions/{front.session_id + 1000}/terminal"
    assert _get(front, "/api/v1/me") == 200
    assert _get(front, grade) == 200
    assert _get(front, grade + "?wait=0") == 200
    assert _get(front, grade + "?wait=1") == 200
    assert _first_event(front, grade + "/events").startswith("event: status")
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    upgrade["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    # A session that is not the learner's: refused by the terminal's own route.
    assert _get(front, terminal, **upgrade) == 404

    _wait_logged(front.web_log, "/api/v1/me 200")
    _wait_logged(front.stream_log, f"{grade}/events 200")
    _wait_logged(front.stream_log, f"{terminal} 404")
    web, stream = _served_paths(front.web_log), _served_paths(front.stream_log)
    assert web.count(f"{grade} 200") == 2  # plain read and ?wait=0
    assert stream.count(f"{grade} 200") == 1  # the long-poll
    assert "/api/v1/me 200" not in stream
    assert not any(entry.startswith((f"{grade}/events", terminal)) for entry in web)


def test_long_polls_do_not_hold_the_web_threads(front: Front) -> None:
    grade = f"/api/v1/lab-sessions/{front.session_id}/grades/{front.grade_id}"
    finished: list[str] = []
    lock = threading.Lock()

    def long_poll() -> None:
        status = _get(front, f"{grade}?wait={LONG_POLL}")
        with lock:
            finished.append(f"long-poll {status}")

    polls = [threading.Thread(target=long_poll) for _ in range(LONG_POLLS)]
    for thread in polls:
        thread.start()
    # Let the long-polls reach a server (each waits LONG_POLL seconds there).
    time.sleep(1.0)
    status = _get(front, "/api/v1/me")
    with lock:
        finished.append(f"me {status}")
    for thread in polls:
        thread.join(timeout=LONG_POLL + 30)
    # /me came back while every long-poll was still waiting on its grade.
    assert finished == ["me 200"] + ["long-poll 200"] * LONG_POLLS
