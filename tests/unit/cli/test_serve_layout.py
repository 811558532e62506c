"""`certprep serve`'s default layout: one gthread worker per CPU the process may use, and
at least one pooled database connection per thread."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.cli.serve import pool_environment, usable_cpus
from app.config import load_settings


def test_one_worker_per_usable_cpu() -> None:
    assert usable_cpus() == len(os.sched_getaffinity(0))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin to one")
def test_a_process_pinned_to_one_cpu_runs_one_worker() -> None:
    """As `taskset -c 0 certprep serve` (or a container limited to one CPU set) would."""
    found = subprocess.run(
        [sys.executable, "-c", "from app.cli.serve import usable_cpus; print(usable_cpus())"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
    )
    assert found.stdout.strip() == "1"


@pytest.mark.parametrize(
    ("threads", "environ", "expected"),
    [
        (4, {}, {"CERTPREP_DB_POOL_SIZE": "5"}),
        (8, {}, {"CERTPREP_DB_POOL_SIZE": "8"}),
        (8, {"CERTPREP_DB_POOL_SIZE": "20"}, {}),
    ],
)
def test_serve_gives_each_gthread_thread_a_pooled_connection(
    threads: int, environ: dict[str, str], expected: dict[str, str]
) -> None:
    assert pool_environment(threads, environ) == expected
    pool = {**environ, **expected}["CERTPREP_DB_POOL_SIZE"]
    assert load_settings({**environ, **expected}).db_pool_size == int(pool) >= threads
