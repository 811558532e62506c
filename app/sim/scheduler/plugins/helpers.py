"""Matching rules several plugins share: tolerations and node selectors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.sim.scheduler.snapshot import NodeInfo


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Upstream `Toleration.ToleratesTaint`: effect and key must match when set;
    `Exists` ignores the value, `Equal` (the default) compares it."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def find_untolerated(
    taints: Iterable[Mapping[str, Any]], tolerations: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The first taint no toleration tolerates, or None."""
    tolerations = tuple(tolerations)
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _requirement_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    operator = expr.get("operator")
    values = expr.get("values") or ()
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def term_matches(term: Mapping[str, Any], node: NodeInfo) -> bool:
    """A NodeSelectorTerm: all expressions and fields must hold; an empty term matches
    nothing (upstream nodeaffinity `nodeSelectorTerm` semantics)."""
    expressions = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not expressions and not fields:
        return False
    labels = node.labels
    for expr in expressions:
        if not _requirement_matches(expr, labels.get(expr.get("key") or "")):
            return False
    for expr in fields:
        # metadata.name is the only field a node selector may use.
        if expr.get("key") != "metadata.name":
            return False
        if not _requirement_matches(expr, node.name):
            return False
    return True


def node_selector_matches(selector: Mapping[str, Any] | None, node: NodeInfo) -> bool:
    """A NodeSelector: terms are ORed; no terms match nothing."""
    terms = (selector or {}).get("nodeSelectorTerms") or ()
    return any(term_matches(term, node) for term in terms)


def pod_matches_node_selector_and_affinity(pod_spec: Mapping[str, Any], node: NodeInfo) -> bool:
    """`spec.nodeSelector` labels and the required node affinity both hold."""
    labels = node.labels
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return required is None or node_selector_matches(required, node)
