"""An unrelated request's latency while learners wait on their grades. Figures only.

    python bench/web_wait_bench.py [--waiters 16] [--seconds 10]

Starts real `certprep serve` processes on one migrated instance (SQLite, JSON logs at
INFO) with a learner, a ready lab session and a grade that stays pending (no worker), then
for each front end:
  - `gthread alone`: `certprep serve` with its defaults (2 workers x 4 threads), what
    the compose file ran before `web-stream`;
  - `nginx + web + web-stream`: docker/nginx.conf (Debian's nginx) in front of that
    server and a gevent `web-stream` server, as docker/compose.yaml runs them now;
times sequential GET /api/v1/me (the probe, 20 a second) with no waiter, then while `--waiters`
clients long-poll the pending grade (`?wait=` the whole run, as the lab console does)
and prints p50/p99/max of the probe side by side.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.proxy import (  # noqa: E402
    SERVE_MAIN,
    free_port,
    prepare_waiting_grade,
    start_nginx,
    start_serve,
    stop,
)

PROBE_TIMEOUT = 60.0
# Probes a second: under docker/nginx.conf's 50 requests/s per client address.
PROBE_RATE = 20


def get(url: str, token: str, timeout: float = PROBE_TIMEOUT) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def probe(base: str, token: str, seconds: float) -> list[float]:
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        status = get(f"{base}/api/v1/me", token)
        if status != 200:
            raise SystemExit(f"GET /api/v1/me answered {status}")
        samples.append(time.perf_counter() - began)
        time.sleep(max(0.0, 1 / PROBE_RATE - samples[-1]))
    return samples


def with_waiters(base: str, token: str, grade: str, waiters: int, seconds: float) -> list[float]:
    wait = int(seconds) + 2
    threads = [
        threading.Thread(target=get, args=(f"{base}{grade}?wait={wait}", token), daemon=True)
        for _ in range(waiters)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let every long-poll reach a server
    samples = probe(base, token, seconds)
    for thread in threads:
        thread.join(timeout=wait + PROBE_TIMEOUT)
    return samples


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{statistics.median(ordered) * 1000:8.1f} {p99 * 1000:8.1f} "
        f"{ordered[-1] * 1000:8.1f} {len(ordered):6d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certprep-waitbench-") as scratch:
        work = Path(scratch)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": scratch,
            "CERTPREP_INSTANCE_DIR": str(work / "instance"),
            "CERTPREP_LOG_FORMAT": "json",
            "CERTPREP_LOG_LEVEL": "INFO",
        }
        subprocess.run(
            [sys.executable, "-c", SERVE_MAIN, "db", "upgrade"],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        token, session_id, grade_id = prepare_waiting_grade(work / "instance")
        grade = f"/api/v1/lab-sessions/{session_id}/grades/{grade_id}"
        web_port, stream_port = free_port(), free_port()
        processes = [start_serve(env, web_port, work / "web.log")]
        processes.append(
            start_serve(env, stream_port, work / "stream.log", "--worker-class", "gevent")
        )
        try:
            nginx, port = start_nginx(work / "nginx", web_port, stream_port)
            processes.append(nginx)
            fronts = {
                "gthread alone": f"http://127.0.0.1:{web_port}",
                "nginx + web + web-stream": f"http://127.0.0.1:{port}",
            }
            print(f"GET /api/v1/me for {args.seconds:.0f} s; {args.waiters} grade long-polls")
            print(f"{'front end':<26} {'waiters':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  n")
            for name, base in fronts.items():
                alone = probe(base, token, min(args.seconds, 3.0))
                print(f"{name:<26} {0:>7} {figures(alone)}")
                loaded = with_waiters(base, token, grade, args.waiters, args.seconds)
                print(f"{name:<26} {args.waiters:>7} {figures(loaded)}")
        finally:
            for process in processes:
                stop(process)


if __name__ == "__main__":
    main()
