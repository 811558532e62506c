"""Resource usage of containers and nodes, and the metrics-server scrape that collects it.

Usage is deterministic, computed from what a container runs:

- the image's idle usage (`images.idle_usage`: an idle nginx a millicore and a few MiB);
- plus the load its command generates: a busy shell loop (`while true; do :; done`, no
  sleep or read in the body), `dd if=/dev/zero of=/dev/null`, `sha256sum /dev/zero`,
  `yes > /dev/null` each keep one core busy; `stress --cpu N` (or `stress-ng`) N cores
  and `--vm N --vm-bytes SIZE` N times SIZE of memory;
- CPU capped at the container's CPU limit (the CFS quota throttles it) and at the
  node's cores; memory at its memory limit.

A node uses the sum of its running pods plus the system's own overhead (kubelet,
container runtime, operating system). `MetricsScraper.tick` does what metrics-server
does every `--metric-resolution` (15 s): it reads every kubelet and replaces
`cluster.metrics`. A container shows only once it has run for a whole window (upstream
needs two CPU counter readings), so `kubectl top pod` says `metrics not available yet`
for a pod that just started.
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
# stress's default --vm-bytes (256 MB per worker, "256M" in its usage text).
STRESS_VM_BYTES = 256 * MIB

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
    """The pod's usage at `at`, or None when one of its containers has not run a whole
    window (or the pod does not run)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return None
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    cores = _node_cores(node)
    containers: list[tuple[str, Usage]] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        started = _started_at(statuses.get(container.get("name")) or {})
        if started is None or (at - started).total_seconds() < window:
            return None
        containers.append((str(container.get("name")), container_usage(container, cores)))
    if not containers:
        return None
    meta = pod.get("metadata") or {}
    return PodSample(meta.get("namespace", ""), meta.get("name", ""), at, window, tuple(containers))


class MetricsScraper:
    """metrics-server's scrape loop for one cluster, stepped by the control plane."""

    def __init__(self, cluster: Cluster, resolution: float = METRIC_RESOLUTION) -> None:
        self.cluster = cluster
        self.resolution = resolution
        self._last: float | None = None
        self._lock = threading.Lock()
        # Readers take a scrape that fell due while the control plane slept.
        cluster.metrics.refresh = self.catch_up

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
