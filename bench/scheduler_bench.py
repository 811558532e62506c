"""Scheduler throughput for Deployment-owned pods, printed as pods per second.

Usage: python bench/scheduler_bench.py [--pods N] [--nodes N] [--deployments N]
       [--repeat N] [--constrained N] [--live N] [--skip-live]

The pods are what a Deployment's ReplicaSet creates: labels `app` and
`pod-template-hash`, an ownerReference to the ReplicaSet (controller: true), small
requests. Owned pods get the system-default topology spreading (hostname maxSkew 3,
zone maxSkew 5, ScheduleAnyway), so PodTopologySpread's PreScore and Score run for
every pod, as they do upstream.

Figures:
1. the scheduling cycle alone (`schedule_one` + `assume` on a snapshot);
2. the loop API (`Scheduler.run` on a ClusterState, with the cache/queue sync and the
   emitted actions);
3. pods shaped like the payment-api lab (required node affinity, preferred pod
   anti-affinity, a DoNotSchedule zone spread; --constrained pods);
4. live: a simulator server, a Deployment of --live replicas POSTed over HTTP, and a
   watch on the pods over HTTP (what `kubectl get pods -w` sees) timing the first and
   the last binding.
Each in-process figure is given per CPU-second (time.process_time, stable on a busy
machine) and per wall-clock second. Beside them the bench prints upstream
scheduler_perf's published thresholds for the nearest workloads (they are wall-clock
pods/s of a multi-threaded Go scheduler on 5,000 nodes, a yardstick, not a like-for-like
peer). Figures depend on the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sim.machinery.clock import ManualClock
from app.sim.scheduler import ClusterState, Scheduler, Snapshot

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ZONES = ("zone-a", "zone-b", "zone-c")

# kubernetes/kubernetes test/integration/scheduler_perf, `threshold` (minimum average
# SchedulingThroughput, pods/s) of the performance workloads nearest to ours:
# misc/performance-config.yaml and topology_spreading/performance-config.yaml.
UPSTREAM_THRESHOLDS = (
    ("SchedulingBasic/5000Nodes_10000Pods", 680),
    ("SchedulingBasic/5000Nodes_50000Pods", 810),
    ("DefaultTopologySpreading/5000Nodes_50000Pods", 160),
    ("PreferredTopologySpreading/5000Nodes_5000Pods", 340),
    ("TopologySpreading/5000Nodes_5000Pods", 460),
    ("SchedulingPreferredPodAntiAffinity/5000Nodes_5000Pods", 90),
)
THRESHOLD_SOURCE = (
    "kubernetes/kubernetes test/integration/scheduler_perf/"
    "{misc,topology_spreading,affinity}/performance-config.yaml"
)


def make_nodes(count: int) -> list[dict[str, Any]]:
    return [
        {
            "metadata": {
                "name": f"node-{i:04d}",
                "resourceVersion": "1",
                "labels": {HOSTNAME: f"node-{i:04d}", ZONE: ZONES[i % len(ZONES)]},
            },
            "spec": {},
            "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}},
        }
        for i in range(count)
    ]


def deployment_pods(count: int, deployments: int, namespace: str = "bench") -> list[dict]:
    """`count` pods of `deployments` Deployments, each pod owned by its ReplicaSet."""
    pods = []
    per = max(1, -(-count // deployments))
    for i in range(count):
        app = f"web-{i // per:03d}"
        template_hash = f"{(i // per) * 7919 % 99991:05d}f7c9"
        rs_name = f"{app}-{template_hash}"
        pods.append(
            {
                "metadata": {
                    "name": f"{rs_name}-{i:05d}",
                    "namespace": namespace,
                    "uid": f"uid-{i:05d}",
                    "resourceVersion": "1",
                    "labels": {"app": app, "pod-template-hash": template_hash},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": rs_name,
                            "uid": f"rs-{i // per:03d}",
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        }
                    ]
                },
                "status": {"phase": "Pending"},
            }
        )
    return pods


def payment_api_like(pods: int) -> list[dict[str, Any]]:
    batch = deployment_pods(pods, 1)
    term = {"labelSelector": {"matchLabels": {"app": "payment"}}, "topologyKey": HOSTNAME}
    for pod in batch:
        pod["metadata"]["labels"] = {"app": "payment"}
        pod["spec"]["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": ZONE, "operator": "Exists"}]}
                    ]
                }
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": term}
                ]
            },
        }
        pod["spec"]["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "payment"}},
            }
        ]
    return batch


def _cycle(batch: list[dict[str, Any]], nodes: int) -> tuple[float, float]:
    snapshot = Snapshot.build(make_nodes(nodes))
    scheduler = Scheduler()
    cpu, wall = time.process_time(), time.perf_counter()
    for pod in batch:
        result = scheduler.schedule_one(pod, snapshot)
        if result.node is None:
            raise SystemExit(f"{result.pod.key} did not fit: {result.message}")
        scheduler.assume(result, snapshot)
    return len(batch) / (time.process_time() - cpu), len(batch) / (time.perf_counter() - wall)


def bench_cycle(args: argparse.Namespace) -> tuple[float, float]:
    return _cycle(deployment_pods(args.pods, args.deployments), args.nodes)


def bench_loop(args: argparse.Namespace) -> tuple[float, float]:
    scheduler = Scheduler(clock=ManualClock())
    state = ClusterState(
        nodes=make_nodes(args.nodes), pods=deployment_pods(args.pods, args.deployments)
    )
    cpu, wall = time.process_time(), time.perf_counter()
    actions = scheduler.run(state)
    rates = args.pods / (time.process_time() - cpu), args.pods / (time.perf_counter() - wall)
    bound = sum(1 for a in actions if type(a).__name__ == "BindPod")
    if bound != args.pods:
        raise SystemExit(f"only {bound} of {args.pods} pods were bound")
    return rates


def bench_constrained(args: argparse.Namespace) -> tuple[float, float]:
    return _cycle(payment_api_like(args.constrained), args.nodes)


# ---- live, through the server and HTTP ----------------------------------------------------


def _call(port: int, method: str, path: str, token: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else None


def _watch_bindings(
    port: int, path: str, token: str, replicas: int, started: threading.Event, out: dict
) -> None:
    """Follow a pod watch; record when the first and the last replica got a node."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    started.set()
    bound: set[str] = set()
    seen: set[str] = set()
    while len(bound) < replicas:
        line = response.readline()
        if not line:
            break
        event = json.loads(line)
        pod = event.get("object") or {}
        name = (pod.get("metadata") or {}).get("name")
        seen.add(name)
        if (pod.get("spec") or {}).get("nodeName") and name not in bound:
            bound.add(name)
            if len(bound) == 1:
                out["first"] = time.perf_counter()
            if len(bound) in (replicas // 2, replicas):
                out[len(bound)] = time.perf_counter()
        if len(seen) == replicas and "created" not in out:
            out["created"] = time.perf_counter()
    out["bound"] = len(bound)
    conn.close()


def bench_live(replicas: int, nodes: int) -> None:
    from app.sim.server import SimServer

    server = SimServer(port=0, tls=False).start_in_thread()
    try:
        shape = {
            "nodes": [
                {
                    "name": "controlplane" if i == 0 else f"node{i:02d}",
                    "role": "control-plane" if i == 0 else "worker",
                    "labels": {ZONE: ZONES[i % len(ZONES)]},
                    "capacity": {"cpu": "64", "memory": "256Gi", "pods": "250"},
                }
                for i in range(nodes)
            ]
        }
        admin = server.admin_token
        doc = _call(server.port, "POST", "/admin/clusters", admin, {"id": "bench", "shape": shape})
        token = doc["token"]
        base = "/clusters/bench"
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.27",
                                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                            }
                        ]
                    },
                },
            },
        }
        out: dict[str, Any] = {}
        started = threading.Event()
        watcher = threading.Thread(
            target=_watch_bindings,
            args=(
                server.port,
                f"{base}/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb",
                token,
                replicas,
                started,
                out,
            ),
            daemon=True,
        )
        watcher.start()
        started.wait(30)
        cpu, wall = time.process_time(), time.perf_counter()
        _call(
            server.port,
            "POST",
            f"{base}/apis/apps/v1/namespaces/default/deployments",
            token,
            deployment,
        )
        watcher.join(300)
        cpu_used = time.process_time() - cpu
        if out.get("bound", 0) < replicas:
            print(f"live: only {out.get('bound', 0)} of {replicas} pods were bound")
            return
        total = out[replicas] - wall
        print(
            f"live Deployment ({replicas} replicas, {nodes} nodes, HTTP): all bound after "
            f"{total:.1f} s = {replicas / total:,.0f} pods/s wall, "
            f"{replicas / cpu_used:,.0f} pods per CPU-second of the whole process "
            f"(apiserver, controllers, kubelets, scheduler); first binding seen after "
            f"{out['first'] - wall:.2f} s, half after {out[replicas // 2] - wall:.1f} s, "
            f"all pods created after {out.get('created', float('nan')) - wall:.1f} s"
        )
    finally:
        server.stop_thread()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--constrained", type=int, default=1000)
    parser.add_argument("--live", type=int, default=2000, help="replicas of the live run")
    parser.add_argument("--live-nodes", type=int, default=30)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    print("upstream scheduler_perf thresholds (pods/s, wall, 5,000 nodes):")
    for name, threshold in UPSTREAM_THRESHOLDS:
        print(f"  {name:55s} {threshold:>5}")
    print(f"  (source: {THRESHOLD_SOURCE})")
    scenarios = (
        ("schedule_one + assume", bench_cycle, args.pods),
        ("Scheduler.run loop", bench_loop, args.pods),
        ("payment-api-like pods", bench_constrained, args.constrained),
    )
    for name, run, pods in scenarios:
        runs = [run(args) for _ in range(args.repeat)]
        cpu = [r[0] for r in runs]
        wall = [r[1] for r in runs]
        print(
            f"{name:22s} {pods} Deployment pods / {args.nodes} nodes: "
            f"{statistics.median(cpu):,.0f} pods/s per CPU-second "
            f"(min {min(cpu):,.0f}), {statistics.median(wall):,.0f} pods/s wall "
            f"(min {min(wall):,.0f}), median of {args.repeat} runs"
        )
    if not args.skip_live:
        bench_live(args.live, args.live_nodes)


if __name__ == "__main__":
    main()
