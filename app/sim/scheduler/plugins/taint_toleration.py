"""TaintToleration: NoSchedule/NoExecute taints repel pods that do not tolerate them;
PreferNoSchedule taints only lower the node's score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import NODE_ADD, NODE_TAINT_CHANGE
from app.sim.scheduler.framework import (
    CycleState,
    StateKey,
    Status,
    default_normalize_score,
    unresolvable,
)
from app.sim.scheduler.plugins.helpers import find_untolerated, tolerates
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

NAME = "TaintToleration"
# 1.35 wording: the taint's key and value are no longer printed (earlier releases said
# "node(s) had untolerated taint {key: value}").
ERR_REASON_NOT_MATCH = "node(s) had untolerated taint(s)"
_REJECT = unresolvable(NAME, ERR_REASON_NOT_MATCH)
_PRESCORE: StateKey[tuple[Mapping[str, Any], ...]] = StateKey("PreScoreTaintToleration")


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.no_schedule_taints:
            return None
        if find_untolerated(node.no_schedule_taints, pod.tolerations) is None:
            return None
        return _REJECT

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        # Tolerations without an effect tolerate every effect, PreferNoSchedule included.
        prefer = tuple(
            t for t in pod.tolerations if t.get("effect") in (None, "", "PreferNoSchedule")
        )
        state.write(_PRESCORE, prefer)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Number of PreferNoSchedule taints the pod does not tolerate (lower is better)."""
        if not node.prefer_no_schedule_taints:
            return 0
        prefer = state.read(_PRESCORE)
        return sum(
            1
            for taint in node.prefer_no_schedule_taints
            if not any(tolerates(t, taint) for t in prefer)
        )

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD, NODE_TAINT_CHANGE})


def new(args: Mapping[str, Any]) -> TaintToleration:
    return TaintToleration()
