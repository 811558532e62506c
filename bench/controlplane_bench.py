"""Control-plane benchmarks: prints figures, asserts nothing.

    python bench/controlplane_bench.py [--quick]

1. cluster create with its control plane settled (mirror, kube-proxy, CoreDNS pods Running)
2. restore of a snapshot to all nodes Ready                         target < 0.5 s
   (a kind cluster takes 12-60 s to get there)
3. one idle control-plane tick (what the server's loop pays per cluster every 0.25 s)
4. advancing a manual clock by 60 s (one-second steps, settled at each step)
5. memory per cluster with its control plane (tracemalloc)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sim.machinery.clock import ManualClock
from app.sim.server import SimServer


def figures(samples: list[float], unit: str = "ms") -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"median {statistics.median(ordered):.1f} {unit}, p95 {p95:.1f} {unit}, "
        f"min {ordered[0]:.1f} {unit} (n={len(ordered)})"
    )


def all_ready(cluster) -> bool:
    for node in cluster.store.list("", "nodes")[0]:
        conditions = (node.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    runs = 5 if parser.parse_args().quick else 15
    server = SimServer(port=0, tls=False, drive_wall_clock=False)  # not started
    server.create_cluster(cluster_id="warm-up", clock=ManualClock())

    samples = []
    for i in range(runs):
        started = time.perf_counter()
        server.create_cluster(cluster_id=f"c{i}", clock=ManualClock())
        samples.append((time.perf_counter() - started) * 1000)
    print(f"create + settle (3 nodes):     {figures(samples)}")

    source = server.create_cluster(cluster_id="source", clock=ManualClock())
    source.control_plane.advance(30)
    snapshot = source.snapshot()
    snapshot.pop("auth")
    samples = []
    for i in range(runs):
        target = server.create_cluster(cluster_id=f"r{i}", clock=ManualClock())
        plane = target.control_plane
        started = time.perf_counter()
        with plane.lock:
            target.restore(snapshot)
        plane.settle()
        ready = all_ready(target)
        samples.append((time.perf_counter() - started) * 1000)
        if not ready:
            print(f"  restore {i}: nodes not Ready after the restore")
    print(f"restore to all nodes Ready:    {figures(samples)}   target < 500 ms")

    plane = source.control_plane
    samples = []
    for _ in range(runs * 4):
        started = time.perf_counter()
        plane.tick()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"idle tick (one cluster):       {figures(samples)}")

    samples = []
    for _ in range(max(2, runs // 3)):
        started = time.perf_counter()
        plane.advance(60)
        samples.append(time.perf_counter() - started)
    print(f"advance 60 s (manual clock):   {figures(samples, 's')}")

    count = 10
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [server.create_cluster(cluster_id=f"m{i}", clock=ManualClock()) for i in range(count)]
    gc.collect()
    per = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    print(f"memory per cluster (settled):  {per / 2**20:.2f} MiB over {len(kept)} clusters")


if __name__ == "__main__":
    main()
