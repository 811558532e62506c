"""The kubelet's pod admission (pkg/kubelet/lifecycle/predicate.go): a pod bound to a
node, by the scheduler or written with `spec.nodeName` (which skips the scheduler), is
checked against the node before it runs. A pod that fails gets phase `Failed`, the
failing predicate as reason and `Pod was rejected: ...` as message (kubelet rejectPod),
and a Warning event with the same reason.

Checked, in upstream's order: the node's selector and required node affinity
(`NodeAffinity`: `Predicate NodeAffinity failed: node(s) didn't match Pod's node
affinity/selector`), then cpu, memory and pods against the node's allocatable minus
what the node's other active pods request (`OutOfcpu`, `OutOfmemory`, `OutOfpods`:
`Node didn't have enough resource: cpu, requested: 3000, used: 200, capacity: 2000`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.sim.machinery.quantity import QuantityError, resource_value

AFFINITY_MESSAGE = (
    "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
)
_REASONS = {"cpu": "OutOfcpu", "memory": "OutOfmemory", "pods": "OutOfpods"}


def _expression_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    fields = {"metadata.name": (node.get("metadata") or {}).get("name")}
    exprs = term.get("matchExpressions") or []
    by_field = term.get("matchFields") or []
    if not exprs and not by_field:
        return False  # an empty term matches no node
    return all(_expression_matches(e, labels.get(e.get("key"))) for e in exprs) and all(
        _expression_matches(e, fields.get(e.get("key"))) for e in by_field
    )


def affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution (terms ORed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    selector = pod_spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not affinity:
        return True
    return any(_term_matches(t, node) for t in affinity.get("nodeSelectorTerms") or [])


def pod_requests(pod_spec: Mapping[str, Any]) -> dict[str, int]:
    """cpu (millicores) and memory (bytes) requests: the containers' sum, or the largest
    init container when that is more, plus the pod overhead; and one pod."""
    total = {"cpu": 0, "memory": 0}

    def of(container: Mapping[str, Any], name: str) -> int:
        requests = (container.get("resources") or {}).get("requests") or {}
        try:
            return resource_value(name, requests[name]) if name in requests else 0
        except QuantityError:
            return 0

    for name in total:
        app = sum(of(c, name) for c in pod_spec.get("containers") or [])
        init = max((of(c, name) for c in pod_spec.get("initContainers") or []), default=0)
        overhead = of({"resources": {"requests": pod_spec.get("overhead") or {}}}, name)
        total[name] = max(app, init) + overhead
    return {**total, "pods": 1}


def _allocatable(node: Mapping[str, Any], name: str) -> int | None:
    raw = ((node.get("status") or {}).get("allocatable") or {}).get(name)
    if raw is None:
        return None
    try:
        return resource_value(name, raw)
    except QuantityError:
        return None


def admit(
    pod: Mapping[str, Any], node: Mapping[str, Any], others: Iterable[Mapping[str, Any]]
) -> tuple[str, str] | None:
    """(reason, message) when the kubelet rejects `pod` on `node`, else None. `others`
    are the node's other admitted pods that have not finished."""
    spec = pod.get("spec") or {}
    if not affinity_matches(spec, node):
        return "NodeAffinity", AFFINITY_MESSAGE
    wanted = pod_requests(spec)
    used = {name: 0 for name in wanted}
    for other in others:
        for name, amount in pod_requests(other.get("spec") or {}).items():
            used[name] += amount
    for name in ("cpu", "memory", "pods"):
        capacity = _allocatable(node, name)
        if capacity is None or (wanted[name] == 0 and name != "pods"):
            continue
        if used[name] + wanted[name] > capacity:
            return _REASONS[name], (
                f"Node didn't have enough resource: {name}, requested: {wanted[name]}, "
                f"used: {used[name]}, capacity: {capacity}"
            )
    return None
