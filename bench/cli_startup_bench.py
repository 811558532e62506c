"""Start-up time of the `certprep` command line: prints figures, asserts nothing.

    python bench/cli_startup_bench.py [--runs N]

Each command runs N times (default 7) as a fresh `python -m app.cli ...` process from
this checkout; the table shows the median wall time and the median CPU time (user +
system; steadier than wall time on a busy machine) beside `python -c pass`, the floor
no command can beat. Target: under 0.3 s for `--help`, the learner commands (`quiz`,
`lab`, `login`) and `sim create`'s import path. The import graph itself is checked by
tests/unit/cli/test_cli_startup.py.

The last row is a real `certprep sim create --nodes 3` against a simulator server the
bench starts (`certprep sim serve --port 0` in a scratch state folder): the whole command
as a learner runs it, cluster creation on the server included.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS: list[tuple[str, list[str]]] = [
    ("python -c pass (floor)", ["-c", "pass"]),
    ("certprep --help", ["-m", "app.cli", "--help"]),
    ("certprep quiz --help", ["-m", "app.cli", "quiz", "--help"]),
    ("certprep quiz take --help", ["-m", "app.cli", "quiz", "take", "--help"]),
    ("certprep lab --help", ["-m", "app.cli", "lab", "--help"]),
    ("certprep login --help", ["-m", "app.cli", "login", "--help"]),
    ("certprep sim create --help", ["-m", "app.cli", "sim", "create", "--help"]),
    ("certprep logs --help", ["-m", "app.cli", "logs", "--help"]),
    ("certprep user create --help", ["-m", "app.cli", "user", "create", "--help"]),
    ("certprep up --help", ["-m", "app.cli", "up", "--help"]),
]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    walls, cpus = [], []
    for _ in range(runs):
        cpu_before = children_cpu()
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
        cpus.append(children_cpu() - cpu_before)
    return walls, cpus


def start_server(state: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "app.cli", "sim", "serve", "--port", "0"]
    server = subprocess.Popen(
        [*cmd, "--state-dir", str(state)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not (state / "server.json").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit("the simulator server did not start")
        time.sleep(0.1)
    json.loads((state / "server.json").read_text())
    return server


def print_row(label: str, walls: list[float], cpus: list[float], floor: float) -> None:
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    over = (wall - floor) * 1000
    print(f"{label:<30} {wall * 1000:>9.0f} ms {cpu * 1000:>8.0f} ms {over:>8.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<30} {'wall median':>12} {'cpu median':>11} {'over floor':>11}")
    floor = 0.0
    for label, argv in COMMANDS:
        walls, cpus = measure(argv, args.runs)
        floor = floor or statistics.median(walls)
        print_row(label, walls, cpus, floor)
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch)
        server = start_server(state)
        try:
            kubeconfig = str(state / "bench.kubeconfig")
            create = ["-m", "app.cli", "sim", "create", "--nodes", "3"]
            argv = [*create, "--kubeconfig", kubeconfig, "--state-dir", str(state)]
            walls, cpus = measure(argv, args.runs)
            print_row("certprep sim create (server)", walls, cpus, floor)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
