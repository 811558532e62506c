"""Browser terminals under load: N concurrent WebSocket terminals, each running
`kubectl get pods` (the real kubectl, through the learner workstation) in a loop for a
bounded time. Figures only: nothing here asserts a time.

    python bench/terminal_bench.py [--terminals 50] [--seconds 20] [--clusters 5]

Creates a throw-away PostgreSQL database (server at `CERTPREP_BENCH_PG_URL`, default
`postgresql://postgres@127.0.0.1:5432/postgres`), a simulator server (HTTPS) in a
thread with `--clusters` clusters of a generated lab, one ready lab session per terminal
(the sessions share the clusters round-robin), and serves the app on a free local port
(Werkzeug's threaded server: one thread per open terminal, as gunicorn's gthread
workers give). Then every terminal connects with its bearer token and runs the command
until `--seconds` have passed; prints the round trip (Enter -> next prompt) p50 / p95 /
max, commands per second and the error count (a failed connection, a closed socket, or
output that is not kubectl's table).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from quiz_bench import drop_database, pg_database  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SLUG = "bench-terminal-lab"
COMMAND = "kubectl get pods -A"


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def terminal_client(
    url: str, token: str, deadline: float, samples: list[float], errors: list[str]
) -> None:
    import websocket

    try:
        ws = websocket.create_connection(
            url, timeout=120, header=[f"Authorization: Bearer {token}"]
        )
    except Exception as exc:  # counted, not raised: the figure is the error count
        errors.append(f"connect: {exc}")
        return
    try:
        while json.loads(ws.recv())["t"] != "prompt":
            pass
        while time.monotonic() < deadline:
            began = time.perf_counter()
            ws.send(json.dumps({"t": "line", "d": COMMAND}))
            out = []
            while True:
                message = json.loads(ws.recv())
                if message["t"] == "out":
                    out.append(message["d"])
                elif message["t"] == "prompt":
                    break
                elif message["t"] in ("bye", "busy"):
                    raise RuntimeError(message.get("message"))
            elapsed = time.perf_counter() - began
            text = "".join(out)
            if "NAMESPACE" not in text and "No resources found" not in text:
                errors.append(f"unexpected output: {text[:200]!r}")
            else:
                samples.append(elapsed)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        ws.close()


def run(args: argparse.Namespace, work: Path) -> None:
    import flask_migrate
    from werkzeug.serving import make_server

    from app import create_app
    from app.clock import now
    from app.clusters.simulator import SimulatorProvider
    from app.extensions import db
    from app.models.lab import Lab, LabSession, LabSessionStatus
    from app.services.auth import issue_token
    from app.services.labs import import_labs
    from app.services.users import create_user
    from app.sim.server import SimServer
    from tests.fixtures.labs import make_lab_folder, sim_provider_config

    pg_server = os.environ.get("CERTPREP_BENCH_PG_URL") or DEFAULT_PG
    database_url, db_name = pg_database(pg_server)
    sim = SimServer(host="127.0.0.1", port=0, tls=True, max_clusters=args.clusters + 5)
    sim.start_in_thread()
    server = None
    try:
        config = sim_provider_config(sim, work)
        app = create_app(
            {
                "database_url": database_url,
                "instance_dir": str(work / "instance"),
                "env": "testing",
                "testing": True,
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20, "max_overflow": 60},
                "CERTPREP_TERMINAL_INPUT_RATE": 1000,
                **config,
            }
        )
        provider = SimulatorProvider(
            [sim.base_url], sim.admin_token, ca_file=config["CERTPREP_SIM_CA_FILE"]
        )
        tokens: list[tuple[int, str]] = []
        with app.app_context():
            flask_migrate.upgrade(revision="heads")
            make_lab_folder(work / "labs", SLUG, checks=1)
            import_labs(work / "labs")
            lab = db.session.query(Lab).filter_by(slug=SLUG).one()
            handles = [provider.create(lab.spec["cluster"]) for _ in range(args.clusters)]
            kubeconfigs = [provider.kubeconfig(h) for h in handles]
            moment = now()
            for index in range(args.terminals):
                user = create_user(f"bench{index}@example.test", "learner", None, 1.0)
                session = LabSession(
                    lab_id=lab.id,
                    user_id=user.id,
                    status=LabSessionStatus.READY,
                    provider="simulator",
                    content_hash=lab.content_hash,
                    cluster=handles[index % args.clusters].to_dict(),
                    kubeconfig=kubeconfigs[index % args.clusters],
                    ready_at=moment,
                    expires_at=moment + timedelta(hours=1),
                )
                db.session.add(session)
                db.session.flush()
                tokens.append((session.id, issue_token(user, label="bench").token))
            db.session.commit()

        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"ws://127.0.0.1:{server.server_port}/api/v1/lab-sessions"

        samples: list[float] = []
        errors: list[str] = []
        began = time.monotonic()
        deadline = began + args.seconds
        clients = [
            threading.Thread(
                target=terminal_client,
                args=(f"{base}/{session_id}/terminal", token, deadline, samples, errors),
            )
            for session_id, token in tokens
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=args.seconds + 180)
        elapsed = time.monotonic() - began

        print(
            f"terminals: {args.terminals} concurrent WebSockets, `{COMMAND}` in a loop for "
            f"{args.seconds} s, {args.clusters} simulator clusters (HTTPS), PostgreSQL"
        )
        if samples:
            ordered = sorted(samples)
            print(
                f"round trip (Enter -> prompt)  n={len(ordered)}  "
                f"p50={statistics.median(ordered) * 1000:.0f} ms  "
                f"p95={percentile(ordered, 0.95) * 1000:.0f} ms  "
                f"max={ordered[-1] * 1000:.0f} ms  "
                f"{len(ordered) / elapsed:.1f} commands/s"
            )
        print(f"errors: {len(errors)}")
        for line in sorted(set(errors))[:5]:
            print(f"  {line}")
    finally:
        if server is not None:
            server.shutdown()
        sim.stop_thread()
        drop_database(pg_server, db_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clusters", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certprep-termbench-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
