"""Requests between pods through Services: prints figures, asserts only that the
requests succeed.

    python bench/network_bench.py [--pods 100] [--requests 10] [--policies 20]

Starts a simulator in this process (HTTPS, a 3-node cluster on a manual clock) with
`--pods` pods: half nginx servers in Deployments of 5 behind one ClusterIP Service
each, half busybox clients, and `--policies` NetworkPolicies in their namespace: a
default deny of ingress, one policy per Service letting the clients in on port 80, and
the rest (ipBlock and namespace rules on other labels) selecting no pod of the bench,
so every connection is checked against all of them. Each client then runs, through the exec API (the
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


def _policy(name: str, selector: dict[str, str], ingress: list[dict]) -> tuple[str, str, dict]:
    return (
        "networking.k8s.io",
        "networkpolicies",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": ingress,
            },
        },
    )


def _policies(services: int, count: int) -> list[tuple[str, str, dict]]:
    """`count` policies: default deny, one allow per Service, the rest on other pods."""
    out = [_policy("default-deny-ingress", {}, [])]
    for index in range(min(services, count - 1)):
        allow = {
            "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
            "ports": [{"protocol": "TCP", "port": 80}],
        }
        out.append(_policy(f"allow-clients-svc-{index}", {"app": f"svc-{index}"}, [allow]))
    for index in range(count - len(out)):
        other = {
            "from": [
                {"ipBlock": {"cidr": "10.0.0.0/8", "except": [f"10.{index}.0.0/16"]}},
                {"namespaceSelector": {"matchLabels": {"team": f"team-{index}"}}},
            ],
            "ports": [{"protocol": "TCP", "port": 8000 + index, "endPort": 8100 + index}],
        }
        out.append(_policy(f"other-{index}", {"app": f"other-{index}"}, [other]))
    return out


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
                    "metadata": {
                        "name": f"client-{index}",
                        "namespace": "default",
                        "labels": {"role": "client"},
                    },
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
    parser.add_argument("--policies", type=int, default=20)
    args = parser.parse_args()
    servers = args.pods // 2
    clients = args.pods - servers
    services = max(1, servers // GROUP)
    server = SimServer(port=0).start_in_thread()
    try:
        cluster = server.create_cluster(nodes=3, clock=ManualClock())
        before = rss()
        api = ApiClient(cluster.store, cluster)  # the API allocates the ClusterIPs
        policies = _policies(services, args.policies) if args.policies else []
        for group, plural, obj in _objects(servers, clients) + policies:
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
        print(
            f"{args.pods} pods ({services} Services of {GROUP} nginx, {clients} clients), "
            f"{len(policies)} NetworkPolicies"
        )
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
