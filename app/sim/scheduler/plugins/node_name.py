"""NodeName: a pod that names a node (`spec.nodeName`) fits only that node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import NODE_ADD
from app.sim.scheduler.framework import SKIP, CycleState, Status, unresolvable
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

NAME = "NodeName"
# nodename/node_name.go ErrReason
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = unresolvable(NAME, ERR_REASON)


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        # Pods reach the scheduler without spec.nodeName; nothing to check then.
        return None if pod.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.node_name or pod.node_name == node.name:
            return None
        return _REJECT

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD})


def new(args: Mapping[str, Any]) -> NodeName:
    return NodeName()
