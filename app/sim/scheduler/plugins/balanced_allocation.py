"""NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory would end up
used in the same proportion (1 - standard deviation of the used fractions)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import ASSIGNED_POD_DELETE, NODE_ADD, NODE_ALLOCATABLE_CHANGE
from app.sim.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Status
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

NAME = "NodeResourcesBalancedAllocation"


def balanced_score(fractions: list[float]) -> int:
    """noderesources/balanced_allocation.go `balancedResourceScorer` over used fractions
    (each capped at 1): two resources use |a - b| / 2, more use the population std."""
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        # A best-effort pod changes no balance; upstream skips scoring it (since 1.32).
        if not pod.requests.milli_cpu and not pod.requests.memory:
            return SKIP
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Uses actual requests (not the non-zero defaults), as upstream `useRequested`."""
        cpu_capacity = node.allocatable.milli_cpu
        memory_capacity = node.allocatable.memory
        if cpu_capacity and memory_capacity:
            # The common two-resource case, inlined: std = |a - b| / 2.
            cpu = (node.requested.milli_cpu + pod.requests.milli_cpu) / cpu_capacity
            memory = (node.requested.memory + pod.requests.memory) / memory_capacity
            std = abs(min(cpu, 1.0) - min(memory, 1.0)) / 2
            return int((1 - std) * MAX_NODE_SCORE)
        fractions = []
        if cpu_capacity:
            fractions.append(
                min((node.requested.milli_cpu + pod.requests.milli_cpu) / cpu_capacity, 1.0)
            )
        if memory_capacity:
            fractions.append(
                min((node.requested.memory + pod.requests.memory) / memory_capacity, 1.0)
            )
        return balanced_score(fractions)

    def events_to_register(self) -> frozenset[str]:
        return frozenset({NODE_ADD, NODE_ALLOCATABLE_CHANGE, ASSIGNED_POD_DELETE})


def new(args: Mapping[str, Any]) -> BalancedAllocation:
    return BalancedAllocation()
