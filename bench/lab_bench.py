"""Lab start-to-ready time and grade latency through the REST API, a real Celery worker on
Redis and a live simulator server. Figures only: nothing here asserts a time.

    python bench/lab_bench.py [--sessions 6] [--grades 30] [--checks 10]

Creates a throw-away PostgreSQL database (server at `CERTPREP_BENCH_PG_URL`, default
`postgresql://postgres@127.0.0.1:5432/postgres`), a simulator server (HTTPS) in a thread,
a Celery worker (solo pool) on Redis (`CERTPREP_BENCH_REDIS_URL`, default
`redis://127.0.0.1:6379/0`) on a private queue, and a generated lab with `--checks`
checks. Then
  1. starts `--sessions` sessions one after the other and times POST -> `ready` (the first
     applies the lab's setup and caches it; the others restore the snapshot),
  2. grades one session `--grades` times and times POST .../grades -> `done` (long-poll),
and prints p50/p90/max of each. Targets: start-to-ready < 1 s, grade p50 < 200 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# The throw-away PostgreSQL database helpers of the quiz benchmark.
from quiz_bench import drop_database, pg_database  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
SLUG = "bench-lab"


def figures(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{label:<28} n={len(ordered):<3} p50={statistics.median(ordered) * 1000:7.1f} ms"
        f"  p90={p90 * 1000:7.1f} ms  max={ordered[-1] * 1000:7.1f} ms"
    )


def wait_status(client: Any, headers: dict[str, str], session_id: int, wanted: str) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        body = client.get(f"/api/v1/lab-sessions/{session_id}", headers=headers).get_json()
        if body["status"] == wanted:
            return
        if body["status"] == "failed":
            raise SystemExit(f"session {session_id} failed: {body['error']}")
        time.sleep(0.01)
    raise SystemExit(f"session {session_id} not {wanted} after 60 s")


def run(args: argparse.Namespace, work: Path) -> None:
    import flask_migrate
    import redis
    from celery.contrib.testing.worker import start_worker

    from app import create_app
    from app.services.auth import issue_token
    from app.services.labs import import_labs
    from app.services.users import create_user
    from app.sim.server import SimServer
    from tests.fixtures.labs import make_lab_folder, sim_provider_config

    pg_server = os.environ.get("CERTPREP_BENCH_PG_URL") or DEFAULT_PG
    redis_url = os.environ.get("CERTPREP_BENCH_REDIS_URL") or DEFAULT_REDIS
    database_url, db_name = pg_database(pg_server)
    queue = f"certprep-labbench-{secrets.token_hex(4)}"
    sim = SimServer(host="127.0.0.1", port=0, tls=True, max_clusters=200)
    sim.start_in_thread()
    try:
        app = create_app(
            {
                "database_url": database_url,
                "instance_dir": str(work / "instance"),
                "env": "testing",
                "testing": True,
                "CELERY": {"broker_url": redis_url, "task_default_queue": queue},
                "CERTPREP_LAB_SESSION_LIMIT": args.sessions + 1,
                **sim_provider_config(sim, work),
            }
        )
        with app.app_context():
            flask_migrate.upgrade(revision="heads")
            make_lab_folder(work / "labs", SLUG, checks=args.checks)
            import_labs(work / "labs")
            user = create_user("bench@example.test", "learner", "correct-horse-battery", 1.0)
            headers = {"Authorization": f"Bearer {issue_token(user, label='bench').token}"}
        client = app.test_client()
        celery = app.extensions["celery"]
        with start_worker(celery, pool="solo", perform_ping_check=False, loglevel="ERROR"):
            starts: list[float] = []
            session_ids: list[int] = []
            for _ in range(args.sessions):
                began = time.perf_counter()
                response = client.post(f"/api/v1/labs/{SLUG}/sessions", headers=headers)
                session_id = response.get_json()["id"]
                wait_status(client, headers, session_id, "ready")
                starts.append(time.perf_counter() - began)
                session_ids.append(session_id)

            grades: list[float] = []
            target = session_ids[-1]
            for _ in range(args.grades):
                began = time.perf_counter()
                pending = client.post(f"/api/v1/lab-sessions/{target}/grades", headers=headers)
                if pending.status_code != 202:
                    raise SystemExit(f"grade request refused: {pending.get_json()}")
                grade_id = pending.get_json()["id"]
                done = client.get(
                    f"/api/v1/lab-sessions/{target}/grades/{grade_id}?wait=30", headers=headers
                ).get_json()
                if done["status"] != "done" or done["passed_checks"] != args.checks:
                    raise SystemExit(f"grade {grade_id} did not pass: {done}")
                grades.append(time.perf_counter() - began)
            for session_id in session_ids:
                client.delete(f"/api/v1/lab-sessions/{session_id}", headers=headers)

        print(f"lab: {args.checks} checks, simulator over HTTPS, worker on Redis, PostgreSQL")
        print(f"{'first start (setup applied)':<28} {starts[0] * 1000:7.1f} ms")
        if len(starts) > 1:
            print(figures("start-to-ready (restore)", starts[1:]))
        print(figures("grade, POST -> done", grades))
        print("targets: start-to-ready < 1000 ms, grade p50 < 200 ms")
    finally:
        sim.stop_thread()
        drop_database(pg_server, db_name)
        client_redis = redis.Redis.from_url(redis_url)
        keys = [queue, f"_kombu.binding.{queue}", *client_redis.scan_iter(match=f"{queue}*")]
        client_redis.delete(*keys)
        client_redis.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--grades", type=int, default=30)
    parser.add_argument("--checks", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certprep-labbench-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
