"""The scheduler's view of the cluster: one `NodeInfo` per node, updated incrementally.

A `NodeInfo` keeps what the Filter and Score plugins ask for on every cycle already
summed up: the node's allocatable resources, the requests of the pods on it, the host
ports they use, the images it holds. `Snapshot` indexes nodes by name and pods by uid,
plus the few other kinds the plugins read (namespaces, claims, volumes, storage classes,
priority classes, disruption budgets). Adding or removing a pod touches one NodeInfo,
so scheduling thousands of pods never rebuilds the whole view.

A NodeInfo also keeps, per `PodMatcher` a plugin asked about (namespaces + label
selector, e.g. "pods of this Deployment"), how many of its pods match, updated as pods
are added and removed: PodTopologySpread and InterPodAffinity read these counts on
every cycle for every node, and recounting the pods each time made scheduling N owned
pods cost O(N^2).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from app.sim.machinery.quantity import QuantityError, resource_value, value
from app.sim.machinery.selectors import LabelSelector
from app.sim.scheduler.podinfo import PodInfo, Resource

# kubelet's default --max-pods; used when a hand-written Node has no `pods` allocatable.
DEFAULT_MAX_PODS = 110
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def normalized_image_name(name: str) -> str:
    """Image name as the kubelet reports it: a missing tag means `:latest`.

    Upstream ImageLocality compares `normalizedImageName` of the pod's image with the
    names in `node.status.images`; digests (`@sha256:`) are kept as they are.
    """
    if "@" in name:
        return name
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return name + ":latest"
    return name


# Most matchers one node keeps counts for; past it the counts are dropped and
# recounted on demand (a bound on memory, not on correctness).
MAX_MATCHERS_PER_NODE = 128
_MAX_VERDICTS = 4096


class PodMatcher:
    """Which pods a plugin counts: namespaces, a label selector, terminating or not.

    Hashable by identity: a plugin keeps one matcher per distinct (namespaces,
    selector) and reuses it across cycles, so every NodeInfo keeps one count for it.
    Selector verdicts are memoised per label set (replicas share their labels).
    """

    __slots__ = ("_verdicts", "count_terminating", "namespaces", "selector")

    def __init__(
        self,
        namespaces: frozenset[str],
        selector: LabelSelector,
        *,
        count_terminating: bool = False,
    ) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.count_terminating = count_terminating
        self._verdicts: dict[str, bool] = {}

    def matches(self, pod: PodInfo) -> bool:
        if pod.namespace not in self.namespaces or (pod.terminating and not self.count_terminating):
            return False
        verdict = self._verdicts.get(pod.labels_key)
        if verdict is None:
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            verdict = self.selector.matches(pod.labels)
            self._verdicts[pod.labels_key] = verdict
        return verdict

    def __repr__(self) -> str:
        return f"PodMatcher({sorted(self.namespaces)}, {self.selector})"


# Distinct matchers a plugin instance keeps before starting over.
MAX_MATCHERS = 1024


class Matchers:
    """One `PodMatcher` per (namespaces, selector, terminating), reused across cycles
    so the per-node counts kept for it stay warm. Each plugin instance has its own."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[tuple[frozenset[str], LabelSelector, bool], PodMatcher] = {}

    def get(
        self,
        namespaces: frozenset[str],
        selector: LabelSelector,
        *,
        count_terminating: bool = False,
    ) -> PodMatcher:
        key = (namespaces, selector, count_terminating)
        matcher = self._by_key.get(key)
        if matcher is None:
            if len(self._by_key) >= MAX_MATCHERS:
                self._by_key.clear()
            matcher = PodMatcher(namespaces, selector, count_terminating=count_terminating)
            self._by_key[key] = matcher
        return matcher


class NodeInfo:
    """A node and the pods assigned to it, with their summed requests and ports."""

    __slots__ = (
        "allocatable",
        "allowed_pods",
        "image_sizes",
        "labels",
        "match_counts",
        "name",
        "no_schedule_taints",
        "node",
        "non_zero_cpu",
        "non_zero_memory",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "prefer_no_schedule_taints",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Mapping[str, Any]) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        # (protocol, port) -> host IPs using it (a multiset: two pods may share 127.0.0.1
        # only on different ports, but removal must undo exactly one use).
        self.used_ports: dict[tuple[str, int], Counter[str]] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        # PodMatcher -> how many pods on this node it matches (kept up to date).
        self.match_counts: dict[PodMatcher, int] = {}
        self.set_node(node)

    def set_node(self, node: Mapping[str, Any]) -> None:
        """(Re)read the Node object; the pods on it are kept.

        Raises ValueError when the node's allocatable holds a malformed quantity.
        """
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name: str = meta.get("name") or ""
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.unschedulable = bool(spec.get("unschedulable"))
        self.taints: tuple[Mapping[str, Any], ...] = tuple(spec.get("taints") or ())
        self.no_schedule_taints = tuple(
            t for t in self.taints if t.get("effect") in ("NoSchedule", "NoExecute")
        )
        self.prefer_no_schedule_taints = tuple(
            t for t in self.taints if t.get("effect") == "PreferNoSchedule"
        )
        raw = status.get("allocatable") or status.get("capacity") or {}
        try:
            self.allocatable = Resource.from_list(raw)
            self.allowed_pods = value(raw["pods"]) if "pods" in raw else DEFAULT_MAX_PODS
        except QuantityError as exc:
            raise ValueError(f"node {self.name}: {exc}") from exc
        sizes: dict[str, int] = {}
        for image in status.get("images") or ():
            size = int(image.get("sizeBytes") or 0)
            for name in image.get("names") or ():
                sizes[normalized_image_name(name)] = size
        self.image_sizes = sizes

    def add_pod(self, pod: PodInfo) -> None:
        """Account a pod on this node (its requests, ports and affinity terms)."""
        self.pods[pod.uid] = pod
        self.requested.add(pod.requests)
        self.non_zero_cpu += pod.non_zero_cpu
        self.non_zero_memory += pod.non_zero_memory
        for ip, protocol, port in pod.host_ports:
            self.used_ports.setdefault((protocol, port), Counter())[ip] += 1
        if pod.has_affinity:
            self.pods_with_affinity[pod.uid] = pod
            if pod.required_anti_affinity:
                self.pods_with_required_anti_affinity[pod.uid] = pod
        counts = self.match_counts
        for matcher in counts:
            if matcher.matches(pod):
                counts[matcher] += 1

    def remove_pod(self, uid: str) -> PodInfo | None:
        """Undo `add_pod` for the pod with this uid; returns it, or None if absent."""
        pod = self.pods.pop(uid, None)
        if pod is None:
            return None
        self.requested.subtract(pod.requests)
        self.non_zero_cpu -= pod.non_zero_cpu
        self.non_zero_memory -= pod.non_zero_memory
        for ip, protocol, port in pod.host_ports:
            users = self.used_ports.get((protocol, port))
            if users is not None:
                users[ip] -= 1
                if users[ip] <= 0:
                    del users[ip]
                if not users:
                    del self.used_ports[(protocol, port)]
        self.pods_with_affinity.pop(uid, None)
        self.pods_with_required_anti_affinity.pop(uid, None)
        counts = self.match_counts
        for matcher in counts:
            if matcher.matches(pod):
                counts[matcher] -= 1
        return pod

    def count_matching(self, matcher: PodMatcher) -> int:
        """How many pods on this node `matcher` selects: counted once, then kept."""
        count = self.match_counts.get(matcher)
        if count is None:
            if len(self.match_counts) >= MAX_MATCHERS_PER_NODE:
                self.match_counts.clear()
            count = sum(1 for p in self.pods.values() if matcher.matches(p))
            self.match_counts[matcher] = count
        return count

    def port_conflicts(self, ports: Iterable[tuple[str, str, int]]) -> bool:
        """True when any wanted (hostIP, protocol, hostPort) is already taken here.

        0.0.0.0 means every address, so it conflicts with any IP on the same port.
        """
        for ip, protocol, port in ports:
            users = self.used_ports.get((protocol, port))
            if not users:
                continue
            if ip == "0.0.0.0" or "0.0.0.0" in users or ip in users:
                return True
        return False

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


class Snapshot:
    """Nodes, their pods and the storage/priority objects the plugins consult.

    Build with `Snapshot.build(nodes=..., pods=...)` from JSON-shaped objects; keep it
    current with `add_pod`, `remove_pod`, `set_node` and `remove_node`.
    """

    def __init__(self) -> None:
        self.node_infos: dict[str, NodeInfo] = {}
        self.node_list: list[NodeInfo] = []
        self.pod_nodes: dict[str, str] = {}
        self.image_node_counts: Counter[str] = Counter()
        self.namespace_labels: dict[str, Mapping[str, str]] = {}
        self.claims: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.volumes: dict[str, Mapping[str, Any]] = {}
        self.storage_classes: dict[str, Mapping[str, Any]] = {}
        self.priority_classes: dict[str, int] = {}
        self.default_priority = 0
        self.disruption_budgets: list[Mapping[str, Any]] = []
        # uid -> (PodInfo, node): pods that preemption nominated to a node, so lower
        # priority pods do not take the room freed for them.
        self.nominated: dict[str, tuple[PodInfo, str]] = {}

    @classmethod
    def build(
        cls,
        nodes: Iterable[Mapping[str, Any]] = (),
        pods: Iterable[Mapping[str, Any]] = (),
        *,
        namespaces: Iterable[Mapping[str, Any]] = (),
        claims: Iterable[Mapping[str, Any]] = (),
        volumes: Iterable[Mapping[str, Any]] = (),
        storage_classes: Iterable[Mapping[str, Any]] = (),
        priority_classes: Iterable[Mapping[str, Any]] = (),
        disruption_budgets: Iterable[Mapping[str, Any]] = (),
    ) -> Snapshot:
        """Snapshot of the given objects. Pods without `spec.nodeName`, on unknown nodes,
        or in phase Succeeded/Failed are left out, as the scheduler cache does.

        Raises ValueError on a malformed resource quantity.
        """
        snap = cls()
        snap.set_priority_classes(priority_classes)
        for node in nodes:
            snap.set_node(node)
        for ns in namespaces:
            meta = ns.get("metadata") or {}
            snap.namespace_labels[meta.get("name") or ""] = meta.get("labels") or {}
        for claim in claims:
            meta = claim.get("metadata") or {}
            snap.claims[(meta.get("namespace") or "default", meta.get("name") or "")] = claim
        for volume in volumes:
            snap.volumes[(volume.get("metadata") or {}).get("name") or ""] = volume
        for sc in storage_classes:
            snap.storage_classes[(sc.get("metadata") or {}).get("name") or ""] = sc
        snap.disruption_budgets = list(disruption_budgets)
        for pod in pods:
            if counts_on_node(pod):
                snap.add_pod(PodInfo(pod, snap.priority_of(pod)))
        return snap

    # ---- priority ------------------------------------------------------------------

    def set_priority_classes(self, priority_classes: Iterable[Mapping[str, Any]]) -> None:
        """Index PriorityClasses by name and remember the globalDefault one's value."""
        self.priority_classes = {}
        self.default_priority = 0
        for pc in priority_classes:
            name = (pc.get("metadata") or {}).get("name") or ""
            self.priority_classes[name] = int(pc.get("value") or 0)
            if pc.get("globalDefault"):
                self.default_priority = int(pc.get("value") or 0)

    def priority_of(self, pod: Mapping[str, Any]) -> int:
        """`spec.priority` if admission set it, else the value of `priorityClassName`,
        else the globalDefault class, else 0 (upstream `corev1helpers.PodPriority`)."""
        spec = pod.get("spec") or {}
        if spec.get("priority") is not None:
            return int(spec["priority"])
        class_name = spec.get("priorityClassName")
        if class_name and class_name in self.priority_classes:
            return self.priority_classes[class_name]
        return self.default_priority

    # ---- nodes ---------------------------------------------------------------------

    def set_node(self, node: Mapping[str, Any]) -> NodeInfo:
        """Add a node or replace its object (pods stay). Raises ValueError on bad quantities."""
        name = (node.get("metadata") or {}).get("name") or ""
        info = self.node_infos.get(name)
        if info is None:
            info = NodeInfo(node)
            self.node_infos[name] = info
            self.node_list.append(info)
            self.node_list.sort(key=lambda n: n.name)
        else:
            for image in info.image_sizes:
                self.image_node_counts[image] -= 1
            info.set_node(node)
        for image in info.image_sizes:
            self.image_node_counts[image] += 1
        return info

    def remove_node(self, name: str) -> None:
        """Forget a node and the pods accounted on it."""
        info = self.node_infos.pop(name, None)
        if info is None:
            return
        self.node_list.remove(info)
        for image in info.image_sizes:
            self.image_node_counts[image] -= 1
        for uid in info.pods:
            self.pod_nodes.pop(uid, None)

    def get(self, name: str) -> NodeInfo | None:
        return self.node_infos.get(name)

    # ---- pods ----------------------------------------------------------------------

    def add_pod(self, pod: PodInfo, node_name: str | None = None) -> bool:
        """Account `pod` on `node_name` (default: its spec.nodeName).

        Returns False when that node is unknown (the pod is then not accounted).
        """
        node_name = node_name or pod.node_name
        info = self.node_infos.get(node_name)
        if info is None:
            return False
        if pod.uid in self.pod_nodes:
            self.remove_pod(pod.uid)
        info.add_pod(pod)
        self.pod_nodes[pod.uid] = node_name
        return True

    def remove_pod(self, uid: str) -> PodInfo | None:
        """Stop accounting the pod with this uid; returns its PodInfo if it was known."""
        node_name = self.pod_nodes.pop(uid, None)
        if node_name is None:
            return None
        info = self.node_infos.get(node_name)
        return info.remove_pod(uid) if info is not None else None

    def pod(self, uid: str) -> PodInfo | None:
        node_name = self.pod_nodes.get(uid)
        if node_name is None:
            return None
        return self.node_infos[node_name].pods.get(uid)

    def all_pods(self) -> Iterable[tuple[NodeInfo, PodInfo]]:
        for info in self.node_list:
            for pod in info.pods.values():
                yield info, pod

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        return [n for n in self.node_list if n.pods_with_affinity]

    def nominate(self, pod: PodInfo, node_name: str | None) -> None:
        """Record (or with None, clear) the node preemption reserved for `pod`."""
        if node_name:
            self.nominated[pod.uid] = (pod, node_name)
        else:
            self.nominated.pop(pod.uid, None)


def counts_on_node(pod: Mapping[str, Any]) -> bool:
    """Whether a pod occupies its node: bound and not finished (Succeeded/Failed)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return bool(spec.get("nodeName")) and status.get("phase") not in _TERMINAL_PHASES


def storage_request(claim: Mapping[str, Any]) -> int:
    """Bytes a PersistentVolumeClaim asks for (0 when it names none)."""
    raw = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return resource_value("storage", raw["storage"]) if "storage" in raw else 0
