"""Resource usage of containers and nodes, and the metrics-server scrape that collects it.

Usage is deterministic, computed from what a container runs:

- the image's idle usage (`images.idle_usage`: an idle nginx a millicore and a few MiB);
- plus the load its command generates: a busy shell loop (`while true; do :; done`, no
  sleep or read in the body), `dd if=/dev/zero of=/dev/null`, `sha256sum /dev/zero`,
  `yes > /dev/null` each keep one core busy; `stress --cpu N` (or `stress-ng`) N cores
  and `--vm N --vm-bytes SIZE` N times SIZE of memory;
- CPU capped at the container's CPU limit (the CFS quota throttles it) and at the
  node's cores; memory at its memory limit.

A container whose memory need exceeds its memory limit does not run capped: the
kernel's OOM killer ends it as soon as it has allocated that much (`oom_kill`). With
cgroup v2 the kubelet sets `memory.oom.group` (Kubernetes 1.28+), so the whole
container dies with SIGKILL: the runtime reports reason `OOMKilled`, exit code 137
(128 + 9), and the kubelet restarts it with back-off (CrashLoopBackOff), as in the
documentation's "Exceed a Container's memory limit" example
(https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/).

A node uses the sum of its running pods plus the system's own overhead (kubelet,
container runtime, operating system). `MetricsScraper.tick` does what metrics-server
does every `--metric-resolution` (15 s): it reads every kubelet and replaces
`cluster.metrics`. Upstream needs two CPU counter readings per container; a container
first seen between 10 s and one resolution after its start gets its start as the
earlier reading (metrics-server's `freshContainerMinMetricsResolution`, pkg/storage/
pod.go), so a pod shows 10 s after its containers started, with that age as its
window; before, `kubectl top pod` says `metrics not available yet`. Upstream the pod
shows at the first scrape after those 10 s (10 to 25 s after the start); here a read
of the Metrics API adds it as soon as the 10 s have passed (`add_fresh_pods`, which
the scraper installs as `MetricsCache.fresher`), so the
moment does not depend on where the 15 s scrape cycle stands.
"""

from __future__ import annotations

import re
import shlex
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.sim.machinery.clock import parse_ts
from app.sim.machinery.metrics import (
    METRIC_RESOLUTION,
    ZERO,
    NodeSample,
    PodSample,
    Usage,
)
from app.sim.machinery.quantity import milli_value, value
from app.sim.nodes.containers.images import idle_usage
from app.sim.nodes.runtime import repository_name

if TYPE_CHECKING:
    from app.sim.machinery.cluster import Cluster

MIB = 1024 * 1024
NANO_PER_MILLI = 1_000_000
# The node's own usage besides pods (kubelet, containerd, systemd, the kernel): about
# what `kubectl top node` shows for an empty kubeadm worker.
SYSTEM_OVERHEAD = Usage(35 * NANO_PER_MILLI, 480 * MIB)
# Seconds a process needs to allocate past its limit (stress touches its pages at once).
OOM_KILL_AFTER = 1.0
# stress's default --vm-bytes (256 MB per worker, "256M" in its usage text).
STRESS_VM_BYTES = 256 * MIB
# metrics-server's freshContainerMinMetricsResolution: a container younger than this
# has no usable earlier reading yet.
FRESH_CONTAINER_MIN_SECONDS = 10.0

# `while true; do BODY; done` (also `while :`, `while [ 1 ]`): busy unless the body
# waits on something.
_LOOP = re.compile(
    r"\bwhile\s+(?:true|:|\[\s*(?:1|true)\s*\])\s*;?\s*do\b(?P<body>.*?)\bdone\b", re.S
)
_WAITS = re.compile(r"\b(sleep|usleep|read|wait|wget|curl|nc|ping|tail|timeout|watch)\b")
# Commands that keep one core busy until killed.
_BURNERS = (
    re.compile(r"\bdd\b[^;&|\n]*\bof=/dev/null\b"),
    re.compile(
        r"\b(?:sha1sum|sha256sum|sha512sum|md5sum|gzip|bzip2|xz)\b[^;&|\n]*/dev/(?:u?random|zero)\b"
    ),
    re.compile(r"\byes\b[^;&|\n]*>\s*/dev/null"),
    re.compile(r"\bcat\s+/dev/(?:u?random|zero)\s*>\s*/dev/null"),
)
_STRESS = re.compile(r"\bstress(?:-ng)?\b(?P<opts>[^;&|\n]*)")
_SIZE = re.compile(r"^(\d+)([bBkKmMgG]?)$")


def _command_text(container: dict[str, Any]) -> str:
    argv = [str(x) for x in (container.get("command") or [])]
    argv += [str(x) for x in (container.get("args") or [])]
    return " ".join(argv)


def _size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        return STRESS_VM_BYTES
    scale = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[match.group(2).lower()]
    return int(match.group(1)) * scale


def _stress_load(opts: str, node_cores: float) -> tuple[float, int]:
    """(cores, memory bytes) of one `stress`/`stress-ng` invocation's options."""
    try:
        words = shlex.split(opts)
    except ValueError:
        words = opts.split()
    values: dict[str, str] = {}
    for i, word in enumerate(words):
        key, eq, inline = word.partition("=")
        if eq:
            values[key] = inline
        elif i + 1 < len(words):
            values.setdefault(word, words[i + 1])
    cpu_workers = values.get("--cpu") or values.get("-c") or "0"
    cores = float(cpu_workers) if cpu_workers.isdigit() else 0.0
    if cores == 0 and ("--cpu" in values or "-c" in values):
        cores = node_cores  # stress-ng --cpu 0: one worker per core
    vm_workers = values.get("--vm") or values.get("-m") or "0"
    workers = int(vm_workers) if vm_workers.isdigit() else 0
    memory = workers * _size(values.get("--vm-bytes", "256M"))
    return cores, memory


def command_load(container: dict[str, Any], node_cores: float) -> tuple[float, int]:
    """(busy cores, extra memory bytes) the container's command generates."""
    text = _command_text(container)
    if not text:
        return 0.0, 0
    cores = 0.0
    memory = 0
    for loop in _LOOP.finditer(text):
        if not _WAITS.search(loop.group("body")):
            cores += 1.0
    for burner in _BURNERS:
        cores += len(burner.findall(text))
    for stress in _STRESS.finditer(text):
        more_cores, more_memory = _stress_load(stress.group("opts"), node_cores)
        cores += more_cores
        memory += more_memory
    return cores, memory


def memory_need(container: dict[str, Any], node_cores: float = 2.0) -> int:
    """Bytes the container's processes allocate: the image's idle use plus what its
    command allocates (`stress --vm N --vm-bytes SIZE`), before any limit."""
    _, idle_mib = idle_usage(repository_name(str(container.get("image") or "")))
    return idle_mib * MIB + command_load(container, node_cores)[1]


def oom_kill(container: dict[str, Any]) -> tuple[float, list[str]] | None:
    """(seconds after the start, lines the process printed first) when the container
    outgrows its memory limit and is OOM-killed, else None."""
    raw = _limit(container, "memory")
    if raw is None:
        return None
    try:
        limit = value(raw)
    except (ValueError, ArithmeticError):
        return None
    if limit <= 0 or memory_need(container) <= limit:
        return None
    lines = []
    for stress in _STRESS.finditer(_command_text(container)):
        cores, _ = _stress_load(stress.group("opts"), 2.0)
        vm = re.search(r"(?:--vm|-m)[ =](\d+)", stress.group("opts"))
        # What stress prints before it forks its workers (stress.c).
        lines.append(
            f"stress: info: [1] dispatching hogs: {int(cores)} cpu, 0 io, "
            f"{vm.group(1) if vm else 0} vm, 0 hdd"
        )
    return OOM_KILL_AFTER, lines


def _limit(container: dict[str, Any], resource: str) -> str | None:
    limits = (container.get("resources") or {}).get("limits") or {}
    raw = limits.get(resource)
    return str(raw) if raw is not None else None


def container_usage(container: dict[str, Any], node_cores: float = 2.0) -> Usage:
    """What a running container uses (see the module docstring)."""
    idle_millis, idle_mib = idle_usage(repository_name(str(container.get("image") or "")))
    cores, extra_memory = command_load(container, node_cores)
    cpu_millis = idle_millis + round(min(cores, node_cores) * 1000)
    memory = idle_mib * MIB + extra_memory
    cpu_limit = _limit(container, "cpu")
    if cpu_limit is not None:
        cpu_millis = min(cpu_millis, milli_value(cpu_limit))
    memory_limit = _limit(container, "memory")
    if memory_limit is not None:
        memory = min(memory, value(memory_limit))
    return Usage(cpu_millis * NANO_PER_MILLI, memory)


def _node_cores(node: dict[str, Any] | None) -> float:
    status = (node or {}).get("status") or {}
    raw = (status.get("capacity") or {}).get("cpu") or "2"
    return milli_value(str(raw)) / 1000


def _node_ready(node: dict[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _started_at(status: dict[str, Any]) -> datetime | None:
    running = (status.get("state") or {}).get("running")
    if not running or not running.get("startedAt"):
        return None
    return parse_ts(running["startedAt"])


def pod_sample(
    pod: dict[str, Any], node: dict[str, Any] | None, at: datetime, window: float
) -> PodSample | None:
    """The pod's usage at `at`, or None when one of its containers has run less than
    `FRESH_CONTAINER_MIN_SECONDS` (or the pod does not run). The window is `window`, or
    the youngest container's age when that is shorter (its start is the earlier point)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return None
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    cores = _node_cores(node)
    containers: list[tuple[str, Usage]] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        started = _started_at(statuses.get(container.get("name")) or {})
        age = (at - started).total_seconds() if started is not None else -1.0
        if age < FRESH_CONTAINER_MIN_SECONDS:
            return None
        window = min(window, age)
        containers.append((str(container.get("name")), container_usage(container, cores)))
    if not containers:
        return None
    meta = pod.get("metadata") or {}
    return PodSample(meta.get("namespace", ""), meta.get("name", ""), at, window, tuple(containers))


def add_fresh_pods(cluster: Cluster, namespace: str | None = None) -> None:
    """Add to the cache the pods (of `namespace`, or all) that the last scrape left
    out because their containers were younger than `FRESH_CONTAINER_MIN_SECONDS` and
    that have reached it since; called before the Metrics API answers."""
    cache = cluster.metrics
    if cache.scraped_at is None:
        return  # metrics-server has not scraped yet (or is not running)
    at = cluster.clock.now()
    store = cluster.store
    nodes = {n["metadata"]["name"]: n for n in store.list("", "nodes")[0]}
    fresh: dict[tuple[str, str], PodSample] = {}
    for pod in store.list("", "pods", namespace)[0]:
        meta = pod.get("metadata") or {}
        if cache.pod(meta.get("namespace", ""), meta.get("name", "")) is not None:
            continue
        node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None or not _node_ready(node):
            continue
        sample = pod_sample(pod, node, at, METRIC_RESOLUTION)
        if sample is not None:
            fresh[(sample.namespace, sample.name)] = sample
    if fresh:
        cache.add_pods(fresh)


class MetricsScraper:
    """metrics-server's scrape loop for one cluster, stepped by the control plane."""

    def __init__(self, cluster: Cluster, resolution: float = METRIC_RESOLUTION) -> None:
        self.cluster = cluster
        self.resolution = resolution
        self._last: float | None = None
        cluster.metrics.fresher = lambda namespace: add_fresh_pods(cluster, namespace)
        self._lock = threading.Lock()
        # Readers take a scrape that fell due while the control plane slept.
        cluster.metrics.catch_up = self.catch_up

    def tick(self, serving: bool) -> None:
        """Scrape when a resolution period passed; `serving` False (metrics-server
        not available) forgets everything, as a restarted metrics-server starts empty."""
        cache = self.cluster.metrics
        if not serving:
            if cache.scraped_at is not None or cache.pods:
                cache.clear()
            self._last = None
            return
        now = self.cluster.clock.now()
        with self._lock:
            if self._last is not None and now.timestamp() - self._last < self.resolution:
                return
            self._last = now.timestamp()
            self.scrape(now)

    def catch_up(self) -> None:
        """Before a read of the metrics: the scrape metrics-server would have taken
        last, at its due time, when one fell due since the last scrape (an idle
        control plane does not wake every 15 s to scrape what nobody reads)."""
        with self._lock:
            last = self._last
            if last is None:
                return  # not serving
            now = self.cluster.clock.now().timestamp()
            if now - last < self.resolution:
                return
            at = last + self.resolution * ((now - last) // self.resolution)
            self._last = at
            self.scrape(datetime.fromtimestamp(at, UTC))

    def scrape(self, at: datetime) -> None:
        store = self.cluster.store
        nodes = {n["metadata"]["name"]: n for n in store.list("", "nodes")[0]}
        pods: dict[tuple[str, str], PodSample] = {}
        per_node: dict[str, Usage] = {}
        for pod in store.list("", "pods")[0]:
            node_name = (pod.get("spec") or {}).get("nodeName")
            node = nodes.get(node_name or "")
            if node is None or not _node_ready(node):
                continue
            sample = pod_sample(pod, node, at, self.resolution)
            if sample is None:
                continue
            pods[(sample.namespace, sample.name)] = sample
            per_node[node_name or ""] = per_node.get(node_name or "", ZERO) + sample.total()
        node_samples = {
            name: NodeSample(name, at, self.resolution, SYSTEM_OVERHEAD + per_node.get(name, ZERO))
            for name, node in nodes.items()
            if _node_ready(node)
        }
        self.cluster.metrics.replace(node_samples, pods, at)
