"""NodePorts: a hostPort (with protocol and host IP) can be used by one pod per node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import ASSIGNED_POD_DELETE, NODE_ADD
from app.sim.scheduler.framework import SKIP, CycleState, Status, unschedulable
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

NAME = "NodePorts"
# nodeports/node_ports.go ErrReason
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = unschedulable(NAME, ERR_REASON)


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.port_conflicts(pod.host_ports):
            return _REJECT
        return None

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD, ASSIGNED_POD_DELETE})


def new(args: Mapping[str, Any]) -> NodePorts:
    return NodePorts()
