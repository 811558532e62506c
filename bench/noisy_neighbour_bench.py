"""Noisy neighbour: one cluster schedules thousands of pods while another learner runs
`kubectl run` on theirs.

    python bench/noisy_neighbour_bench.py [--shards 1,2] [--pods 5000] [--runs 5]
                                          [--gc-gen0 N]

For each shard count, starts `certprep sim serve --shards N` (HTTPS) as a child
process and, through real kubectl only:

1. creates the quiet cluster and times `kubectl run` -> the pod Running
   (`kubectl wait --for=jsonpath={.status.phase}=Running`), `--runs` times, alone;
2. creates the noisy cluster (three workers with room for the pods) and
   `kubectl create deployment --replicas=--pods` on it;
3. times the quiet cluster's `kubectl run` -> Running again, back to back, while the
   noisy deployment is being scheduled (at least `--runs` times);
4. waits until the noisy deployment's pods are all available.

With more than one shard it also times a GET of one object straight from the owner
shard and through the front's forwarding (what a kubeconfig issued by a single-process
server costs).

Prints, per shard count: the quiet figure alone (median) and beside the noisy cluster
(median and 90th percentile) and their ratios to the figure alone, how long the noisy
deployment took, the server processes' CPU seconds and the garbage collector's pauses
as the server logged them (wall time, so inflated by the machine's load). --gc-gen0
sets the server's youngest-generation threshold (CERTPREP_SIM_GC_GEN0; 0: CPython's
settings, no freeze), to compare.
Wall figures depend on the machine's other load: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]

MIB = 1024 * 1024
# Enough room for the noisy cluster: its pods, their events, the ReplicaSet.
BENCH_ENV = {
    "CERTPREP_SIM_MAX_OBJECTS": "100000",
    "CERTPREP_SIM_MAX_BYTES": str(1024 * MIB),
}


def start_server(state: Path, env: dict[str, str], shards: int) -> tuple[subprocess.Popen, dict]:
    """`certprep sim serve --shards N` on a free port over HTTPS (kubectl sends no bearer
    token over plain HTTP); its `server.json` once `/readyz` answers."""
    command = [sys.executable, "-c", "from app.cli import main; main()", "sim", "serve"]
    with (state / "sim.log").open("w") as log:
        process = subprocess.Popen(
            [*command, "--port", "0", "--state-dir", str(state), "--shards", str(shards)],
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            info = json.loads((state / "server.json").read_text())
            if requests.get(info["url"] + "/readyz", verify=info["caFile"], timeout=2).ok:
                return process, info
        except (OSError, ValueError, KeyError, requests.RequestException):
            pass
        if process.poll() is not None:
            raise SystemExit(f"simulator exited: {(state / 'sim.log').read_text()}")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("simulator did not start within 120 s")


def kubectl(kubeconfig: Path, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        ["kubectl", *args],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {done.stderr}")
    return done.stdout


def create(info: dict, folder: Path, name: str, body: dict) -> tuple[Path, dict]:
    response = requests.post(
        info["url"] + "/admin/clusters",
        json={"id": name, **body},
        headers={"Authorization": f"Bearer {info['adminToken']}"},
        verify=info["caFile"],
        timeout=120,
    )
    response.raise_for_status()
    path = folder / f"{name}.kubeconfig"
    path.write_text(response.json()["kubeconfig"])
    return path, response.json()


def proxy_cost(info: dict, doc: dict, requests_each: int = 200) -> tuple[float, float]:
    """Median seconds of one GET of an object straight from the owner shard and through
    the front's forwarding (one connection each, alternating)."""
    tail = "/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
    front = f"{info['url']}/clusters/{doc['id']}{tail}"
    direct = f"{doc['server']}{tail}"
    timings: dict[str, list[float]] = {front: [], direct: []}
    sessions = {url: requests.Session() for url in timings}
    for _ in range(requests_each):
        for url, session in sessions.items():
            began = time.perf_counter()
            session.get(
                url,
                headers={"Authorization": f"Bearer {doc['token']}"},
                verify=info["caFile"],
                timeout=30,
            ).raise_for_status()
            timings[url].append(time.perf_counter() - began)
    return statistics.median(timings[direct]), statistics.median(timings[front])


def run_to_running(kubeconfig: Path, name: str) -> float:
    began = time.perf_counter()
    kubectl(kubeconfig, "run", name, "--image=nginx")
    kubectl(
        kubeconfig,
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        f"pod/{name}",
        "--timeout=600s",
    )
    return time.perf_counter() - began


def available(kubeconfig: Path) -> int:
    out = kubectl(
        kubeconfig, "get", "deployment", "noisy", "-o", "jsonpath={.status.availableReplicas}"
    )
    return int(out or 0)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for each in [pid, *map(int, children)]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def noisy_shape(pods: int) -> dict:
    per_node = str(pods // 3 + 10)
    workers = [{"name": f"node0{i}", "capacity": {"pods": per_node}} for i in (1, 2, 3)]
    return {"nodes": [{"name": "controlplane", "role": "control-plane"}, *workers]}


def measure(shards: int, pods: int, runs: int, gc_gen0: str | None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"noisy-{shards}-"))
    env = dict(BENCH_ENV, **({"CERTPREP_SIM_GC_GEN0": gc_gen0} if gc_gen0 else {}))
    process, info = start_server(folder, env, shards)
    try:
        quiet, quiet_doc = create(info, folder, "quiet", {"nodes": 2})
        kubectl(quiet, "get", "nodes")  # discovery cached before timing
        forwarded = proxy_cost(info, quiet_doc) if shards > 1 else None
        alone = [run_to_running(quiet, f"alone-{i}") for i in range(runs)]
        noisy, _ = create(info, folder, "noisy", {"shape": noisy_shape(pods)})
        cpu_before = process_cpu(process.pid)
        began = time.perf_counter()
        kubectl(noisy, "create", "deployment", "noisy", "--image=nginx", f"--replicas={pods}")
        beside: list[float] = []
        noisy_seconds = None
        while noisy_seconds is None or len(beside) < runs:
            if noisy_seconds is None or len(beside) < runs:
                beside.append(run_to_running(quiet, f"beside-{len(beside)}"))
            if noisy_seconds is None and available(noisy) >= pods:
                noisy_seconds = time.perf_counter() - began
            if len(beside) >= 4 * runs and noisy_seconds is None:
                # Enough quiet figures: wait for the noisy one alone.
                while available(noisy) < pods:
                    time.sleep(1)
                noisy_seconds = time.perf_counter() - began
        cpu = process_cpu(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
    log = (folder / "sim.log").read_text()
    pauses = [line.split("gc pauses: ", 1)[1] for line in log.splitlines() if "gc pauses:" in line]
    return {
        "shards": shards,
        "alone": statistics.median(alone),
        "beside": statistics.median(beside),
        "beside_p90": sorted(beside)[int(len(beside) * 0.9)],
        "beside_runs": len(beside),
        "noisy": noisy_seconds,
        "cpu": cpu,
        "gc": pauses,
        "forwarded": forwarded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", default="1,2", help="shard counts to compare")
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gc-gen0", default=None, help="0: CPython's collector settings")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    results = [measure(int(n), args.pods, args.runs, args.gc_gen0) for n in args.shards.split(",")]
    print(f"noisy neighbour: {args.pods} pods beside `kubectl run` -> Running (medians)")
    print("wall figures taken on a machine loaded by other work: compare the ratios")
    print(
        f"{'shards':>6} {'alone s':>8} {'beside s':>9} {'ratio':>6} {'p90 s':>6} {'ratio':>6} "
        f"{'noisy s':>8} {'cpu s':>7}"
    )
    for r in results:
        print(
            f"{r['shards']:>6} {r['alone']:>8.2f} {r['beside']:>9.2f} "
            f"{r['beside'] / r['alone']:>6.2f} {r['beside_p90']:>6.2f} "
            f"{r['beside_p90'] / r['alone']:>6.2f} {r['noisy']:>8.1f} {r['cpu']:>7.1f}"
        )
        for line in r["gc"]:
            print(f"{'':>6} {line}")
        if r["forwarded"]:
            direct, front = r["forwarded"]
            print(
                f"{'':>6} GET of one object: {direct * 1000:.1f} ms from the shard, "
                f"{front * 1000:.1f} ms forwarded by the front (medians)"
            )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
