"""`certprep up` end to end: a subprocess on free ports in a temporary instance folder."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from app.cli.serve import ADMIN_EMAIL, certprep_argv
from tests.fixtures.sim_process import free_port
from tests.fixtures.worker import wait_until

pytestmark = pytest.mark.slow

# Generous: migrations, content import and four roles starting on a busy 2-core machine.
START_TIMEOUT = 240.0
STOP_TIMEOUT = 90.0

# The token line of `up`'s banner (the simulator's own "admin token: ..." line goes to
# its log file, not to the terminal).
UP_TOKEN_LINE = r"^  admin token  (\S+)$"
# `up` prints one short line per start-up step before its banner, no child output.
MAX_LINES_BEFORE_BANNER = 12


def _free_port() -> int:
    """A free web port whose next ports are free too: `up` puts the simulator on the
    next one and the simulator's shards (one per core) on the ones after it."""
    return free_port(1 + (os.cpu_count() or 1))


def _group_members(pgid: int) -> list[str]:
    """Live (non-zombie) processes in process group `pgid`, as "pid command" strings
    (read from Linux's /proc, the platform certprep runs on)."""
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


def _ping_through_the_embedded_worker(instance: Path) -> None:
    from app import create_app
    from app.extensions import db
    from app.services.jobs import enqueue
    from tests.fixtures.worker import wait_for_job

    application = create_app(
        {
            "instance_dir": str(instance),
            "database_url": f"sqlite:///{instance / 'certprep.sqlite3'}",
            "broker_url": "filesystem://",
        }
    )
    with application.app_context():
        job = enqueue("certprep.maintenance.ping", "embedded")
        db.session.commit()
        done = wait_for_job(job.id)
        assert done.status.value == "done", done.last_error
        assert done.result["reply"] == "embedded"
        db.session.remove()
        db.engine.dispose()


def _start_a_lab_session(base: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    labs = requests.get(f"{base}/api/v1/labs", headers=headers, timeout=10).json()
    assert labs, "certprep up imported no lab"
    created = requests.post(
        f"{base}/api/v1/labs/{labs[0]['slug']}/sessions", headers=headers, json={}, timeout=30
    )
    assert created.status_code in (200, 201, 202), created.text
    url = f"{base}/api/v1/lab-sessions/{created.json()['id']}"

    def ready() -> bool:
        session = requests.get(url, headers=headers, timeout=10).json()
        assert session["status"] in ("provisioning", "ready"), session
        return session["status"] == "ready"

    wait_until(ready, "the lab session's cluster", timeout=START_TIMEOUT)


def _reader(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


@dataclass
class UpRun:
    process: subprocess.Popen
    port: int
    lines: queue.Queue
    output: list[str] = field(default_factory=list)


@pytest.fixture
def start_up(tmp_path) -> Iterator[Callable[..., UpRun]]:
    """Factory: run `certprep up` in its own process group on free ports (or `port`)."""
    runs: list[UpRun] = []

    def start(port: int | None = None, extra: tuple[str, ...] = ()) -> UpRun:
        port = port or _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTPREP_")}
        env["CERTPREP_LOG_FORMAT"] = "json"
        argv = [
            *certprep_argv(),
            "up",
            "--port",
            str(port),
            "--instance-dir",
            str(tmp_path / "instance"),
            "--ready-timeout",
            str(START_TIMEOUT - 30),
            *extra,
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
        run = UpRun(process, port, queue.Queue())
        threading.Thread(target=_reader, args=(process.stdout, run.lines), daemon=True).start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()


def _wait_for_empty_group(pgid: int) -> list[str]:
    end = time.monotonic() + STOP_TIMEOUT
    while _group_members(pgid) and time.monotonic() < end:
        time.sleep(0.2)
    return _group_members(pgid)


def _get_until_ok(url: str) -> requests.Response:
    """GET `url` until it answers 200 (within `START_TIMEOUT`); fails with the last answer."""
    end = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < end:
        try:
            response = requests.get(url, timeout=10)
        except requests.RequestException as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text}"
        time.sleep(0.5)
    pytest.fail(f"{url} never answered 200: {last}")


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


def _certprep(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """A `certprep` command run in `tmp_path` (where `up` runs), without CERTPREP_ vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTPREP_")}
    return subprocess.run(
        [*certprep_argv(), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _started_pid(output: list[str], role: str) -> int:
    return next(
        int(re.search(r"pid (\d+)", line).group(1))
        for line in output
        if line.startswith(f"started {role} ")
    )


def test_up_runs_everything_and_stops_every_child_on_sigint(start_up, tmp_path):
    run = start_up()
    process = run.process
    token = _read_until(run.lines, run.output, UP_TOKEN_LINE).group(1)
    base = f"http://127.0.0.1:{run.port}"

    # A short start-up: progress lines, then the banner with one admin token.
    before_banner = run.output[: run.output.index("certprep is up\n")]
    assert len([line for line in before_banner if line.strip()]) <= MAX_LINES_BEFORE_BANNER
    assert sum("admin token" in line for line in run.output) == 1
    logs = tmp_path / "instance" / "logs"
    for role in ("simulator", "migrate", "content", "web", "worker", "beat"):
        assert (logs / f"{role}.log").is_file(), role
    assert "simulator listening on" in (logs / "simulator.log").read_text()
    assert "admin token:" in (logs / "simulator.log").read_text()
    shown = _certprep(tmp_path, "logs", "simulator", "--no-follow", "-n", "50")
    assert shown.returncode == 0 and "simulator listening on" in shown.stdout

    assert _get_until_ok(f"{base}/healthz").json() == {"status": "ok"}
    # A probe can time out on a loaded machine; wait (generously) for a 200.
    ready = _get_until_ok(f"{base}/readyz")
    assert ready.json()["checks"]["simulator"]["detail"] == "all reachable"
    me = requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == ADMIN_EMAIL and me.json()["role"] == "admin"
    assert (tmp_path / "instance" / "certprep.sqlite3").is_file()
    # The simulator keeps its state (and the CA the other roles trust) in the instance.
    assert (tmp_path / "instance" / "sim" / "ca.crt").is_file()
    started = [line for line in run.output if line.startswith("started ")]
    assert {line.split()[1] for line in started} == {"simulator", "web", "worker", "beat"}
    assert len(_group_members(process.pid)) > len(started)  # up, its children, theirs

    # The worker child takes jobs from the embedded broker's files: enqueue from here.
    _ping_through_the_embedded_worker(tmp_path / "instance")
    # A lab session: web -> job -> worker -> simulator over HTTPS with the CA and admin
    # token `up` handed out.
    _start_a_lab_session(base, token)
    # `certprep sim create` in the same folder finds `up`'s simulator on its own.
    created = _certprep(tmp_path, "sim", "create", "--kubeconfig", str(tmp_path / "k.yaml"))
    assert created.returncode == 0, created.stderr
    assert re.search(r"cluster \S+ created with 3 nodes", created.stdout)

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=STOP_TIMEOUT) == 0
    assert _wait_for_empty_group(process.pid) == []


def test_up_refuses_a_port_in_use_before_starting_anything(start_up):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = start_up(port=taken.getsockname()[1])
        _read_until(run.lines, run.output, rf"port {run.port} \(web\) is in use")
        assert run.process.wait(timeout=STOP_TIMEOUT) == 1
    assert not any(line.startswith("started ") for line in run.output)


def test_up_restarts_a_crashed_role_and_gives_up_after_repeated_crashes(start_up, tmp_path):
    run = start_up(extra=("--restart-limit", "3", "--demo"))
    _read_until(run.lines, run.output, UP_TOKEN_LINE)
    # The demo history is written before the worker and beat exist: no expiry job can
    # close a back-dated demo attempt while it is being written.
    assert run.output.index("demo cohort ready\n") < run.output.index(
        next(line for line in run.output if line.startswith("started worker "))
    )

    # The worker is killed: `up` starts it again, and jobs run on the new one.
    worker_pid = _started_pid(run.output, "worker")
    os.kill(worker_pid, signal.SIGKILL)
    _read_until(run.lines, run.output, r"^worker exited \(exit -9\); restarting it in 1 s")
    restarted = int(_read_until(run.lines, run.output, r"^restarted worker \(pid (\d+)\)").group(1))
    assert restarted != worker_pid
    assert run.process.poll() is None
    _ping_through_the_embedded_worker(tmp_path / "instance")

    # The web server's master is killed: a new one binds the port again and answers.
    web_pid = _started_pid(run.output, "web")
    os.kill(web_pid, signal.SIGKILL)
    _read_until(run.lines, run.output, r"^web exited \(exit -9\); restarting it in 1 s")
    _read_until(run.lines, run.output, r"^restarted web \(pid (\d+)\)")
    assert _get_until_ok(f"http://127.0.0.1:{run.port}/healthz").json() == {"status": "ok"}

    # Beat crashes three times in a row: restarted with a growing back-off, then `up`
    # gives up and stops everything.
    beat_pid = _started_pid(run.output, "beat")
    for attempt, delay in ((1, 1), (2, 2)):
        os.kill(beat_pid, signal.SIGKILL)
        _read_until(run.lines, run.output, rf"^beat exited \(exit -9\); restarting it in {delay} s")
        beat_pid = int(
            _read_until(run.lines, run.output, r"^restarted beat \(pid (\d+)\)").group(1)
        )
        assert run.process.poll() is None, attempt
    os.kill(beat_pid, signal.SIGKILL)
    _read_until(run.lines, run.output, r"stopping: beat \(exit -9\) exited 3 time\(s\)")
    assert run.process.wait(timeout=STOP_TIMEOUT) == 1
    assert _wait_for_empty_group(run.process.pid) == []
