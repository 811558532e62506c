"""Requests between pods through Services: prints figures, asserts only that the
requests succeed.

    python bench/network_bench.py [--pods 100] [--requests 10]

Starts a simulator in this process (HTTPS, a 3-node cluster on a manual clock) with
`--pods` pods: half nginx servers in Deployments of 5 behind one ClusterIP Service
each, half busybox clients. Each client then runs, through the exec API (the
official Python client's `stream()`, one WebSocket per exec), a loop of `--requests`
`wget -qO- http://svc-K` to a Service by name (a DNS query to CoreDNS, kube-proxy's
DNAT to a ready endpoint, NetworkPolicy, the nginx container's answer). Prints:

- connections per second over the whole run (DNS queries not counted);
- p50 / p99 of one exec (its `--requests` requests);
- p50 / p99 of one in-process request (`Client.http`, no exec or WebSocket);
- memory per pod: the process's resident set growth while the pods are created and
  run, and while the execs build the clients' container file systems, divided by the
  pod count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sim.controllers.client import ApiClient  # noqa: E402
from app.sim.machinery.clock import ManualClock  # noqa: E402
from app.sim.machinery.kubeconfig import write_kubeconfig  # noqa: E402
from app.sim.server import SimServer  # noqa: E402

GROUP = 5  # server pods per Deployment/Service


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def rss() -> int:
    """Resident set size of this process in bytes (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name:<44} p50 {statistics.median(ms):7.2f} ms   p99 {percentile(ms, 0.99):7.2f} ms"
        f"   (n={len(ms)})"
    )


def _objects(servers: int, clients: int) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    for index in range(max(1, servers // GROUP)):
        labels = {"app": f"svc-{index}"}
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        }
        out.append(
            (
                "apps",
                "deployments",
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"svc-{index}", "namespace": "default"},
                    "spec": {
                        "replicas": GROUP,
                        "selector": {"matchLabels": labels},
                        "template": template,
                    },
                },
            )
        )
        out.append(
            (
                "",
                "services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"svc-{index}", "namespace": "default"},
                    "spec": {"selector": labels, "ports": [{"port": 80}]},
                },
            )
        )
    for index in range(clients):
        out.append(
            (
                "",
                "pods",
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"client-{index}", "namespace": "default"},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": "busybox", "command": ["sleep", "1d"]}
                        ]
                    },
                },
            )
        )
    return out


def _in_process(server: SimServer, cluster: Any, services: int, runs: int) -> list[float]:
    from app.sim.nodes.containers import ContainerAccess

    access = ContainerAccess(cluster.control_plane.nodes)
    samples = []
    for index in range(runs):
        shell = access.shell("default", f"client-{index % 10}", "c")
        client = shell.context.client()
        start = time.perf_counter()
        reply = server.call(client.http, f"svc-{index % services}", 80, "/")
        samples.append(time.perf_counter() - start)
        assert reply.status == 200
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    servers = args.pods // 2
    clients = args.pods - servers
    services = max(1, servers // GROUP)
    server = SimServer(port=0).start_in_thread()
    try:
        cluster = server.create_cluster(nodes=3, clock=ManualClock())
        before = rss()
        api = ApiClient(cluster.store, cluster)  # the API allocates the ClusterIPs
        for group, plural, obj in _objects(servers, clients):
            server.call(api.create, group, plural, obj)
        server.call(cluster.control_plane.advance, 20)
        after_pods = rss()
        with tempfile.TemporaryDirectory() as folder:
            kubeconfig = Path(folder) / "kubeconfig"
            write_kubeconfig(server.kubeconfig(cluster), kubeconfig)
            from kubernetes import client, config
            from kubernetes.stream import stream

            config.load_kube_config(str(kubeconfig))
            core = client.CoreV1Api()
            samples = []
            started = time.perf_counter()
            for index in range(clients):
                target = f"svc-{index % services}"
                script = (
                    f"for i in $(seq {args.requests}); do wget -qO- http://{target} "
                    "> /dev/null || echo failed; done"
                )
                start = time.perf_counter()
                out = stream(
                    core.connect_get_namespaced_pod_exec,
                    f"client-{index}",
                    "default",
                    command=["sh", "-c", script],
                    stderr=True,
                    stdin=False,
                    stdout=True,
                    tty=False,
                )
                samples.append(time.perf_counter() - start)
                assert "failed" not in out, out
            elapsed = time.perf_counter() - started
        after_exec = rss()
        total = clients * args.requests
        print(f"{args.pods} pods ({services} Services of {GROUP} nginx, {clients} clients)")
        print(
            f"connections through Services: {total} in {elapsed:.1f} s = "
            f"{total / elapsed:.0f}/s (each exec: DNS query + {args.requests} requests)"
        )
        report(f"exec of {args.requests} wget via Service", samples)
        report("one request in process (Client.http)", _in_process(server, cluster, services, 200))
        print(
            f"memory per pod: {(after_pods - before) / args.pods / 1024:.0f} KiB running, "
            f"+{(after_exec - after_pods) / args.pods / 1024:.0f} KiB after the execs"
        )
    finally:
        server.stop_thread()


if __name__ == "__main__":
    main()
