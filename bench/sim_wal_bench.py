"""The simulator's crash-safety journal: what it costs and how fast it recovers.
Prints figures, asserts nothing.

    python bench/sim_wal_bench.py [--quick]

1. store writes per second (create + update of 1 KiB ConfigMaps, one cluster, one
   thread) without and with the journal, and the overhead
2. the same through the request pipeline (what `kubectl apply` costs in the server)
3. snapshot size and checkpoint time per bootstrapped cluster (nodes, control plane)
4. recovery time for N clusters: snapshots only (after a checkpoint), and snapshots
   plus a log of writes made since (a crash between checkpoints)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.sim.apiserver.pipeline import ApiRequest, handle
from app.sim.server import SimServer

PAYLOAD = "x" * 1024


def store_writes(server: SimServer, writes: int) -> float:
    """Writes per second: `writes` creates then as many updates."""
    cluster = server.create_cluster(nodes=1)
    store = cluster.store
    started = time.process_time()
    for index in range(writes):
        store.create(
            "",
            "configmaps",
            {"metadata": {"name": f"cm{index}", "namespace": "default"}, "data": {"v": PAYLOAD}},
        )
    for index in range(writes):
        obj = store.get("", "configmaps", "default", f"cm{index}")
        obj["data"]["v"] = PAYLOAD[:-1] + "y"
        store.update("", "configmaps", obj)
    return 2 * writes / (time.process_time() - started)


def pipeline_writes(server: SimServer, writes: int) -> float:
    """Creates per second through `pipeline.handle` (authn, authz, admission, store)."""
    cluster = server.create_cluster(nodes=1)
    headers = {
        "Authorization": f"Bearer {cluster.auth.admin_token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    started = time.process_time()
    for index in range(writes):
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"p{index}", "namespace": "default"},
            "data": {"v": PAYLOAD},
        }
        request = ApiRequest(
            "POST",
            group="",
            version="v1",
            plural="configmaps",
            namespace="default",
            headers=headers,
            body=json.dumps(body).encode(),
        )
        response = handle(cluster, request)
        if response.status != 201:
            raise SystemExit(f"pipeline create answered {response.status}")
    return writes / (time.process_time() - started)


def new_server(directory: Path | None, *, full: bool = False) -> SimServer:
    server = SimServer(port=0, tls=False, control_plane=full, node_agents=full)
    if directory is not None:
        server.enable_journal(directory)
    return server


def compare(label: str, unit: str, run: Callable[[SimServer], float], rounds: int = 3) -> None:
    """Best rate of `rounds` runs without and with the journal, interleaved so that
    load from other processes hits both alike."""
    best = {"without journal": 0.0, "with journal": 0.0}
    for _ in range(rounds):
        for mode in best:
            folder = Path(tempfile.mkdtemp(prefix="wal-bench-"))
            server = new_server(folder if mode == "with journal" else None)
            best[mode] = max(best[mode], run(server))
            if server.journal is not None:
                server.journal.close()
            shutil.rmtree(folder)
    print(label)
    for mode, rate in best.items():
        print(f"   {mode:16} {rate:10,.0f} {unit}/s")
    overhead = 100 * (1 - best["with journal"] / best["without journal"])
    print(f"   overhead         {overhead:9.1f} %")


def bench_writes(writes: int) -> None:
    compare(
        f"1. store writes ({2 * writes} per run, 1 KiB ConfigMaps, CPU time, best of 3)",
        "writes",
        lambda server: store_writes(server, writes),
    )
    compare(
        f"2. pipeline creates ({writes} per run, CPU time, best of 3)",
        "creates",
        lambda server: pipeline_writes(server, writes),
    )


def bench_recovery(counts: list[int], writes_after: int) -> None:
    print("3./4. bootstrapped 3-node clusters with control plane and node agents")
    for count in counts:
        folder = Path(tempfile.mkdtemp(prefix="wal-bench-"))
        server = new_server(folder, full=True)
        for _ in range(count):
            server.create_cluster(nodes=3)
        journal = server.journal
        assert journal is not None
        started = time.perf_counter()
        journal.checkpoint(every_cluster=True)
        checkpoint = time.perf_counter() - started
        sizes = [p.stat().st_size for p in folder.glob("*.json")]
        print(
            f"   {count:4} clusters: snapshot {sum(sizes) / len(sizes) / 1024:,.0f} KiB each, "
            f"checkpoint {1000 * checkpoint / count:.1f} ms per cluster"
        )
        recovered = new_server_recovery(folder)
        print(f"        recovery after a checkpoint:      {recovered:.2f} s")
        for cluster in list(server.clusters.values()):
            for index in range(writes_after):
                cluster.store.create(
                    "",
                    "configmaps",
                    {
                        "metadata": {"name": f"late{index}", "namespace": "default"},
                        "data": {"v": PAYLOAD},
                    },
                )
        journal.sync()
        log_bytes = sum(p.stat().st_size for p in folder.glob("wal-*.log"))
        recovered = new_server_recovery(folder)
        print(
            f"        recovery with {writes_after} logged writes per cluster "
            f"({log_bytes / 1024 / 1024:.1f} MiB of log): {recovered:.2f} s"
        )
        journal.close()
        shutil.rmtree(folder)


def new_server_recovery(folder: Path) -> float:
    """Seconds to rebuild every cluster from `folder` (a copy: the original stays)."""
    copy = Path(tempfile.mkdtemp(prefix="wal-bench-copy-")) / "clusters"
    shutil.copytree(folder, copy)
    started = time.perf_counter()
    server = SimServer(port=0, tls=False)
    server.enable_journal(copy)
    elapsed = time.perf_counter() - started
    if server.journal is not None:
        server.journal.close()
    shutil.rmtree(copy.parent)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    bench_writes(1000 if args.quick else 2000)
    bench_recovery([5] if args.quick else [10, 30], 20 if args.quick else 100)


if __name__ == "__main__":
    main()
