"""Autosave and submit under concurrent load: gunicorn + PostgreSQL, figures printed.

    python bench/quiz_bench.py [--learners 64] [--seconds 15] [--workers N] [--threads 4]
                                [--concurrency 32] [--worker-class gthread]
                                [--pin LOAD_CPUS:SERVER_CPUS]

Creates a throw-away PostgreSQL database (server at `CERTPREP_BENCH_PG_URL`, default
`postgresql://postgres@127.0.0.1:5432/postgres`), migrates it, imports the repository's
question banks, creates learners with one attempt each at the CKA mock exam, serves the
app with `certprep serve` (gunicorn, production settings), waits until every worker has
booted and warms them up, then
  1. autosaves responses from `--concurrency` connections for `--seconds` seconds,
  2. submits every attempt at once,
and prints requests/s and p50/p90/p99 latency for each phase. The database is dropped
at the end. Figures only: nothing here asserts a time.

`--pin 0:1` runs the load generator on CPU 0 and gunicorn plus the PostgreSQL backends
serving the bench database on CPU 1 (CPU lists as `taskset -c` takes them: `0`, `0,1`,
`2-3`); without it they all share every CPU.
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


# gunicorn configuration the bench adds to `certprep serve` (through GUNICORN_CMD_ARGS):
# each worker leaves a file once it has loaded the app, so the measured phases never
# include a worker's boot (seconds of imports).
READY_HOOK = """
import os


def post_worker_init(worker):
    open(os.path.join({folder!r}, str(worker.pid)), "w").close()
"""


def parse_cpus(text: str) -> set[int]:
    """CPU numbers from a `taskset -c` style list: "0", "0,1", "2-3"."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def start_server(
    database_url: str,
    instance: Path,
    port: int,
    workers: int,
    threads: int,
    log_level: str,
    cpus: set[int] | None,
    worker_class: str = "gthread",
) -> Any:
    """`certprep serve` (gunicorn with the production settings: keep-alive, timeouts,
    shared Prometheus counters), with production logging: JSON lines at `log_level` (INFO
    logs one line per request), written to a file in the instance folder as a log
    collector would read them. Returns once every worker has loaded the app. `cpus`:
    the server and every process it starts run on these CPUs only."""
    ready = instance / "ready"
    ready.mkdir()
    hook = instance / "gunicorn_bench.py"
    hook.write_text(READY_HOOK.format(folder=str(ready)))
    env = {
        **os.environ,
        "CERTPREP_DATABASE_URL": database_url,
        "CERTPREP_INSTANCE_DIR": str(instance),
        "CERTPREP_ENV": "testing",
        "CERTPREP_TESTING": "1",
        "CERTPREP_LOG_LEVEL": log_level,
        "CERTPREP_LOG_FORMAT": "json",
        "GUNICORN_CMD_ARGS": f"--config {hook}",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        worker_class,
    ]
    log = (instance / "web.log").open("ab")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=log,
        # Set before exec so gunicorn's workers and their threads inherit it.
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (instance / "web.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"the server exited ({process.returncode}):\n{tail}")
        if len(list(ready.iterdir())) >= workers:
            return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn workers did not start")


def pin_backends(database: str, cpus: set[int]) -> int:
    """Run the PostgreSQL backends connected to `database` (this bench's own) on `cpus`;
    returns how many were pinned."""
    pinned = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if cmdline.startswith("postgres:") and f" {database} " in cmdline:
                os.sched_setaffinity(int(entry.name), cpus)
                pinned += 1
        except OSError:
            continue
    return pinned


def cpu_seconds(process_group: int, database: str) -> tuple[float, float, float]:
    """CPU time (user + system) used so far by the gunicorn processes (the process
    group `process_group`) and by the PostgreSQL backends connected to `database`, and
    the system (kernel) part of the gunicorn figure; zeros where /proc is not available.
    Unlike requests/s, CPU per request does not depend on what else the machine is
    running."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    web = backends = web_system = 0.0
    postmasters: set[int] = set()
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
            web_system += int(fields[12]) / ticks
        elif cmdline.startswith("postgres:") and f" {database} " in cmdline:
            backends += used
            postmasters.add(int(fields[1]))
    # A backend that exits during a phase (a pool closing a connection it opened beyond
    # its size) takes its CPU time with it; the postmaster, which reaps its backends,
    # accumulates what they used. Counting both keeps an exited backend's time (and adds
    # that of any other backend of the server that exits meanwhile, e.g. autovacuum).
    for postmaster in postmasters:
        try:
            stat = Path(f"/proc/{postmaster}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        backends += (int(fields[13]) + int(fields[14])) / ticks
    return web, backends, web_system


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


def report_cpu(
    before: tuple[float, float, float], after: tuple[float, float, float], requests: int
) -> None:
    if not requests:
        return
    web, database, system = (after[i] - before[i] for i in range(3))
    # How busy the machine was: requests/s and latency depend on it, CPU per request
    # much less.
    load = f"; load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(
        f"{'':<9} CPU per request: gunicorn {web / requests * 1000:5.2f} ms"
        f" ({system / requests * 1000:.2f} in the kernel),"
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
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn worker processes (default: as `certprep serve`, one per server CPU)",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument(
        "--worker-class", default="gthread", choices=("gthread", "gevent"), help="gunicorn worker"
    )
    parser.add_argument(
        "--log-level", default="INFO", help="the web log level (INFO: a line per request)"
    )
    parser.add_argument(
        "--pin",
        metavar="LOAD_CPUS:SERVER_CPUS",
        help="run the load generator on LOAD_CPUS and gunicorn plus the bench's PostgreSQL"
        " backends on SERVER_CPUS, e.g. 0:1",
    )
    args = parser.parse_args()
    load_cpus = server_cpus = None
    if args.pin:
        load_text, _, server_text = args.pin.partition(":")
        load_cpus, server_cpus = parse_cpus(load_text), parse_cpus(server_text)

    if args.workers is None:
        # What `certprep serve` picks by itself: one worker per CPU it may use.
        args.workers = len(server_cpus) if server_cpus else len(os.sched_getaffinity(0))
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
        process = start_server(
            database_url,
            instance,
            port,
            args.workers,
            args.threads,
            args.log_level,
            server_cpus,
            args.worker_class,
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        if load_cpus and server_cpus:
            os.sched_setaffinity(0, load_cpus)
            layout = (
                f"load generator on CPU(s) {sorted(load_cpus)}, gunicorn and PostgreSQL"
                f" backends on CPU(s) {sorted(server_cpus)} of {os.cpu_count()}"
            )
        else:
            layout = f"{os.cpu_count()} CPU(s) shared by server, database and load generator"
        print(
            f"gunicorn: {args.workers} {args.worker_class} workers"
            + (f" x {args.threads} thread(s);" if args.worker_class == "gthread" else ";")
            + f" load: {args.concurrency} connections; {layout};"
            f" {args.log_level} logging as JSON lines"
        )
        # Warm-up: each worker imports lazily and opens its pool on first requests.
        asyncio.run(autosave_phase(base, learners, 2.0, args.concurrency))
        if server_cpus:
            pinned = pin_backends(name, server_cpus)
            print(f"pinned {pinned} PostgreSQL backends of the bench database too")
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
