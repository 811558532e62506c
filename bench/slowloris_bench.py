"""/healthz latency of a locally started `certprep serve` while slow clients attack it
(slowloris: connections that send a request head a few bytes at a time and never finish
it), next to the latency without them. Figures only: nothing asserts a time.

    python bench/slowloris_bench.py [--connections 12] [--seconds 15]
                                    [--worker-class gevent gthread] [--proxy]

For each worker class: starts `certprep serve` (gunicorn, its default 2 workers) on a
free port with an embedded instance in a temporary folder, times `--probes` sequential
GET /healthz (a new connection each) as the baseline, then opens `--connections` slow
connections (each sends one more header line every 2 s) and times GET /healthz for
`--seconds` (a probe that gets no answer within 30 s counts as 30 s and as a timeout).
Prints p50/p99/max for both, side by side. `--proxy` also runs each worker class behind
nginx with docker/nginx.conf (an `nginx` binary on PATH; the upstream and listen address
rewritten to local ports), the way docker/compose.yaml deploys it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROBE_TIMEOUT = 30.0
TRICKLE_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(port: int) -> tuple[float, bool]:
    """One GET /healthz on a new connection: (seconds, answered)."""
    began = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        answered = reply.startswith(b"HTTP/1.1 200")
    except OSError:
        answered = False
    return time.perf_counter() - began, answered


class Slowloris:
    """`count` connections that send a request head one header line every few seconds."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n")
            return sock
        except OSError:
            return None

    def _run(self) -> None:
        self.sockets = [s for s in (self._open() for _ in range(self.count)) if s]
        n = 0
        while not self.stop.wait(TRICKLE_SECONDS):
            n += 1
            for index, sock in enumerate(self.sockets):
                try:
                    sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
                except OSError:  # closed by the server: open another one
                    sock.close()
                    self.sockets[index] = self._open() or sock

    def __enter__(self) -> Slowloris:
        self.thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def figures(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


def start_proxy(upstream_port: int, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """nginx with docker/nginx.conf in front of 127.0.0.1:`upstream_port` (both of its
    upstreams, `web` and `web-stream`, on that one server)."""
    from tests.fixtures.proxy import local_nginx_config

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    prefix = work / f"nginx-{port}"
    prefix.mkdir(parents=True)
    (prefix / "nginx.conf").write_text(
        local_nginx_config(prefix, port, upstream_port, upstream_port)
    )
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, port


def run_one(
    worker_class: str, args: argparse.Namespace, work: Path, proxy: bool = False
) -> dict[str, object]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CERTPREP_INSTANCE_DIR": str(work / worker_class),
        "CERTPREP_LOG_LEVEL": "WARNING",
    }
    # `serve` needs the instance's database.
    subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "db", "upgrade"],
        env=env,
        cwd=str(ROOT),
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--worker-class",
            worker_class,
        ],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy_process = None
    try:
        if proxy:
            proxy_process, port_in_front = start_proxy(port, work)
        end = time.monotonic() + 60
        while not probe(port)[1]:
            if server.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"certprep serve --worker-class {worker_class} did not start")
            time.sleep(0.2)
        if proxy_process is not None:
            port = port_in_front
            while not probe(port)[1]:
                if proxy_process.poll() is not None or time.monotonic() > end:
                    raise SystemExit("nginx did not start")
                time.sleep(0.2)
        baseline = [probe(port)[0] for _ in range(args.probes)]
        attacked: list[float] = []
        timeouts = 0
        with Slowloris(port, args.connections):
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                seconds, answered = probe(port)
                attacked.append(seconds)
                timeouts += 0 if answered else 1
                time.sleep(0.05)
        return {
            "baseline": figures(baseline),
            "attack": figures(attacked),
            "n": len(attacked),
            "timeouts": timeouts,
        }
    finally:
        if proxy_process is not None:
            proxy_process.terminate()
            proxy_process.wait()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--worker-class", nargs="+", default=["gevent", "gthread"])
    parser.add_argument("--proxy", action="store_true", help="also measure behind nginx")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="certprep-slowloris-") as folder:
        for worker_class in args.worker_class:
            results[worker_class] = run_one(worker_class, args, Path(folder))
            if args.proxy:
                results[f"{worker_class}+nginx"] = run_one(
                    worker_class, args, Path(folder), proxy=True
                )
    print(
        f"/healthz latency, {args.connections} slow connections for {args.seconds:g} s "
        "(ms; timeouts: probes unanswered after 30 s)"
    )
    print(
        f"{'worker class':<14}{'baseline p50/p99/max':>26}{'under attack p50/p99/max':>30}"
        f"{'probes':>8}{'timeouts':>10}"
    )
    for worker_class, result in results.items():
        b, a = result["baseline"], result["attack"]
        print(
            f"{worker_class:<14}{b[0]:>10.1f}{b[1]:>8.1f}{b[2]:>8.1f}"
            f"{a[0]:>12.1f}{a[1]:>9.1f}{a[2]:>9.1f}{result['n']:>8}{result['timeouts']:>10}"
        )


if __name__ == "__main__":
    main()
