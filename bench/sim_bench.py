"""Simulator benchmarks: prints figures, asserts nothing.

    python bench/sim_bench.py [--quick]

1. cluster create time (3-node object graph, in process)          target < 50 ms
2. memory per idle cluster (tracemalloc over 200 clusters)         target <= 8 MiB
3. 200 clusters in one process (created, then all listed)
4. `kubectl get pods` latency with 500 pods (real binary, HTTPS)
5. watch fan-out: 50 HTTP watchers, time until each saw every event
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sim.bootstrap import create_cluster
from app.sim.machinery.kubeconfig import write_kubeconfig
from app.sim.machinery.tls import generate_ca
from app.sim.server import SimServer


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, "
        f"min {ordered[0]:.2f} ms (n={len(ordered)})"
    )


def bench_create(count: int) -> None:
    ca = generate_ca()
    create_cluster("warm-up", ca=ca)
    samples = []
    for i in range(count):
        started = time.perf_counter()
        create_cluster(f"c{i}", ca=ca, nodes=3)
        samples.append((time.perf_counter() - started) * 1000)
    print(f"cluster create (3 nodes):      {figures(samples)}   target < 50 ms")
    # Not started: only its create path (node agents; the control plane is measured by
    # bench/controlplane_bench.py).
    server = SimServer(port=0, control_plane=False)
    server.create_cluster(cluster_id="warm-up")
    samples = []
    for i in range(count):
        started = time.perf_counter()
        server.create_cluster(cluster_id=f"s{i}")
        samples.append((time.perf_counter() - started) * 1000)
    print(f"  ... via SimServer (agents):   {figures(samples)}")


def bench_memory(count: int) -> None:
    ca = generate_ca()
    create_cluster("warm-up", ca=ca)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    clusters = [create_cluster(f"m{i}", ca=ca) for i in range(count)]
    elapsed = time.perf_counter() - started
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per = (after - before) / count
    objects = sum(c.store.count() for c in clusters)
    print(
        f"memory per idle cluster:       {per / 1024:.1f} KiB ({per / 2**20:.3f} MiB, "
        f"{objects // count} objects each)   target <= 8 MiB"
    )
    print(
        f"{count} clusters in one process: created in {elapsed:.2f} s (traced), "
        f"{(after - before) / 2**20:.1f} MiB total"
    )


def bench_memory_with_node_agents(count: int) -> None:
    """As the server creates them: with node agents (per-node files and shells)."""
    from app.sim.nodes import ClusterNodes

    ca = generate_ca()
    create_cluster("warm-up", ca=ca).node_access = None
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clusters = []
    for i in range(count):
        cluster = create_cluster(f"n{i}", ca=ca)
        cluster.node_access = ClusterNodes(cluster)
        clusters.append(cluster)
    gc.collect()
    per = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    print(
        f"  ... with node agents:         {per / 1024:.1f} KiB ({per / 2**20:.3f} MiB) "
        f"per cluster, {len(clusters)} clusters"
    )


def bench_kubectl_get(pods: int, runs: int) -> None:
    kubectl = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")
    server = SimServer(port=0, control_plane=False).start_in_thread()
    try:
        cluster = server.create_cluster()
        for i in range(pods):
            cluster.store.create(
                "",
                "pods",
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"web-{i:04d}",
                        "namespace": "default",
                        "labels": {"app": "web"},
                    },
                    "spec": {
                        "nodeName": f"node0{1 + i % 2}",
                        "containers": [{"name": "web", "image": "nginx:1.27"}],
                    },
                    "status": {"phase": "Running", "podIP": f"10.244.{i // 250}.{i % 250}"},
                },
            )
        with tempfile.TemporaryDirectory() as tmp:
            config = write_kubeconfig(server.kubeconfig(cluster), Path(tmp) / "kubeconfig")
            env = {**os.environ, "KUBECONFIG": str(config), "HOME": tmp}
            subprocess.run([kubectl, "get", "pods"], env=env, capture_output=True, check=True)
            samples = []
            lines = 0
            for _ in range(runs):
                started = time.perf_counter()
                out = subprocess.run(
                    [kubectl, "get", "pods"], env=env, capture_output=True, text=True, check=True
                )
                samples.append((time.perf_counter() - started) * 1000)
                lines = len(out.stdout.splitlines())
        print(
            f"kubectl get pods ({pods} pods):  {figures(samples)} "
            f"({lines - 1} rows, whole process incl. kubectl start-up)"
        )
    finally:
        server.stop_thread()


async def _watchers(
    server: SimServer, cluster_id: str, token: str, watchers: int, events: int
) -> tuple[float, float]:
    import aiohttp

    assert server.ca is not None
    context = ssl.create_default_context(cadata=server.ca.cert_pem.decode())
    cluster = server.clusters[cluster_id]
    rv = cluster.store.resource_version
    url = (
        f"{server.cluster_url(cluster_id)}/api/v1/namespaces/default/configmaps"
        f"?watch=true&resourceVersion={rv}&timeoutSeconds=60"
    )
    headers = {"Authorization": f"Bearer {token}"}
    done_at: list[float] = []
    connector = aiohttp.TCPConnector(ssl=context, limit=watchers + 5)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def watch_one() -> None:
            seen = 0
            async with session.get(url, headers=headers) as response:
                async for _line in response.content:
                    seen += 1
                    if seen == events:
                        done_at.append(time.perf_counter())
                        return

        tasks = [asyncio.create_task(watch_one()) for _ in range(watchers)]
        while cluster.store.watcher_count < watchers:
            await asyncio.sleep(0.01)
        started = time.perf_counter()

        def write_all() -> None:
            for i in range(events):
                cluster.store.create(
                    "",
                    "configmaps",
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"cm-{i}", "namespace": "default"},
                        "data": {"i": str(i)},
                    },
                )

        # Writes come from another thread, as the control plane's loops will.
        await asyncio.get_running_loop().run_in_executor(None, write_all)
        await asyncio.gather(*tasks)
    return started, max(done_at)


def bench_watch(watchers: int, events: int) -> None:
    server = SimServer(port=0, control_plane=False).start_in_thread()
    try:
        cluster = server.create_cluster()
        started, finished = asyncio.run(
            _watchers(server, cluster.id, cluster.auth.admin_token, watchers, events)
        )
        elapsed = finished - started
        delivered = watchers * events
        print(
            f"watch fan-out ({watchers} watchers x {events} events): all delivered in "
            f"{elapsed * 1000:.0f} ms, {delivered / elapsed:,.0f} events/s"
        )
    finally:
        server.stop_thread()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    quick = args.quick
    bench_create(20 if quick else 100)
    bench_memory(200)
    bench_memory_with_node_agents(20 if quick else 50)
    bench_kubectl_get(500, 3 if quick else 10)
    bench_watch(50, 50 if quick else 200)


if __name__ == "__main__":
    main()
