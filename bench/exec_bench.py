"""Round trip of `kubectl exec` into a simulated container: prints figures, asserts
nothing.

    python bench/exec_bench.py [--runs N]

Starts a simulator in this process (HTTPS, a 2-node cluster on a manual clock with a
running busybox pod), then times N runs (default 30) of:

- `kubectl exec client -- echo hi` (a fresh kubectl process each time: process start,
  discovery cache, TLS, WebSocket upgrade, the command, the exit Status);
- the official Python client's `kubernetes.stream.stream()` running `echo hi` (one
  WebSocket connection per call, the client already loaded);
- the same through the Python client with `sh -c 'exit 3'`, read to its return code.

Prints p50 / p99 in milliseconds for each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sim.machinery.clock import ManualClock  # noqa: E402
from app.sim.machinery.kubeconfig import write_kubeconfig  # noqa: E402
from app.sim.server import SimServer  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name:<44} p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms"
        f"   (n={len(ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    server = SimServer(port=0).start_in_thread()
    try:
        cluster = server.create_cluster(nodes=2, clock=ManualClock())
        cluster.store.create(
            "",
            "pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "client", "namespace": "default"},
                "spec": {
                    "containers": [
                        {"name": "client", "image": "busybox", "command": ["sleep", "3600"]}
                    ]
                },
            },
        )
        server.call(cluster.control_plane.advance, 5)
        with tempfile.TemporaryDirectory() as folder:
            kubeconfig = Path(folder) / "kubeconfig"
            write_kubeconfig(server.kubeconfig(cluster), kubeconfig)
            kubectl = [
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(Path(folder) / "cache"),
            ]
            subprocess.run([*kubectl, "get", "pods"], check=True, capture_output=True)
            samples = []
            for _ in range(args.runs):
                start = time.perf_counter()
                done = subprocess.run(
                    [*kubectl, "exec", "client", "--", "echo", "hi"],
                    capture_output=True,
                    text=True,
                )
                samples.append(time.perf_counter() - start)
                assert done.stdout == "hi\n", done.stderr
            report("kubectl exec client -- echo hi", samples)

            from kubernetes import client, config
            from kubernetes.stream import stream

            config.load_kube_config(str(kubeconfig))
            core = client.CoreV1Api()
            samples = []
            for _ in range(args.runs):
                start = time.perf_counter()
                out = stream(
                    core.connect_get_namespaced_pod_exec,
                    "client",
                    "default",
                    command=["echo", "hi"],
                    stderr=True,
                    stdin=False,
                    stdout=True,
                    tty=False,
                )
                samples.append(time.perf_counter() - start)
                assert out == "hi\n"
            report("python stream(): echo hi", samples)
            samples = []
            for _ in range(args.runs):
                start = time.perf_counter()
                resp = stream(
                    core.connect_get_namespaced_pod_exec,
                    "client",
                    "default",
                    command=["sh", "-c", "exit 3"],
                    stderr=True,
                    stdin=False,
                    stdout=True,
                    tty=False,
                    _preload_content=False,
                )
                resp.run_forever(timeout=10)
                samples.append(time.perf_counter() - start)
                assert resp.returncode == 3
            report("python stream(): sh -c 'exit 3' + returncode", samples)
    finally:
        server.stop_thread()


if __name__ == "__main__":
    main()
