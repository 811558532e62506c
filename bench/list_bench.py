"""List requests of the simulator over HTTP: Table and JSON pages of N Deployment-owned
pods, and `kubectl get pods -A`, against the floor of a bare aiohttp server sending the
same bytes.

    python bench/list_bench.py [--pods 500 2000 5000] [--runs 20] [--profile]

The simulator runs in a child process (HTTPS, no control plane), so its CPU time
per request comes from /proc; "CPU/obj" is that time divided by the listed objects.

The kubectl floor is a replay server: the recording forwarder of kubectl_record.py, a
bare aiohttp server that first proxies one `kubectl get pods -A` to the simulator and
records every response (discovery and each `limit=500` / `continue` page, keyed by
path, query and Accept header), then serves those bytes back. kubectl then runs
alternately against the simulator and the replay server, each with its own
`--cache-dir` filled by one untimed run (both warm).
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PODS_PER_NAMESPACE = 250


def _pod(index: int, rs_uid: str, namespace: str) -> dict[str, Any]:
    name = f"web-7d9f8c6b5-{index:05d}"
    started = "2026-01-01T00:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-7d9f8c6b5",
                    "uid": rs_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "nodeName": f"node0{1 + index % 2}",
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.244.{index // 250}.{index % 250}",
            "hostIP": "192.168.0.2",
            "startTime": started,
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": started}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "imageID": "docker.io/library/nginx@sha256:" + "0" * 64,
                    "containerID": f"containerd://{index:064x}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": started}},
                }
            ],
        },
    }


def _fill(cluster: Any, pods: int) -> None:
    store = cluster.store
    for ns_index in range((pods + PODS_PER_NAMESPACE - 1) // PODS_PER_NAMESPACE):
        namespace = f"team-{ns_index}"
        store.create("", "namespaces", {"metadata": {"name": namespace}})
        deployment = store.create(
            "apps",
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {
                    "replicas": PODS_PER_NAMESPACE,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                    },
                },
            },
        )
        rs = store.create(
            "apps",
            "replicasets",
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": "web-7d9f8c6b5",
                    "namespace": namespace,
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": "web",
                            "uid": deployment["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {"replicas": PODS_PER_NAMESPACE, "selector": {"matchLabels": {}}},
            },
        )
        first = ns_index * PODS_PER_NAMESPACE
        for index in range(first, min(pods, first + PODS_PER_NAMESPACE)):
            store.create("", "pods", _pod(index, rs["metadata"]["uid"], namespace))


def _serve(pods: int, conn: Any, profile: str) -> None:
    from app.sim.machinery.kubeconfig import write_kubeconfig
    from app.sim.machinery.limits import ClusterLimits
    from app.sim.server import SimServer

    limits = ClusterLimits(requests_per_second=1e6, request_burst=1_000_000)
    server = SimServer(port=0, control_plane=False, node_agents=False, limits=limits)
    server.start_in_thread()
    cluster = server.create_cluster()
    _fill(cluster, pods)
    config = Path(tempfile.mkdtemp()) / "kubeconfig"
    write_kubeconfig(server.kubeconfig(cluster), config)
    assert server.ca is not None
    conn.send(
        {
            "url": server.cluster_url(cluster.id),
            "token": cluster.auth.admin_token,
            "kc": config,
            "kubeconfig": server.kubeconfig(cluster),
            "ca": server.ca,
            "cert": server.server_cert,
        }
    )
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        conn.recv()
        profiler.disable()
        profiler.dump_stats(profile)
        conn.send("done")
    conn.recv()
    server.stop_thread()


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms"


def _timed(session: requests.Session, url: str, headers: dict, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url, headers=headers)
        response.raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _floor_server(body: bytes, tls: tuple[Any, Any], conn: Any) -> None:
    from aiohttp import web

    from app.sim.machinery.tls import server_ssl_context

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", handler)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    context = server_ssl_context(*tls)
    web.run_app(app, sock=sock, ssl_context=context, print=None, handle_signals=True)


def _floor(body: bytes, info: dict, session: requests.Session, runs: int) -> list[float]:
    parent, child = multiprocessing.Pipe()
    tls = (info["ca"], info["cert"])
    process = multiprocessing.Process(target=_floor_server, args=(body, tls, child), daemon=True)
    process.start()
    port = parent.recv()
    url = f"https://127.0.0.1:{port}/"
    _wait(session, url)
    samples = _timed(session, url, {}, runs)
    process.terminate()
    process.join()
    return samples


def _replay_server(upstream: str, tls: tuple[Any, Any], conn: Any) -> None:
    """The recording forwarder (bench/kubectl_record.py) in front of `upstream`: it records
    while kubectl runs once, then after `POST /-/replay` answers from memory."""
    from aiohttp import web
    from kubectl_record import Forwarder

    from app.sim.machinery.tls import server_ssl_context

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    context = server_ssl_context(*tls)
    app = Forwarder(upstream).app()
    web.run_app(app, sock=sock, ssl_context=context, print=None, handle_signals=True)


def _kubectl_run(kubeconfig: Path, cache: Path, args: tuple[str, ...]) -> float:
    """One kubectl invocation's wall time in ms; exits on a failed command."""
    kubectl = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(cache.parent)}
    command = [kubectl, f"--cache-dir={cache}", *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode:
        raise SystemExit(f"kubectl failed: {done.stderr}")
    return elapsed


def _kubectl(kubeconfig: Path, runs: int, *args: str) -> list[float]:
    """`runs` timed invocations after one untimed one that fills a fresh cache dir."""
    with tempfile.TemporaryDirectory() as home:
        cache = Path(home) / "cache"
        _kubectl_run(kubeconfig, cache, args)
        return [_kubectl_run(kubeconfig, cache, args) for _ in range(runs)]


def _replay_kubeconfig(info: dict, url: str, folder: Path) -> Path:
    """The simulator's kubeconfig (same CA, same token) pointing at `url`."""
    from app.sim.machinery.kubeconfig import write_kubeconfig

    config = copy.deepcopy(info["kubeconfig"])
    config["clusters"][0]["cluster"]["server"] = url
    return write_kubeconfig(config, folder / "kubeconfig")


@dataclass
class KubectlSide:
    """Timed kubectl runs against one server: wall ms per run, the server's and
    kubectl's own CPU seconds summed over the runs."""

    kubeconfig: Path
    cache: Path
    server_pid: int
    walls: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    kubectl_cpu: float = 0.0

    def run(self, args: tuple[str, ...]) -> None:
        server, kubectl = _cpu(self.server_pid), _children_cpu()
        self.walls.append(_kubectl_run(self.kubeconfig, self.cache, args))
        self.server_cpu += _cpu(self.server_pid) - server
        self.kubectl_cpu += _children_cpu() - kubectl

    def summary(self) -> str:
        runs = len(self.walls)
        return (
            f"{_percentiles(self.walls)}  server CPU {self.server_cpu / runs * 1000:5.1f} ms"
            f"  kubectl CPU {self.kubectl_cpu / runs * 1000:5.0f} ms"
        )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _kubectl_vs_replay(
    info: dict, runs: int, args: tuple[str, ...]
) -> tuple[KubectlSide, KubectlSide, int]:
    """kubectl against the simulator and against the replay of its responses, run
    alternately so that the machine's load weighs on both alike."""
    parent, child = multiprocessing.Pipe()
    base = info["url"].split("/clusters/")[0]
    tls = (info["ca"], info["cert"])
    process = multiprocessing.Process(target=_replay_server, args=(base, tls, child), daemon=True)
    process.start()
    port = parent.recv()
    control_url = f"https://127.0.0.1:{port}/-/replay"
    control = requests.Session()
    control.verify, control.trust_env = False, False
    _wait(control, control_url)
    try:
        with tempfile.TemporaryDirectory() as home:
            folder = Path(home)
            url = f"https://127.0.0.1:{port}{info['url'][len(base) :]}"
            sim = KubectlSide(info["kc"], folder / "sim" / "cache", info["pid"])
            replay = KubectlSide(
                _replay_kubeconfig(info, url, folder), folder / "replay" / "cache", process.pid
            )
            _kubectl_run(replay.kubeconfig, replay.cache, args)  # records (cold cache)
            control.post(control_url).raise_for_status()
            _kubectl_run(replay.kubeconfig, replay.cache, args)
            _kubectl_run(sim.kubeconfig, sim.cache, args)
            for _ in range(runs):
                sim.run(args)
                replay.run(args)
            counts = control.get(control_url).json()
            if counts["misses"]:
                raise SystemExit(f"replay server missed {counts['misses']} requests")
    finally:
        process.terminate()
        process.join()
    return sim, replay, counts["recorded"]


def _wait(session: requests.Session, url: str) -> None:
    for _ in range(50):
        try:
            session.get(url).raise_for_status()
            return
        except requests.ConnectionError:
            time.sleep(0.1)


def bench(pods: int, runs: int, profile: str) -> None:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve, args=(pods, child, profile), daemon=True)
    process.start()
    info = {**parent.recv(), "pid": process.pid}
    session = requests.Session()
    session.verify = False  # the simulator's own CA; the floor serves the same cert
    session.trust_env = False
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    session.headers["Authorization"] = f"Bearer {info['token']}"
    url = info["url"] + "/api/v1/pods"
    print(f"--- {pods} pods")
    table_body = b""
    for label, accept in (("Table", TABLE), ("JSON", "application/json")):
        headers = {"Accept": accept}
        body = session.get(url, headers=headers).content  # warm caches, as a 2nd kubectl
        table_body = body if label == "Table" else table_body
        cpu = _cpu(process.pid)
        samples = _timed(session, url, headers, runs)
        per_object = (_cpu(process.pid) - cpu) / (runs * pods) * 1e6
        floor = _floor(body, info, session, runs)
        ratio = statistics.median(samples) / statistics.median(floor)
        print(
            f"{label:6} {len(body) / 1024:7.0f} KiB  {_percentiles(samples)}  "
            f"CPU/obj {per_object:5.1f} us  floor {_percentiles(floor)}  x{ratio:.1f}"
        )
    sim, replay, recorded = _kubectl_vs_replay(info, max(3, runs // 2), ("get", "pods", "-A"))
    ratio = statistics.median(sim.walls) / statistics.median(replay.walls)
    print(f"kubectl get pods -A ({len(table_body)} B Table, {recorded} responses replayed)")
    print(f"  simulator     {sim.summary()}")
    print(f"  replay floor  {replay.summary()}  simulator/floor x{ratio:.2f}")
    # kubectl's own start-up and discovery: one namespace's (empty) services.
    kubectl = _kubectl(info["kc"], max(3, runs // 2), "get", "services", "-n", "kube-public")
    print(f"kubectl get svc (empty, the kubectl floor)  {_percentiles(kubectl)}")
    if profile:
        parent.send("stop-profile")
        parent.recv()
    parent.send("stop")
    process.join(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", default="", help="write the server's cProfile here")
    args = parser.parse_args()
    for pods in args.pods:
        bench(pods, args.runs, args.profile)


if __name__ == "__main__":
    main()
