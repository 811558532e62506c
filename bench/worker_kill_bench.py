"""Recovery time of a grade whose worker is killed with SIGKILL, and of a lab session whose
provisioning message never left the web process. Figures only: nothing asserts a time.

    python bench/worker_kill_bench.py [--rounds 1] [--pool solo|prefork]

Creates a throw-away PostgreSQL database (server at `CERTPREP_BENCH_PG_URL`, default
`postgresql://postgres@127.0.0.1:5432/postgres`) and starts, as separate processes, a
simulator server, two Celery workers (`--pool`: solo, or prefork with one pool process,
whose pool process is the one killed) and beat on Redis
(`CERTPREP_BENCH_REDIS_URL`, default `redis://127.0.0.1:6379/0`) on a private queue.
Then
  1. `--rounds` times: requests a grade while the simulator is stopped (SIGSTOP), so the
     worker that claims it hangs mid-grade; SIGKILLs that worker, resumes the simulator
     and times kill -> grade done (then restarts the killed worker);
  2. starts a session from a process whose broker accepts and never answers (the commit
     happens, the publish never does) and times commit -> session ready.
Goal: grade done < 30 s after the kill; a lost provisioning publish recovered in seconds.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from quiz_bench import drop_database, pg_database  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
SLUG = "kill-bench-lab"


def run(args: argparse.Namespace, work: Path) -> None:
    import flask_migrate
    import redis

    from app import create_app
    from app.extensions import db
    from app.services import jobs, lab_sessions
    from app.services.labs import import_labs
    from app.services.users import create_user
    from tests.fixtures.labs import make_lab_folder
    from tests.fixtures.worker_process import (
        ProcessStack,
        kill_worker_mid_grade,
        lab_config,
        ready_session,
        wait_for,
    )

    pg_server = os.environ.get("CERTPREP_BENCH_PG_URL") or DEFAULT_PG
    redis_url = os.environ.get("CERTPREP_BENCH_REDIS_URL") or DEFAULT_REDIS
    database_url, db_name = pg_database(pg_server)
    queue = f"certprep-killbench-{secrets.token_hex(4)}"
    stack = ProcessStack.create(
        work / "procs", database_url=database_url, broker_url=redis_url, queue=queue
    )
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts (the kernel does) and never answers
    try:
        sim = stack.start_sim()
        base = {
            "database_url": database_url,
            "instance_dir": str(work / "instance"),
            "env": "testing",
            "testing": True,
            "CERTPREP_LAB_SESSION_LIMIT": args.rounds + 3,
            **lab_config(sim),
        }
        web = create_app({**base, "CELERY": {"broker_url": redis_url, "task_default_queue": queue}})
        with web.app_context():
            flask_migrate.upgrade(revision="heads")
            make_lab_folder(work / "labs", SLUG, checks=5)
            import_labs(work / "labs")
            user_id = create_user("kill@example.test", "learner", "correct-horse-battery").id
        names = ["alpha", "beta"]
        for name in names:
            stack.start_worker(name, args.pool)
        stack.start_beat()
        stack.wait_ready(names)

        kills: list[float] = []
        with web.app_context():
            session_id = ready_session(user_id, SLUG)
            for _ in range(args.rounds):
                outcome = kill_worker_mid_grade(
                    stack, int(sim["pid"]), user_id, session_id, pool_child=args.pool == "prefork"
                )
                if outcome.grade_status != "done":
                    raise SystemExit(f"grade ended {outcome.grade_status}: {outcome}")
                kills.append(outcome.seconds)
                print(f"  killed {outcome.killed}: grade done {outcome.seconds:5.1f} s later")
                if args.pool == "solo":
                    stack.start_worker(outcome.killed, args.pool)
                    (stack.folder / f"{outcome.killed}.ready").unlink()
                    stack.wait_ready([outcome.killed])
            db.session.remove()

        hung = create_app(
            {
                **base,
                "CELERY": {
                    "broker_url": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
                    "task_default_queue": queue,
                },
            }
        )
        with hung.app_context():
            from app.models.user import User

            began = time.monotonic()
            stranded = lab_sessions.start_session(db.session.get(User, user_id), SLUG).id
            committed = time.monotonic()
            db.session.remove()
        with web.app_context():
            from app.models.lab import LabSession

            def ready() -> bool:
                db.session.rollback()
                row = db.session.get(LabSession, stranded, populate_existing=True)
                return row.status.value == "ready"

            wait_for(ready, f"session {stranded} to be ready", timeout=60)
            recovered = time.monotonic()
            db.session.remove()

        print(
            f"grade recovery after SIGKILL of its {args.pool} worker "
            f"(lease {jobs.LEASE_SECONDS} s, heartbeat {jobs.HEARTBEAT_SECONDS} s, "
            f"sweeper every {jobs.SWEEP_INTERVAL_SECONDS} s)"
        )
        print(
            f"  kill -> grade done      n={len(kills)}  p50={statistics.median(kills):5.1f} s"
            f"  max={max(kills):5.1f} s   (goal < 30 s)"
        )
        print("lost provisioning publish (broker accepts, never answers)")
        print(f"  start_session commit     {committed - began:5.1f} s (publish gave up)")
        print(f"  commit -> session ready  {recovered - committed:5.1f} s (sweeper's outbox)")
    finally:
        silent.close()
        stack.close()
        drop_database(pg_server, db_name)
        client = redis.Redis.from_url(redis_url)
        keys = [queue, f"_kombu.binding.{queue}", *client.scan_iter(match=f"{queue}*")]
        client.delete(*keys)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pool", choices=["solo", "prefork"], default="solo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certprep-killbench-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
