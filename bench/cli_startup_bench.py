"""Start-up time of the `certprep` command line: prints figures, asserts nothing.

    python bench/cli_startup_bench.py [--runs N]

Each command runs N times (default 7) as a fresh `python -m app.cli ...` process from
this checkout; the table shows the median wall time and the median CPU time (user +
system; steadier than wall time on a busy machine) beside `python -c pass`, the floor
no command can beat. Target: under 0.3 s for `--help`, the learner commands (`quiz`,
`lab`, `login`) and `sim create`'s import path. The import graph itself is checked by
tests/unit/cli/test_cli_startup.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<30} {'wall median':>12} {'cpu median':>11} {'over floor':>11}")
    floor = None
    for label, argv in COMMANDS:
        walls, cpus = measure(argv, args.runs)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        if floor is None:
            floor = wall
        over = (wall - floor) * 1000
        print(f"{label:<30} {wall * 1000:>9.0f} ms {cpu * 1000:>8.0f} ms {over:>8.0f} ms")


if __name__ == "__main__":
    main()
