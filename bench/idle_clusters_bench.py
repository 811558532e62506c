"""Idle clusters: what a simulator holding many clusters nobody uses costs, and whether
they slow down the one somebody does use. Prints figures, asserts nothing.

    python bench/idle_clusters_bench.py [--clusters 200] [--nodes 3] [--seconds 60]
                                        [--settle 60] [--runs 3]

Starts a real `certprep sim serve` process, then:

1. `kubectl run` -> pod Running (observed with `kubectl wait`) with one cluster present;
2. creates the other clusters through the admin API (3 nodes each by default) and
   waits `--settle` seconds for their control planes to settle;
3. measures the CPU-seconds of the server's processes over `--seconds` (the front
   and its shards: utime + stime from /proc/<pid>/stat of the process tree, so other
   load on the machine does not count) and their resident memory at the start and the
   end of that window;
4. `kubectl run` -> Running again on the first cluster with all the clusters present.

`CERTPREP_SIM_SHARDS=1` in the environment measures a single-process server.

A cluster nobody writes to resyncs every 30 minutes (one full control-plane pass);
what it does in between is renew its Leases (leader Leases every 2 s, node Leases
every 10 s). `--seconds 360` shows six minutes one by one, the span over which the
resync ran every 5 minutes before (docs/operations.md, "Idle clusters and a
classroom").

Goal: the idle clusters use < 0.02 cores together, RSS stays flat while they idle, and
the run-to-Running time with them present is within 1.5x the single-cluster figure.
Wall times depend on the machine's load: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_process import create_cluster, start_sim_server

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc): the front process and its shards."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += process_tree(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its descendants (Linux /proc): every process of
    the simulator, a front and its shards alike. A shard that exited meanwhile no
    longer counts, so the window is measured with the same processes at both ends."""
    total = 0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICK


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants (MiB)."""
    total = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """A real kubectl process on `kubeconfig` (its folder is HOME: its own cache)."""
    home = kubeconfig.parent
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
    return subprocess.run(
        ["kubectl", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_to_running(kubeconfig: Path, name: str) -> float:
    """Seconds from `kubectl run` to `kubectl wait` seeing phase Running."""
    started = time.perf_counter()
    created = kubectl(kubeconfig, "run", name, "--image=nginx", "--restart=Never")
    if created.returncode != 0:
        raise SystemExit(f"kubectl run failed: {created.stderr}")
    waited = kubectl(
        kubeconfig,
        "wait",
        f"pod/{name}",
        "--for=jsonpath={.status.phase}=Running",
        "--timeout=120s",
    )
    if waited.returncode != 0:
        raise SystemExit(f"kubectl wait failed: {waited.stderr}")
    return time.perf_counter() - started


def run_samples(kubeconfig: Path, prefix: str, runs: int) -> list[float]:
    samples = []
    for i in range(runs):
        samples.append(run_to_running(kubeconfig, f"{prefix}-{i}"))
        kubectl(kubeconfig, "delete", "pod", f"{prefix}-{i}", "--wait=false")
    return samples


def idle_window(pid: int, seconds: float) -> tuple[float, float, float, list[float], list[float]]:
    """(CPU-seconds used, RSS at start, RSS at end, RSS every ~5 s, cores in each
    minute of the window) over `seconds`."""
    rss_start = rss_mib(pid)
    cpu_start = cpu_seconds(pid)
    wall_start = time.monotonic()
    samples = [rss_start]
    minutes: list[float] = []
    minute_cpu, minute_wall = cpu_start, wall_start
    while time.monotonic() - wall_start < seconds:
        time.sleep(min(5.0, seconds - (time.monotonic() - wall_start)))
        samples.append(rss_mib(pid))
        if time.monotonic() - minute_wall >= 59.9:
            cpu = cpu_seconds(pid)
            minutes.append((cpu - minute_cpu) / (time.monotonic() - minute_wall))
            minute_cpu, minute_wall = cpu, time.monotonic()
    used = cpu_seconds(pid) - cpu_start
    return used, rss_start, rss_mib(pid), samples, minutes


def create_many(info: dict, count: int, nodes: int) -> None:
    """Create `count` clusters through the admin API, two requests at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: create_cluster(info, nodes=nodes), range(count)))


def describe(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples):.2f} s "
        f"(min {min(samples):.2f}, max {max(samples):.2f}, n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window")
    parser.add_argument("--settle", type=float, default=60.0, help="wait before the window")
    parser.add_argument("--runs", type=int, default=3, help="kubectl run samples per phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        process, info = start_sim_server(state, tls=True)
        pid = process.pid
        try:
            first = create_cluster(info, nodes=args.nodes)
            kubeconfig = state / "home" / "config"
            kubeconfig.parent.mkdir()
            kubeconfig.write_text(first["kubeconfig"])
            kubectl(kubeconfig, "get", "nodes")  # kubectl's discovery cache, warmed
            time.sleep(args.settle)  # its system pods Ready, its control plane settled
            one_cpu, _, _, _, _ = idle_window(pid, min(20.0, args.seconds))
            one_idle = one_cpu / min(20.0, args.seconds)
            one = run_samples(kubeconfig, "solo", args.runs)
            one_load = load_average()

            started = time.perf_counter()
            cpu_before = cpu_seconds(pid)
            create_many(info, args.clusters - 1, args.nodes)
            create_cpu = cpu_seconds(pid) - cpu_before
            create_wall = time.perf_counter() - started
            time.sleep(args.settle)
            used, rss_start, rss_end, rss_samples, minutes = idle_window(pid, args.seconds)
            processes = process_tree(pid)
            idle_load = load_average()
            many = run_samples(kubeconfig, "crowd", args.runs)
            many_load = load_average()
        finally:
            process.terminate()
            process.wait(timeout=30)

    n = args.clusters
    shape = "1 process" if len(processes) == 1 else f"{len(processes)} processes (front + shards)"
    print(
        f"server: `certprep sim serve`, {n} clusters of {args.nodes} nodes, {shape}, "
        f"{os.cpu_count()} shared cores"
    )
    print(
        f"create {n - 1} clusters: {create_wall:.1f} s wall, {create_cpu:.1f} CPU-s "
        f"({create_cpu / max(1, n - 1) * 1000:.0f} ms CPU per cluster)"
    )
    print(f"idle, 1 cluster:     {one_idle:.4f} cores")
    print(
        f"idle, {n} clusters: {used / args.seconds:.4f} cores "
        f"({used:.2f} CPU-s over {args.seconds:.0f} s; goal < 0.02 cores)"
    )
    if len(minutes) > 1:
        print("  by minute: " + ", ".join(f"{m:.4f}" for m in minutes) + " cores")
    print(
        f"RSS over the window: {rss_start:.0f} MiB -> {rss_end:.0f} MiB "
        f"({rss_end - rss_start:+.1f} MiB; samples "
        f"{', '.join(f'{s:.0f}' for s in rss_samples)})"
    )
    ratio = statistics.median(many) / statistics.median(one)
    print(f"{'kubectl run -> Running':<24} {'1 cluster':<40} {n} clusters")
    print(f"{'':<24} {describe(one):<40} {describe(many)}")
    print(f"{'load average':<24} {one_load:<40} {many_load}")
    print(f"ratio {n} clusters / 1 cluster: {ratio:.2f}x (goal <= 1.5x)")
    print(f"load average during the idle window: {idle_load}")


if __name__ == "__main__":
    main()
