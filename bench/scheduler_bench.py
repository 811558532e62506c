"""Scheduler throughput: 5,000 pods onto 100 nodes, printed as pods per second.

Usage: python bench/scheduler_bench.py [--pods N] [--nodes N] [--repeat N]

Two figures: the scheduling cycle alone (`schedule_one` + `assume` on a snapshot), and
the loop API (`Scheduler.run` on a ClusterState, including the cache/queue sync and
the emitted actions). Upstream's scheduler_perf floor for its basic test is 680 pods/s
on 5,000 nodes; the target here is >= 1,000 pods/s for 5,000 pods on 100 nodes.
Figures depend on the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from app.sim.clock import ManualClock
from app.sim.scheduler import ClusterState, Scheduler, Snapshot


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


def bench_cycle(pods: int, nodes: int) -> float:
    snapshot = Snapshot.build(make_nodes(nodes))
    scheduler = Scheduler()
    batch = make_pods(pods)
    start = time.perf_counter()
    for pod in batch:
        result = scheduler.schedule_one(pod, snapshot)
        if result.node is None:
            raise SystemExit(f"{result.pod.key} did not fit: {result.message}")
        scheduler.assume(result, snapshot)
    return pods / (time.perf_counter() - start)


def bench_loop(pods: int, nodes: int) -> float:
    scheduler = Scheduler(clock=ManualClock())
    state = ClusterState(nodes=make_nodes(nodes), pods=make_pods(pods))
    start = time.perf_counter()
    actions = scheduler.run(state)
    elapsed = time.perf_counter() - start
    bound = sum(1 for a in actions if type(a).__name__ == "BindPod")
    if bound != pods:
        raise SystemExit(f"only {bound} of {pods} pods were bound")
    return pods / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, run in (("schedule_one + assume", bench_cycle), ("Scheduler.run loop", bench_loop)):
        rates = [run(args.pods, args.nodes) for _ in range(args.repeat)]
        print(
            f"{name:24s} {args.pods} pods / {args.nodes} nodes: "
            f"median {statistics.median(rates):,.0f} pods/s "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {args.repeat} runs)"
        )


if __name__ == "__main__":
    main()
