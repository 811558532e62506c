"""Scheduler throughput: 5,000 pods onto 100 nodes, printed as pods per second.

Usage: python bench/scheduler_bench.py [--pods N] [--nodes N] [--repeat N] [--constrained N]

Three figures: the scheduling cycle alone (`schedule_one` + `assume` on a snapshot),
the loop API (`Scheduler.run` on a ClusterState, including the cache/queue sync and
the emitted actions), and, for information, pods shaped like the seed's payment-api
(required node affinity, preferred pod anti-affinity, zone spread; --constrained pods,
default 1,000), whose PreFilter/PreScore look at every pod already placed.
Upstream's scheduler_perf floor for its basic test is 680 pods/s on 5,000 nodes; the
target here is >= 1,000 pods/s for 5,000 pods on 100 nodes.
Figures depend on the machine; nothing is asserted. Each figure is given against
process CPU time (stable on a busy machine) and against wall-clock time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from app.sim.machinery.clock import ManualClock
from app.sim.scheduler import ClusterState, Scheduler, Snapshot

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def make_nodes(count: int) -> list[dict[str, Any]]:
    zones = ("zone-a", "zone-b", "zone-c")
    return [
        {
            "metadata": {
                "name": f"node-{i:04d}",
                "resourceVersion": "1",
                "labels": {
                    "kubernetes.io/hostname": f"node-{i:04d}",
                    "topology.kubernetes.io/zone": zones[i % 3],
                },
            },
            "spec": {},
            "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}},
        }
        for i in range(count)
    ]


def make_pods(count: int) -> list[dict[str, Any]]:
    # The shape of scheduler_perf's pod-default.yaml: one container with small requests.
    return [
        {
            "metadata": {
                "name": f"pod-{i:05d}",
                "namespace": "bench",
                "uid": f"uid-{i:05d}",
                "resourceVersion": "1",
                "labels": {"app": "bench"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "pause",
                        "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}},
                    }
                ]
            },
            "status": {"phase": "Pending"},
        }
        for i in range(count)
    ]


def bench_cycle(pods: int, nodes: int) -> tuple[float, float]:
    snapshot = Snapshot.build(make_nodes(nodes))
    scheduler = Scheduler()
    batch = make_pods(pods)
    cpu, wall = time.process_time(), time.perf_counter()
    for pod in batch:
        result = scheduler.schedule_one(pod, snapshot)
        if result.node is None:
            raise SystemExit(f"{result.pod.key} did not fit: {result.message}")
        scheduler.assume(result, snapshot)
    return pods / (time.process_time() - cpu), pods / (time.perf_counter() - wall)


def bench_loop(pods: int, nodes: int) -> tuple[float, float]:
    scheduler = Scheduler(clock=ManualClock())
    state = ClusterState(nodes=make_nodes(nodes), pods=make_pods(pods))
    cpu, wall = time.process_time(), time.perf_counter()
    actions = scheduler.run(state)
    rates = pods / (time.process_time() - cpu), pods / (time.perf_counter() - wall)
    bound = sum(1 for a in actions if type(a).__name__ == "BindPod")
    if bound != pods:
        raise SystemExit(f"only {bound} of {pods} pods were bound")
    return rates


def payment_api_like(pods: int) -> list[dict[str, Any]]:
    batch = make_pods(pods)
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


def bench_constrained(pods: int, nodes: int) -> tuple[float, float]:
    snapshot = Snapshot.build(make_nodes(nodes))
    scheduler = Scheduler()
    batch = payment_api_like(pods)
    cpu, wall = time.process_time(), time.perf_counter()
    for pod in batch:
        result = scheduler.schedule_one(pod, snapshot)
        if result.node is None:
            raise SystemExit(f"{result.pod.key} did not fit: {result.message}")
        scheduler.assume(result, snapshot)
    return pods / (time.process_time() - cpu), pods / (time.perf_counter() - wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--constrained", type=int, default=1000)
    args = parser.parse_args()
    scenarios = (
        ("schedule_one + assume", bench_cycle, args.pods),
        ("Scheduler.run loop", bench_loop, args.pods),
        ("payment-api-like pods", bench_constrained, args.constrained),
    )
    for name, run, pods in scenarios:
        runs = [run(pods, args.nodes) for _ in range(args.repeat)]
        cpu = [r[0] for r in runs]
        wall = [r[1] for r in runs]
        print(
            f"{name:22s} {pods} pods / {args.nodes} nodes: "
            f"{statistics.median(cpu):,.0f} pods/s per CPU-second "
            f"(min {min(cpu):,.0f}), {statistics.median(wall):,.0f} pods/s wall "
            f"(min {min(wall):,.0f}), median of {args.repeat} runs"
        )


if __name__ == "__main__":
    main()
