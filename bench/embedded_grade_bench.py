"""Grade latency of the embedded stack, as a user of `certprep up` sees it. Figures only.

    python bench/embedded_grade_bench.py [--grades 20] [--lab pending-taint-toleration]

Runs `certprep up` (web API, Celery worker on the filesystem broker, beat and the
simulator, each its own process, SQLite, INFO logging) in a scratch folder on free
ports, starts a session of `--lab` over HTTP, then grades it `--grades` times:
POST .../grades, then GET .../grades/<id>?wait=30 (the long-poll the web app and the CLI
use). Prints p50/p90/max of POST -> finished beside the Redis-and-PostgreSQL figure of
`bench/lab_bench.py` for comparison. Target: embedded grades under 300 ms (p50).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli.serve import certprep_argv  # noqa: E402

START_TIMEOUT = 240.0
TOKEN_LINE = re.compile(r"^  admin token  (\S+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_up(folder: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    """`certprep up` in its own process group; returns it with the admin token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTPREP_")}
    env["PYTHONPATH"] = str(ROOT)
    argv = [*certprep_argv(), "up", "--port", str(port), "--sim-port", str(free_port())]
    argv += ["--instance-dir", str(folder / "instance")]
    process = subprocess.Popen(
        argv,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    for line in process.stdout:
        match = TOKEN_LINE.match(line.rstrip("\n"))
        if match:
            return process, match.group(1)
        if time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("certprep up did not print its admin token")


def start_session(base: str, headers: dict[str, str], lab: str) -> str:
    created = requests.post(f"{base}/api/v1/labs/{lab}/sessions", headers=headers, timeout=60)
    if created.status_code >= 400:
        raise SystemExit(f"lab session refused: {created.text}")
    url = f"{base}/api/v1/lab-sessions/{created.json()['id']}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        status = requests.get(url, headers=headers, timeout=10).json()["status"]
        if status == "ready":
            return url
        if status == "failed":
            raise SystemExit("the lab session failed to start")
        time.sleep(0.1)
    raise SystemExit("the lab session was not ready in time")


def grade_once(url: str, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    pending = requests.post(f"{url}/grades", headers=headers, timeout=30)
    if pending.status_code != 202:
        raise SystemExit(f"grade request refused: {pending.text}")
    grade = pending.json()["id"]
    done = requests.get(f"{url}/grades/{grade}?wait=30", headers=headers, timeout=60).json()
    if done["status"] not in ("done", "failed"):
        raise SystemExit(f"grade {grade} not finished after 30 s: {done['status']}")
    return time.perf_counter() - began


def group_cpu_seconds(pgid: int, word: str) -> float:
    """CPU seconds (user + system) used so far by the group's processes whose command line
    holds `word` (Linux /proc; clock ticks of 1/100 s)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[2]) == pgid and word in cmdline.split():
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def idle_worker_cores(pgid: int, seconds: float = 10.0) -> float:
    before = group_cpu_seconds(pgid, "worker")
    time.sleep(seconds)
    return (group_cpu_seconds(pgid, "worker") - before) / seconds


def figures(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{label:<34} n={len(ordered):<3} p50={statistics.median(ordered) * 1000:7.1f} ms"
        f"  p90={p90 * 1000:7.1f} ms  max={ordered[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grades", type=int, default=20)
    parser.add_argument("--lab", default="pending-taint-toleration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certprep-embedded-") as scratch:
        port = free_port()
        process, token = start_up(Path(scratch), port)
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            url = start_session(base, headers, args.lab)
            grade_once(url, headers)  # warm-up: the worker's first cluster client
            samples = [grade_once(url, headers) for _ in range(args.grades)]
            idle = idle_worker_cores(process.pid)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    print(f"certprep up: SQLite, filesystem broker, lab {args.lab}, HTTP with ?wait=30")
    print(figures("embedded grade, POST -> finished", samples))
    print(f"{'idle worker (polling the folder)':<34} {idle:.4f} cores over 10 s")
    print("peer: bench/lab_bench.py (Redis broker, PostgreSQL) measured p50 87 ms")
    print("target: embedded p50 < 300 ms (was ~1,006 ms with kombu's 1 s polling)")


if __name__ == "__main__":
    main()
