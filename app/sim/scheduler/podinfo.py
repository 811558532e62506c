"""Pods as the scheduler sees them: requests, ports, affinity terms, parsed once.

The scheduler reads the same pod many times per cycle (once per node per plugin), so a
`PodInfo` turns the JSON-shaped Pod into plain attributes up front, as upstream's
`framework.PodInfo` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.machinery.errors import ApiError
from app.sim.machinery.quantity import QuantityError, resource_value
from app.sim.machinery.selectors import LabelSelector, Requirement, selector_from_object

# pkg/scheduler/util/pod_resources.go: a container without a request is scored as if
# it asked for 100m CPU and 200Mi memory (used by LeastAllocated, not by Filter).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
DEFAULT_SCHEDULER_NAME = "default-scheduler"

_MATCH_NOTHING = LabelSelector(match_nothing=True)


class Resource:
    """Amounts of compute resources: millicores, bytes, and other names by value."""

    __slots__ = ("ephemeral_storage", "memory", "milli_cpu", "scalars")

    def __init__(
        self,
        milli_cpu: int = 0,
        memory: int = 0,
        ephemeral_storage: int = 0,
        scalars: dict[str, int] | None = None,
    ) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.scalars: dict[str, int] = scalars or {}

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resource:
        """Build from a ResourceList (`{"cpu": "500m", "memory": "1Gi"}`); `pods` is ignored.

        Raises ValueError for a value that is not a quantity.
        """
        out = cls()
        for name, raw in (resources or {}).items():
            amount = resource_value(name, raw)
            if name == CPU:
                out.milli_cpu = amount
            elif name == MEMORY:
                out.memory = amount
            elif name == EPHEMERAL_STORAGE:
                out.ephemeral_storage = amount
            elif name != PODS:
                out.scalars[name] = amount
        return out

    def copy(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, dict(self.scalars))

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        for name, amount in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + amount

    def subtract(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        for name, amount in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) - amount

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        for name, amount in other.scalars.items():
            self.scalars[name] = max(self.scalars.get(name, 0), amount)

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        return self.scalars.get(name, 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return (
            self.milli_cpu == other.milli_cpu
            and self.memory == other.memory
            and self.ephemeral_storage == other.ephemeral_storage
            and {k: v for k, v in self.scalars.items() if v}
            == {k: v for k, v in other.scalars.items() if v}
        )

    def __repr__(self) -> str:
        return (
            f"Resource(milli_cpu={self.milli_cpu}, memory={self.memory}, "
            f"ephemeral_storage={self.ephemeral_storage}, scalars={self.scalars})"
        )


def _container_requests(container: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = container.get("resources") or {}
    requests = resources.get("requests")
    limits = resources.get("limits")
    if not limits:
        return requests or {}
    # The API server defaults a missing request to the limit (core/v1 defaults.go
    # SetDefaults_Pod); do it here too in case the store has not.
    merged = dict(limits)
    merged.update(requests or {})
    return merged


def pod_requests(pod: Mapping[str, Any]) -> Resource:
    """Effective requests of a pod, as upstream `resourcehelper.PodRequests`.

    Sum of the app containers; init containers run one at a time, so each counts alone
    (plus the sidecars started before it) and the pod needs the larger of the two;
    restartable init containers (sidecars) also run beside the app containers. Pod
    overhead is added last. Pod-level `spec.resources.requests` replace the per-container
    sums for the resources they name. Raises ValueError on a malformed quantity.
    """
    spec = pod.get("spec") or {}
    total = Resource()
    for container in spec.get("containers") or ():
        total.add(Resource.from_list(_container_requests(container)))
    sidecars = Resource()
    init_max = Resource()
    for container in spec.get("initContainers") or ():
        own = Resource.from_list(_container_requests(container))
        if container.get("restartPolicy") == "Always":
            total.add(own)
            sidecars.add(own)
            init_max.set_max(sidecars)
        else:
            own.add(sidecars)
            init_max.set_max(own)
    total.set_max(init_max)
    pod_level = (spec.get("resources") or {}).get("requests")
    if pod_level:
        explicit = Resource.from_list(pod_level)
        for name in pod_level:
            if name == CPU:
                total.milli_cpu = explicit.milli_cpu
            elif name == MEMORY:
                total.memory = explicit.memory
    overhead = spec.get("overhead")
    if overhead:
        total.add(Resource.from_list(overhead))
    return total


def pod_non_zero_requests(pod: Mapping[str, Any]) -> tuple[int, int]:
    """(millicores, bytes) for scoring: each container's missing request counts as the default."""
    spec = pod.get("spec") or {}
    cpu = memory = 0
    for container in spec.get("containers") or ():
        requests = _container_requests(container)
        cpu += resource_value(CPU, requests[CPU]) if CPU in requests else DEFAULT_MILLI_CPU_REQUEST
        memory += (
            resource_value(MEMORY, requests[MEMORY])
            if MEMORY in requests
            else DEFAULT_MEMORY_REQUEST
        )
    init_cpu = init_memory = 0
    for container in spec.get("initContainers") or ():
        requests = _container_requests(container)
        c_cpu = resource_value(CPU, requests[CPU]) if CPU in requests else DEFAULT_MILLI_CPU_REQUEST
        c_mem = (
            resource_value(MEMORY, requests[MEMORY])
            if MEMORY in requests
            else DEFAULT_MEMORY_REQUEST
        )
        if container.get("restartPolicy") == "Always":
            cpu += c_cpu
            memory += c_mem
        init_cpu = max(init_cpu, c_cpu)
        init_memory = max(init_memory, c_mem)
    cpu = max(cpu, init_cpu)
    memory = max(memory, init_memory)
    overhead = spec.get("overhead") or {}
    if CPU in overhead:
        cpu += resource_value(CPU, overhead[CPU])
    if MEMORY in overhead:
        memory += resource_value(MEMORY, overhead[MEMORY])
    return cpu, memory


def safe_selector(raw: Mapping[str, Any] | None) -> LabelSelector:
    """A LabelSelector object as a selector; an invalid one matches nothing."""
    try:
        return selector_from_object(raw)
    except ApiError:
        return _MATCH_NOTHING


class AffinityTerm:
    """A parsed PodAffinityTerm: which pods (selector + namespaces) in which topology."""

    __slots__ = (
        "_label_matches",
        "namespace_selector",
        "namespaces",
        "selector",
        "topology_key",
        "weight",
    )

    def __init__(
        self, raw: Mapping[str, Any], owner_namespace: str, owner_labels: Mapping[str, str]
    ) -> None:
        selector = safe_selector(raw.get("labelSelector"))
        # matchLabelKeys / mismatchLabelKeys (beta, on by default since 1.31) merge the
        # incoming pod's own label values into the selector.
        extra: list[Requirement] = []
        for key in raw.get("matchLabelKeys") or ():
            if key in owner_labels:
                extra.append(Requirement(key, "in", (owner_labels[key],)))
        for key in raw.get("mismatchLabelKeys") or ():
            if key in owner_labels:
                extra.append(Requirement(key, "notin", (owner_labels[key],)))
        if extra and not selector.match_nothing:
            selector = LabelSelector((*selector.requirements, *extra))
        self.selector = selector
        self.topology_key: str = raw.get("topologyKey") or ""
        namespaces = set(raw.get("namespaces") or ())
        ns_selector_raw = raw.get("namespaceSelector")
        self.namespace_selector: LabelSelector | None = (
            safe_selector(ns_selector_raw) if ns_selector_raw is not None else None
        )
        # A term with neither namespaces nor namespaceSelector means "my namespace".
        if not namespaces and ns_selector_raw is None:
            namespaces = {owner_namespace}
        self.namespaces = frozenset(namespaces)
        self.weight = 0
        # labels_key -> selector verdict: replicas share labels, and a term is checked
        # against every placed pod on every cycle.
        self._label_matches: dict[str, bool] = {}

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
        """Whether `pod` is selected by this term (namespace and labels)."""
        if pod.namespace not in self.namespaces and (
            self.namespace_selector is None
            or not self.namespace_selector.matches(namespace_labels.get(pod.namespace, {}))
        ):
            return False
        verdict = self._label_matches.get(pod.labels_key)
        if verdict is None:
            if len(self._label_matches) > 1024:
                self._label_matches.clear()
            verdict = self.selector.matches(pod.labels)
            self._label_matches[pod.labels_key] = verdict
        return verdict


def _weighted_terms(
    raw: list[Mapping[str, Any]] | None, namespace: str, labels: Mapping[str, str]
) -> tuple[AffinityTerm, ...]:
    out = []
    for item in raw or ():
        term = AffinityTerm(item.get("podAffinityTerm") or {}, namespace, labels)
        term.weight = int(item.get("weight") or 0)
        out.append(term)
    return tuple(out)


def _required_terms(
    raw: list[Mapping[str, Any]] | None, namespace: str, labels: Mapping[str, str]
) -> tuple[AffinityTerm, ...]:
    return tuple(AffinityTerm(item, namespace, labels) for item in raw or ())


class PodInfo:
    """A pod parsed for scheduling. Build with `PodInfo(pod_dict, priority)`.

    Raises ValueError when a resource quantity in the pod cannot be parsed.
    """

    __slots__ = (
        "affinity",
        "creation",
        "host_ports",
        "key",
        "labels",
        "labels_key",
        "name",
        "namespace",
        "node_name",
        "non_zero_cpu",
        "non_zero_memory",
        "pod",
        "preemption_policy",
        "preferred_affinity",
        "preferred_anti_affinity",
        "priority",
        "requests",
        "required_affinity",
        "required_anti_affinity",
        "scheduler_name",
        "terminating",
        "tolerations",
        "uid",
    )

    def __init__(self, pod: Mapping[str, Any], priority: int | None = None) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.name: str = meta.get("name") or ""
        self.namespace: str = meta.get("namespace") or "default"
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid") or self.key
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        # One string per label set (its hash is cached), for memoised selector checks.
        self.labels_key = "\n".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        self.creation: str = meta.get("creationTimestamp") or ""
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.node_name: str = spec.get("nodeName") or ""
        self.scheduler_name: str = spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME
        if priority is None:
            priority = int(spec.get("priority") or 0)
        self.priority = priority
        self.preemption_policy: str = spec.get("preemptionPolicy") or "PreemptLowerPriority"
        try:
            self.requests = pod_requests(pod)
            self.non_zero_cpu, self.non_zero_memory = pod_non_zero_requests(pod)
        except QuantityError as exc:
            raise ValueError(f"pod {self.key}: {exc}") from exc
        self.tolerations: tuple[Mapping[str, Any], ...] = tuple(spec.get("tolerations") or ())
        ports = []
        for container in spec.get("containers") or ():
            for port in container.get("ports") or ():
                host_port = int(port.get("hostPort") or 0)
                if host_port > 0:
                    ports.append(
                        (port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", host_port)
                    )
        self.host_ports: tuple[tuple[str, str, int], ...] = tuple(ports)
        affinity = spec.get("affinity") or {}
        self.affinity: Mapping[str, Any] = affinity
        pod_affinity = affinity.get("podAffinity") or {}
        pod_anti = affinity.get("podAntiAffinity") or {}
        ns, labels = self.namespace, self.labels
        req = "requiredDuringSchedulingIgnoredDuringExecution"
        pref = "preferredDuringSchedulingIgnoredDuringExecution"
        self.required_affinity = _required_terms(pod_affinity.get(req), ns, labels)
        self.required_anti_affinity = _required_terms(pod_anti.get(req), ns, labels)
        self.preferred_affinity = _weighted_terms(pod_affinity.get(pref), ns, labels)
        self.preferred_anti_affinity = _weighted_terms(pod_anti.get(pref), ns, labels)

    @property
    def has_affinity(self) -> bool:
        """True when the pod carries any pod (anti-)affinity term."""
        return bool(
            self.required_affinity
            or self.required_anti_affinity
            or self.preferred_affinity
            or self.preferred_anti_affinity
        )

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"
