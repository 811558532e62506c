"""NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take no new pods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import NODE_ADD, NODE_TAINT_CHANGE
from app.sim.scheduler.framework import CycleState, Status, unresolvable
from app.sim.scheduler.plugins.helpers import tolerates
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo

NAME = "NodeUnschedulable"
# nodeunschedulable/node_unschedulable.go ErrReasonUnschedulable
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
# A cordoned node behaves as if tainted with this taint; tolerating it lets a pod in
# (v1.TaintNodeUnschedulable, added by the node lifecycle controller).
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECT = unresolvable(NAME, ERR_REASON_UNSCHEDULABLE)


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return None
        return _REJECT

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD, NODE_TAINT_CHANGE})


def new(args: Mapping[str, Any]) -> NodeUnschedulable:
    return NodeUnschedulable()
