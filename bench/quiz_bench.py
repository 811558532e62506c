"""Autosave and submit under concurrent load: gunicorn + PostgreSQL, figures printed.

    python bench/quiz_bench.py [--learners 64] [--seconds 15] [--workers 2] [--threads 4]
                                [--concurrency 32]

Creates a throw-away PostgreSQL database (server at `CERTPREP_BENCH_PG_URL`, default
`postgresql://postgres@127.0.0.1:5432/postgres`), migrates it, imports the repository's
question banks, creates learners with one attempt each at the CKA mock exam, serves the
app with gunicorn, then
  1. autosaves responses from `--concurrency` connections for `--seconds` seconds,
  2. submits every attempt at once,
and prints requests/s and p50/p90/p99 latency for each phase. The database is dropped
at the end. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
QUIZ = "cka-architecture-mock-exam"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_database(server_url: str) -> tuple[str, str]:
    """Create a database; returns (SQLAlchemy URL, name)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"certprep_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), name


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database_url: str, instance: Path, learners: int) -> list[dict[str, Any]]:
    """Migrate, import banks, create learners with one attempt each; returns per learner
    its token, attempt id and the question ids with a valid response for each."""
    import flask_migrate

    from app import create_app
    from app.banks.item_types import ITEM_TYPES
    from app.cli.bank import default_content_paths
    from app.services import attempts
    from app.services.auth import issue_token
    from app.services.banks import import_paths
    from app.services.users import create_user

    app = create_app(
        {
            "database_url": database_url,
            "instance_dir": str(instance),
            "env": "testing",
            "testing": True,
        }
    )
    prepared = []
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        import_paths(default_content_paths())
        for n in range(learners):
            user = create_user(f"bench{n}@example.test", "learner", "bench-password-1", 1.0)
            token = issue_token(user, label="bench").token
            attempt, _ = attempts.start_attempt(user, QUIZ)
            answers = []
            for item in attempt.items:
                body = item.question.body
                answers.append((item.question_uid, sample_response(item.question.type, body)))
                ITEM_TYPES[item.question.type].validate_response(body, answers[-1][1])
            prepared.append({"token": token, "attempt": attempt.id, "answers": answers})
    return prepared


def sample_response(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A valid (not necessarily right) response of the item type's shape."""
    if kind == "single":
        return {"choice": body["options"][0]["id"]}
    if kind == "multiple":
        return {"choices": [body["options"][0]["id"]]}
    if kind == "true_false":
        return {"value": True}
    if kind == "ordering":
        return {"order": [i["id"] for i in reversed(body["items"])]}
    if kind == "matching":
        return {"matches": {p["id"]: body["choices"][0]["id"] for p in body["prompts"]}}
    if kind == "short_answer":
        return {"text": "kube-apiserver"}
    return {"value": 3}


def start_gunicorn(
    database_url: str, instance: Path, port: int, workers: int, threads: int, log_level: str
) -> Any:
    """gunicorn serving the production entry point (`certprep serve` uses the same), with
    production logging: JSON lines at `log_level` (INFO logs one line per request), written
    to a file in the instance folder as a log collector would read them."""
    env = {
        **os.environ,
        "CERTPREP_DATABASE_URL": database_url,
        "CERTPREP_INSTANCE_DIR": str(instance),
        "CERTPREP_ENV": "testing",
        "CERTPREP_TESTING": "1",
        "CERTPREP_LOG_LEVEL": log_level,
        "CERTPREP_LOG_FORMAT": "json",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--no-control-socket",
        "app.cli.serve:wsgi_app()",
    ]
    log = (instance / "web.log").open("ab")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def cpu_seconds(process_group: int, database: str) -> tuple[float, float]:
    """CPU time (user + system) used so far by the gunicorn processes (the process
    group `process_group`) and by the PostgreSQL backends connected to `database`;
    (0, 0) where /proc is not available. Unlike requests/s, CPU per request does not
    depend on what else the machine is running."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    web = backends = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / ticks
        if int(fields[2]) == process_group:
            web += used
        elif cmdline.startswith("postgres:") and f" {database} " in cmdline:
            backends += used
    return web, backends


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(name: str, latencies: list[float], statuses: dict[int, int], elapsed: float) -> None:
    total = len(latencies)
    print(
        f"{name:<9} {total:>6} requests in {elapsed:5.1f} s = {total / elapsed:7.1f} req/s"
        f"  p50 {percentile(latencies, 0.50) * 1000:6.1f} ms"
        f"  p90 {percentile(latencies, 0.90) * 1000:6.1f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
        f"  statuses {dict(sorted(statuses.items()))}"
    )


def report_cpu(before: tuple[float, float], after: tuple[float, float], requests: int) -> None:
    if not requests:
        return
    web, database = (after[0] - before[0], after[1] - before[1])
    # How busy the machine was: requests/s and latency depend on it, CPU per request
    # much less.
    load = f"; load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(
        f"{'':<9} CPU per request: gunicorn {web / requests * 1000:5.2f} ms,"
        f" PostgreSQL backends {database / requests * 1000:5.2f} ms{load}"
    )


async def autosave_phase(
    base: str, learners: list[dict[str, Any]], seconds: float, concurrency: int
) -> tuple[list[float], dict[int, int], float]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def one_client(index: int, session: aiohttp.ClientSession) -> None:
        rng = random.Random(index)
        while time.monotonic() < stop_at:
            learner = learners[rng.randrange(len(learners))]
            qid, response = learner["answers"][rng.randrange(len(learner["answers"]))]
            url = f"{base}/attempts/{learner['attempt']}/responses/{qid}"
            began = time.perf_counter()
            async with session.put(
                url,
                json={"response": response},
                headers={"Authorization": f"Bearer {learner['token']}"},
            ) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
            latencies.append(time.perf_counter() - began)

    began = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one_client(i, session) for i in range(concurrency)))
    return latencies, statuses, time.monotonic() - began


async def submit_phase(
    base: str, learners: list[dict[str, Any]], concurrency: int
) -> tuple[list[float], dict[int, int], float]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def submit(learner: dict[str, Any], session: aiohttp.ClientSession) -> None:
        began = time.perf_counter()
        async with session.post(
            f"{base}/attempts/{learner['attempt']}/submit",
            headers={"Authorization": f"Bearer {learner['token']}"},
        ) as answer:
            await answer.read()
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        latencies.append(time.perf_counter() - began)

    began = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(submit(learner, session) for learner in learners))
    return latencies, statuses, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument(
        "--log-level", default="INFO", help="the web log level (INFO: a line per request)"
    )
    args = parser.parse_args()

    server_url = os.environ.get("CERTPREP_BENCH_PG_URL", DEFAULT_PG)
    database_url, name = pg_database(server_url)
    instance = Path(tempfile.mkdtemp(prefix="certprep-bench-"))
    process = None
    try:
        setup_began = time.monotonic()
        learners = prepare(database_url, instance, args.learners)
        print(
            f"prepared {len(learners)} learners with an attempt at {QUIZ}"
            f" in {time.monotonic() - setup_began:.1f} s"
        )
        port = free_port()
        process = start_gunicorn(
            database_url, instance, port, args.workers, args.threads, args.log_level
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        print(
            f"gunicorn: {args.workers} workers x {args.threads} thread(s);"
            f" load: {args.concurrency} connections; {os.cpu_count()} CPU(s) shared by"
            f" server, database and load generator; {args.log_level} logging as JSON lines"
        )
        # Warm-up: each worker imports lazily and opens its pool on first requests.
        asyncio.run(autosave_phase(base, learners, 1.0, args.concurrency))
        before = cpu_seconds(process.pid, name)
        latencies, statuses, elapsed = asyncio.run(
            autosave_phase(base, learners, args.seconds, args.concurrency)
        )
        report("autosave", latencies, statuses, elapsed)
        report_cpu(before, cpu_seconds(process.pid, name), len(latencies))
        before = cpu_seconds(process.pid, name)
        latencies, statuses, elapsed = asyncio.run(submit_phase(base, learners, args.concurrency))
        report("submit", latencies, statuses, elapsed)
        report_cpu(before, cpu_seconds(process.pid, name), len(latencies))
    finally:
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        drop_database(server_url, name)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
