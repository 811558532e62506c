"""NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes; preferred
node affinity terms add their weights to a node's score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import NODE_ADD, NODE_LABEL_CHANGE
from app.sim.scheduler.framework import (
    SKIP,
    CycleState,
    StateKey,
    Status,
    default_normalize_score,
    unresolvable,
)
from app.sim.scheduler.plugins.helpers import pod_matches_node_selector_and_affinity, term_matches
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

NAME = "NodeAffinity"
# nodeaffinity/node_affinity.go ErrReasonPod
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_REJECT = unresolvable(NAME, ERR_REASON_POD)
_PREFERRED: StateKey[list[tuple[Mapping[str, Any], int]]] = StateKey("PreScoreNodeAffinity")
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED_FIELD = "preferredDuringSchedulingIgnoredDuringExecution"


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        spec = pod.pod.get("spec") or {}
        node_affinity = (pod.affinity.get("nodeAffinity") or {}).get(_REQUIRED)
        if not spec.get("nodeSelector") and node_affinity is None:
            return SKIP
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod_matches_node_selector_and_affinity(pod.pod.get("spec") or {}, node):
            return None
        return _REJECT

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        preferred = (pod.affinity.get("nodeAffinity") or {}).get(_PREFERRED_FIELD) or ()
        terms = [
            (item.get("preference") or {}, int(item.get("weight") or 0))
            for item in preferred
            if int(item.get("weight") or 0) != 0
        ]
        if not terms:
            return SKIP
        state.write(_PREFERRED, terms)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Sum of the weights of the preferred terms the node matches."""
        return sum(weight for term, weight in state.read(_PREFERRED) if term_matches(term, node))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores)

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD, NODE_LABEL_CHANGE})


def new(args: Mapping[str, Any]) -> NodeAffinity:
    return NodeAffinity()
