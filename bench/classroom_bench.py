"""A classroom: N learners, each with a 3-node cluster, typing kubectl at once.
Prints figures, asserts nothing.

    python bench/classroom_bench.py [--learners 200] [--minutes 5] [--pool 8]
                                    [--think 5] [--nodes 3]

Starts a real `certprep sim serve` process and creates one cluster per learner through
the admin API. Each learner then runs, for `--minutes`, a realistic mix of real
`kubectl` commands against its own cluster, one every `--think` seconds on average
(jittered +-50 %): get, describe, apply, logs and exec, in the proportions below, on a
small Deployment it applied first. Every kubectl invocation is a process, so at most
`--pool` of them run at once (a bounded pool): when the machine cannot keep up the
achieved rate falls below the rate asked, and both are printed.

Prints p50/p99 wall latency per verb, the errors (there should be none; each is
printed), the rate asked and achieved, and the server process's CPU-seconds (utime +
stime from /proc, so other load does not count) and resident memory at the start and
end of the run. On a small shared machine run it with fewer learners
(`--learners 20 --minutes 1`) and read wall latencies with the load average printed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from idle_clusters_bench import cpu_seconds, kubectl, load_average, rss_mib
from sim_process import create_cluster, start_sim_server

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, rev: "REV"}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: logger, labels: {app: logger}}
spec:
  containers:
  - name: logger
    image: busybox
    command: ["sh", "-c", "while true; do echo tick; sleep 5; done"]
"""

# (verb, weight): reads dominate, as in a learner's session.
MIX = [("get", 40), ("describe", 20), ("logs", 15), ("apply", 15), ("exec", 10)]


def verb_args(verb: str, learner: Learner) -> tuple[list[str], str | None]:
    """The kubectl arguments (and stdin) of one command of `verb`."""
    if verb == "get":
        return random.choice([["get", "pods"], ["get", "deploy,rs,svc"], ["get", "nodes"]]), None
    if verb == "describe":
        return random.choice([["describe", "deploy", "web"], ["describe", "node", "node01"]]), None
    if verb == "logs":
        return ["logs", "logger", "--tail=20"], None
    if verb == "apply":
        learner.revision += 1
        return ["apply", "-f", "-"], DEPLOYMENT.replace("REV", str(learner.revision))
    return ["exec", "logger", "--", "echo", "hello"], None


class Learner:
    def __init__(self, index: int, kubeconfig: Path) -> None:
        self.index = index
        self.kubeconfig = kubeconfig
        self.revision = 0


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {verb: [] for verb, _ in MIX}
        self.errors: list[str] = []

    def record(self, verb: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latency[verb].append(seconds)
            if error is not None:
                self.errors.append(error)


def run_command(learner: Learner, verb: str, results: Results) -> None:
    args, stdin = verb_args(verb, learner)
    started = time.perf_counter()
    try:
        done = kubectl(learner.kubeconfig, *args, stdin=stdin, timeout=120)
        error = None if done.returncode == 0 else done.stderr.strip()[:300]
    except Exception as exc:  # a hung kubectl is an error too
        error = repr(exc)
    results.record(verb, time.perf_counter() - started, error and f"{verb}: {error}")


def schedule(learners: list[Learner], seconds: float, think: float) -> list[tuple[float, int, str]]:
    """Every learner's commands as (offset, learner index, verb), jittered."""
    verbs, weights = zip(*MIX, strict=True)
    plan = []
    for learner in learners:
        at = random.uniform(0, think)
        while at < seconds:
            plan.append((at, learner.index, random.choices(verbs, weights)[0]))
            at += think * random.uniform(0.5, 1.5)
    return sorted(plan)


def setup(info: dict, count: int, nodes: int, home: Path) -> list[Learner]:
    def one(index: int) -> Learner:
        doc = create_cluster(info, nodes=nodes)
        path = home / f"learner{index}" / "config"
        path.parent.mkdir(parents=True)
        path.write_text(doc["kubeconfig"])
        learner = Learner(index, path)
        args, stdin = verb_args("apply", learner)
        done = kubectl(path, *args, stdin=stdin)
        if done.returncode != 0:
            raise SystemExit(f"setup apply failed: {done.stderr}")
        return learner

    with ThreadPoolExecutor(max_workers=2) as pool:
        learners = list(pool.map(one, range(count)))
    for learner in learners:  # the pods are Running before the clock starts
        kubectl(learner.kubeconfig, "wait", "pod/logger", "--for=condition=Ready", "--timeout=120s")
    return learners


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(results: Results, asked: int, seconds: float, wall: float, server: dict) -> None:
    done = sum(len(v) for v in results.latency.values())
    print(f"{'verb':<10} {'n':>6} {'p50 s':>8} {'p99 s':>8}")
    for verb, samples in results.latency.items():
        if samples:
            p50, p99 = statistics.median(samples), percentile(samples, 0.99)
            print(f"{verb:<10} {len(samples):>6} {p50:>8.2f} {p99:>8.2f}")
    print(
        f"rate asked {asked / seconds:.2f} commands/s, achieved {done / wall:.2f} commands/s "
        f"({done} of {asked} in {wall:.0f} s)"
    )
    print(f"errors: {len(results.errors)}")
    for error in results.errors[:20]:
        print(f"  {error}")
    cpu = server["cpu"]
    print(
        f"server CPU: {cpu:.1f} CPU-s over {wall:.0f} s = {cpu / wall:.2f} cores; "
        f"RSS {server['rss_start']:.0f} MiB -> {server['rss_end']:.0f} MiB"
    )
    print(f"load average at the end: {server['load']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--pool", type=int, default=8, help="kubectl processes at once")
    parser.add_argument("--think", type=float, default=5.0, help="seconds between commands")
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    seconds = args.minutes * 60

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        process, info = start_sim_server(state, tls=True)
        pid = process.pid
        try:
            started = time.perf_counter()
            learners = setup(info, args.learners, args.nodes, state / "home")
            print(
                f"{args.learners} learners' clusters ({args.nodes} nodes) created and "
                f"applied in {time.perf_counter() - started:.0f} s"
            )
            plan = schedule(learners, seconds, args.think)
            results = Results()
            rss_start, cpu_start = rss_mib(pid), cpu_seconds(pid)
            begin = time.monotonic()
            with ThreadPoolExecutor(max_workers=args.pool) as pool:
                for offset, index, verb in plan:
                    delay = begin + offset - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(run_command, learners[index], verb, results)
            wall = time.monotonic() - begin
            server = {
                "cpu": cpu_seconds(pid) - cpu_start,
                "rss_start": rss_start,
                "rss_end": rss_mib(pid),
                "load": load_average(),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"{args.learners} learners x {args.minutes:g} min, one command every "
        f"~{args.think:g} s each, at most {args.pool} kubectl processes at once"
    )
    report(results, len(plan), seconds, wall, server)


if __name__ == "__main__":
    main()
