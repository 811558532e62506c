"""Matching rules several plugins share: tolerations and node selectors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.sim.machinery.matching import requirement_matches, tolerates
from app.sim.scheduler.snapshot import NodeInfo

__all__ = [
    "find_untolerated",
    "node_selector_matches",
    "pod_matches_node_selector_and_affinity",
    "requirement_matches",
    "term_matches",
    "tolerates",
]


def find_untolerated(
    taints: Iterable[Mapping[str, Any]], tolerations: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The first taint no toleration tolerates, or None."""
    tolerations = tuple(tolerations)
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def term_matches(term: Mapping[str, Any], node: NodeInfo) -> bool:
    """A NodeSelectorTerm: all expressions and fields must hold; an empty term matches
    nothing (upstream nodeaffinity `nodeSelectorTerm` semantics)."""
    expressions = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not expressions and not fields:
        return False
    labels = node.labels
    for expr in expressions:
        if not requirement_matches(expr, labels.get(expr.get("key") or "")):
            return False
    for expr in fields:
        # metadata.name is the only field a node selector may use.
        if expr.get("key") != "metadata.name":
            return False
        if not requirement_matches(expr, node.name):
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
