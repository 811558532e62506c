"""The resource metrics a metrics-server holds: the last scrape of every node and pod.

metrics-server scrapes each kubelet's resource metrics every `--metric-resolution`
(15 s by default) and keeps only the latest point per node and container in memory;
the `metrics.k8s.io/v1beta1` API (NodeMetrics, PodMetrics) answers from that. Here
the scraper (`app.sim.nodes.metrics`) fills a `MetricsCache` on the cluster and the
API layer and the HPA controller read it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

# metrics-server's default --metric-resolution (seconds): how often it scrapes and
# the window each usage point covers.
METRIC_RESOLUTION = 15.0


@dataclass(frozen=True)
class Usage:
    """CPU in nanocores and memory (working set) in bytes."""

    cpu_nanocores: int
    memory_bytes: int

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu_nanocores + other.cpu_nanocores, self.memory_bytes + other.memory_bytes
        )


ZERO = Usage(0, 0)


@dataclass(frozen=True)
class PodSample:
    namespace: str
    name: str
    timestamp: datetime
    window: float
    containers: tuple[tuple[str, Usage], ...]

    def total(self) -> Usage:
        out = ZERO
        for _, usage in self.containers:
            out = out + usage
        return out


@dataclass(frozen=True)
class NodeSample:
    name: str
    timestamp: datetime
    window: float
    usage: Usage


@dataclass
class MetricsCache:
    """The latest scrape; `replace` swaps it whole so readers never see half of one."""

    nodes: dict[str, NodeSample] = field(default_factory=dict)
    pods: dict[tuple[str, str], PodSample] = field(default_factory=dict)
    scraped_at: datetime | None = None
    # Set by the scraper: adds pods that became old enough to report since the last
    # scrape (`app.sim.nodes.metrics.add_fresh_pods`); the API calls it before reading.
    fresher: Callable[[str | None], None] | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # Set by the scraper: takes a scrape that fell due since the last one before a read
    # (an idle control plane does not wake up to scrape metrics nobody reads).
    catch_up: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def replace(
        self,
        nodes: dict[str, NodeSample],
        pods: dict[tuple[str, str], PodSample],
        at: datetime | None,
    ) -> None:
        with self._lock:
            self.nodes, self.pods, self.scraped_at = nodes, pods, at

    def refresh(self, namespace: str | None = None) -> None:
        """Before a read of the Metrics API: the scrape that fell due, then the pods
        that became old enough to report since."""
        self._fresh()
        if self.fresher is not None:
            self.fresher(namespace)

    def add_pods(self, pods: dict[tuple[str, str], PodSample]) -> None:
        """Add points to the last scrape's pods (containers that just became old
        enough to report, see `app.sim.nodes.metrics.add_fresh_pods`)."""
        with self._lock:
            self.pods = {**self.pods, **pods}

    def clear(self) -> None:
        """Forget every point (metrics-server stopped: a new one starts empty)."""
        self.replace({}, {}, None)

    def _fresh(self) -> None:
        if self.catch_up is not None:
            self.catch_up()

    def node(self, name: str) -> NodeSample | None:
        self._fresh()
        return self.nodes.get(name)

    def pod(self, namespace: str, name: str) -> PodSample | None:
        self._fresh()
        return self.pods.get((namespace, name))

    def pod_samples(self, namespace: str | None = None) -> list[PodSample]:
        self._fresh()
        pods = self.pods
        return [s for key, s in sorted(pods.items()) if namespace is None or key[0] == namespace]

    def node_samples(self) -> list[NodeSample]:
        self._fresh()
        nodes = self.nodes
        return [nodes[name] for name in sorted(nodes)]
