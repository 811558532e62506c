"""Quota enforcement: what a flood costs the simulator process, and what it answers.

    python bench/quota_bench.py [--configmaps 300] [--watches 3000]

Starts `certprep sim serve` (plain HTTP, default limits) as a child process, creates
two clusters and, on the first:

1. POSTs `--configmaps` ConfigMaps of ~1 MiB each (the flood that once took the process
   from 142 MB to 1.3 GB);
2. opens `--watches` watches with one token (once: +616 MB, and 5.5 s latency on
   another cluster) while a client on the second cluster measures its latency;
3. sends requests back to back until the request rate limit answers.

Prints the server's resident memory (VmRSS) before and after each step and the
statuses received. Figures only, no assertions; Linux (reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from sim_process import cluster_session, create_cluster, start_sim_server

MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def flood_configmaps(cluster: dict, count: int) -> collections.Counter:
    session = cluster_session(cluster["token"])
    url = f"{cluster['server']}/api/v1/namespaces/default/configmaps"
    payload = "x" * (MIB - 1024)
    statuses: collections.Counter = collections.Counter()
    for i in range(count):
        body = {"metadata": {"name": f"flood-{i}"}, "data": {"k": payload}}
        answer = session.post(url, json=body)
        if answer.status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            answer = session.post(url, json=body)
        statuses[answer.status_code] += 1
    return statuses


async def flood_watches(
    flooded: dict, neighbour: dict, count: int, seconds: float
) -> tuple[collections.Counter, list[float]]:
    """Open `count` watches on `flooded` with one token, keep them open `seconds`
    more, and meanwhile time GETs on `neighbour`."""
    statuses: collections.Counter = collections.Counter()
    url = f"{flooded['server']}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=60"
    headers = {"Authorization": f"Bearer {flooded['token']}"}
    connector = aiohttp.TCPConnector(limit=0)
    open_responses = []
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            try:
                response = await session.get(url, headers=headers)
            except aiohttp.ClientError as exc:
                statuses[type(exc).__name__] += 1
                return
            statuses[response.status] += 1
            if response.status == 429:
                response.release()
            else:
                open_responses.append(response)

        # The neighbour's client is its own process, so opening thousands of
        # connections here does not count in its latency.
        context = multiprocessing.get_context("spawn")
        stop, results = context.Event(), context.Queue()
        timer = context.Process(target=neighbour_latency, args=(neighbour, stop, results))
        timer.start()
        await asyncio.sleep(1.0)
        await asyncio.gather(*(one() for _ in range(count)))
        await asyncio.sleep(seconds)
        stop.set()
        samples = results.get(timeout=120)
        timer.join(30)
        for response in open_responses:
            response.close()
    return statuses, samples


def neighbour_latency(neighbour: dict, stop, results) -> None:
    """GETs on the neighbour cluster, 20 a second, until `stop`; puts the latencies
    (ms) on `results`."""
    session = cluster_session(neighbour["token"])
    target = f"{neighbour['server']}/api/v1/namespaces/default/configmaps"
    samples = []
    while not stop.is_set():
        started = time.perf_counter()
        session.get(target, timeout=120)
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    results.put(samples)


def flood_requests(cluster: dict, count: int) -> collections.Counter:
    session = cluster_session(cluster["token"])
    url = f"{cluster['server']}/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
    statuses: collections.Counter = collections.Counter()
    retry_after = set()
    for _ in range(count):
        answer = session.get(url)
        statuses[answer.status_code] += 1
        if answer.status_code == 429:
            retry_after.add(answer.headers.get("Retry-After"))
    if retry_after:
        statuses[f"Retry-After={','.join(sorted(map(str, retry_after)))}"] = 0
    return statuses


def show(counter: collections.Counter) -> str:
    return ", ".join(
        f"{code}: {n}" if n else str(code) for code, n in sorted(counter.items(), key=str)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configmaps", type=int, default=300)
    parser.add_argument("--watches", type=int, default=3000)
    parser.add_argument("--watch-seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, info = start_sim_server(Path(tmp))
        try:
            flooded, neighbour = create_cluster(info), create_cluster(info)
            print(f"simulator RSS at start (2 clusters): {rss_mib(process.pid):7.1f} MiB")
            before = rss_mib(process.pid)
            statuses = flood_configmaps(flooded, args.configmaps)
            after = rss_mib(process.pid)
            print(
                f"{args.configmaps} x 1 MiB ConfigMaps: RSS {before:.1f} -> {after:.1f} MiB "
                f"(+{after - before:.1f}); statuses {show(statuses)}"
            )
            before = rss_mib(process.pid)
            watch_statuses, samples = asyncio.run(
                flood_watches(flooded, neighbour, args.watches, args.watch_seconds)
            )
            after = rss_mib(process.pid)
            ordered = sorted(samples) or [float("nan")]
            print(
                f"{args.watches} watches, one token: RSS {before:.1f} -> {after:.1f} MiB "
                f"(+{after - before:.1f}); statuses {show(watch_statuses)}"
            )
            print(
                f"  other cluster's GET meanwhile: p50 {statistics.median(ordered):.1f} ms, "
                f"max {ordered[-1]:.1f} ms (n={len(samples)})"
            )
            statuses = flood_requests(neighbour, 600)
            print(f"600 requests back to back on one cluster: statuses {show(statuses)}")
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
