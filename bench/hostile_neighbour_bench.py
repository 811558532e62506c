"""Hostile neighbour: one learner floods their cluster, another works normally on theirs.

    python bench/hostile_neighbour_bench.py [--seconds 12] [--hostile-threads 4]
                                            [--normal-rate 20] [--no-rate-limit]

Starts `certprep sim serve` (plain HTTP, default limits unless --no-rate-limit) as a
child process, creates two clusters, and measures the *normal* client's request
latency (a GET of one object and a Table list of pods, 20 requests a second) first alone,
then while a hostile client on the other cluster sends, from several threads:

- 1 MiB ConfigMaps as YAML, created and deleted in a loop (body decode, validation);
- lists of every ConfigMap as JSON (tens of MiB to encode) and as a Table;
- strategic-merge patches of a large ConfigMap, back to back (a patch storm);
- the ~900-byte YAML alias bomb.

Prints the normal client's p50/p99/max in both phases and what the hostile client got
back (statuses by code). Figures only, no assertions; runs ~2 x --seconds.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from sim_process import cluster_session, create_cluster, start_sim_server

MIB = 1024 * 1024


def create_lab_cluster(info: dict) -> tuple[str, requests.Session]:
    doc = create_cluster(info)
    return doc["server"], cluster_session(doc["token"])


def session_like(session: requests.Session) -> requests.Session:
    """A new session (one connection per thread) with the same credentials."""
    other = requests.Session()
    other.trust_env = False
    other.headers.update(session.headers)
    return other


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def normal_client(base: str, session: requests.Session, seconds: float, rate: float) -> list[float]:
    """What a learner or a grader does, `rate` requests a second: read an object, list
    pods as kubectl prints them."""
    single = f"{base}/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
    table = f"{base}/api/v1/namespaces/kube-system/pods"
    table_accept = {"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"}
    samples = []
    end = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < end:
        for url, headers in ((single, {}), (table, table_accept)):
            started = time.perf_counter()
            session.get(url, headers=headers, timeout=120).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
            next_at += 1.0 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    return samples


def alias_bomb() -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}"]
    lines.append("a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]")
    for n in range(1, 9):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    lines.append("data: {k: *a8}")
    return "\n".join(lines) + "\n"


HOSTILE_KINDS = ("bodies", "lists", "patches", "bombs")


def hostile_client(
    base: str, session: requests.Session, stop: threading.Event, kind: int, statuses: dict
) -> None:
    cms = f"{base}/api/v1/namespaces/default/configmaps"
    big_value = "x" * (MIB - 1024)
    yaml_body = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big-{kind}-NAME}}\n"
        f"data: {{k: {big_value}}}\n"
    )
    bomb = alias_bomb()
    n = 0
    while not stop.is_set():
        n += 1
        try:
            if kind % 4 == 0:  # large bodies
                body = yaml_body.replace("NAME", str(n))
                r = session.post(cms, data=body, headers={"Content-Type": "application/yaml"})
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    session.delete(f"{cms}/big-{kind}-{n}")
            elif kind % 4 == 1:  # big lists
                r = session.get(cms)
                statuses[r.status_code] += 1
                r = session.get(
                    cms, headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"}
                )
                statuses[r.status_code] += 1
            elif kind % 4 == 2:  # patch storm on a large object
                patch = {"data": {f"k{n % 50}": "y" * 20_000}}
                r = session.patch(
                    f"{cms}/storm",
                    data=json.dumps(patch),
                    headers={"Content-Type": "application/strategic-merge-patch+json"},
                )
                statuses[r.status_code] += 1
            else:  # alias bombs
                r = session.post(cms, data=bomb, headers={"Content-Type": "application/yaml"})
                statuses[r.status_code] += 1
        except requests.RequestException as exc:
            statuses[type(exc).__name__] += 1


def run_hostile(base: str, headers: dict, kinds: list[int], stop, results) -> None:
    """The hostile client: one thread per entry of `kinds` until `stop` is set; puts
    the statuses it got on `results`."""
    statuses: collections.Counter = collections.Counter()
    done = threading.Event()
    threads = []
    for kind in kinds:
        session = requests.Session()
        session.trust_env = False
        session.headers.update(headers)
        thread = threading.Thread(
            target=hostile_client, args=(base, session, done, kind, statuses), daemon=True
        )
        thread.start()
        threads.append(thread)
    stop.wait()
    done.set()
    for thread in threads:
        thread.join(120)
    results.put(dict(statuses))


def seed_hostile(base: str, session: requests.Session) -> None:
    """Fill the hostile cluster with large objects so its lists are heavy."""
    cms = f"{base}/api/v1/namespaces/default/configmaps"
    session.post(cms, json={"metadata": {"name": "storm"}, "data": {"k": "v"}}).raise_for_status()
    for i in range(20):
        body = {"metadata": {"name": f"ballast-{i}"}, "data": {"k": "z" * (MIB - 1024)}}
        session.post(cms, json=body)


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    print(
        f"  {label:<24} p50 {statistics.median(ordered):7.1f} ms   "
        f"p99 {percentile(ordered, 0.99):7.1f} ms   max {ordered[-1]:7.1f} ms   (n={len(ordered)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--hostile-threads", type=int, default=4)
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument(
        "--only", choices=HOSTILE_KINDS, help="run only this kind of hostile traffic"
    )
    parser.add_argument(
        "--normal-rate", type=float, default=20.0, help="normal client's requests per second"
    )
    args = parser.parse_args()
    extra = {"CERTPREP_SIM_REQUESTS_PER_SECOND": "0"} if args.no_rate_limit else {}
    with tempfile.TemporaryDirectory() as tmp:
        process, info = start_sim_server(Path(tmp), extra)
        try:
            normal_base, normal = create_lab_cluster(info)
            hostile_base, hostile = create_lab_cluster(info)
            seed_hostile(hostile_base, hostile)
            normal_client(normal_base, normal, 1.0, args.normal_rate)  # warm-up
            alone = normal_client(normal_base, normal, args.seconds, args.normal_rate)
            kinds = (
                [HOSTILE_KINDS.index(args.only)] * args.hostile_threads
                if args.only
                else list(range(args.hostile_threads))
            )
            # The hostile client is its own process: its threads must not slow the
            # normal client's measurements down on this side.
            context = multiprocessing.get_context("spawn")
            stop = context.Event()
            results = context.Queue()
            flood = context.Process(
                target=run_hostile,
                args=(hostile_base, dict(hostile.headers), kinds, stop, results),
            )
            flood.start()
            time.sleep(2.0)
            beside = normal_client(normal_base, normal, args.seconds, args.normal_rate)
            stop.set()
            statuses = results.get(timeout=180)
            flood.join(30)
        finally:
            process.terminate()
            process.wait(10)
    limit = "off" if args.no_rate_limit else "default"
    print(f"hostile neighbour bench (request rate limit: {limit})")
    print(
        f"normal client ({args.normal_rate:g} req/s: GET one object + Table list of pods), "
        "other cluster:"
    )
    report("alone", alone)
    report("beside the hostile one", beside)
    print(
        "hostile client got: "
        + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items(), key=str))
    )


if __name__ == "__main__":
    main()
