"""NodeResourcesFit: the pod's requests must fit in what the node has left; scoring
prefers the least allocated node (default) or the most allocated one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import (
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_SCALE_DOWN,
    NODE_ADD,
    NODE_ALLOCATABLE_CHANGE,
)
from app.sim.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, Status
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo

NAME = "NodeResourcesFit"
# noderesources/fit.go: reasons are "Insufficient <resource name>" per resource, and
# "Too many pods" when the node's pod count (allocatable `pods`) is used up.
TOO_MANY_PODS = "Too many pods"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"


def least_requested_score(requested: int, capacity: int) -> int:
    """noderesources/least_allocated.go: free share of the node, 0..100."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    """noderesources/most_allocated.go: used share of the node, 0..100."""
    if capacity == 0:
        return 0
    requested = min(requested, capacity)
    return requested * MAX_NODE_SCORE // capacity


class NodeResourcesFit:
    name = NAME

    def __init__(
        self, strategy: str = LEAST_ALLOCATED, cpu_weight: int = 1, memory_weight: int = 1
    ):
        if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"scoring strategy {strategy!r} is not supported")
        self.strategy = strategy
        self._scorer = (
            least_requested_score if strategy == LEAST_ALLOCATED else most_requested_score
        )
        self.cpu_weight = cpu_weight
        self.memory_weight = memory_weight

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        want = pod.requests
        have = node.allocatable
        used = node.requested
        # Fast path: the common pod fits; reasons are only worked out on a miss.
        if (
            len(node.pods) < node.allowed_pods
            and want.milli_cpu <= have.milli_cpu - used.milli_cpu
            and want.memory <= have.memory - used.memory
            and want.ephemeral_storage <= have.ephemeral_storage - used.ephemeral_storage
            and not want.scalars
        ):
            return None
        return self._reasons(pod, node)

    def _reasons(self, pod: PodInfo, node: NodeInfo) -> Status | None:
        reasons: list[str] = []
        code = Code.UNSCHEDULABLE
        if len(node.pods) + 1 > node.allowed_pods:
            reasons.append(TOO_MANY_PODS)
        want = pod.requests
        have = node.allocatable
        used = node.requested
        if want.milli_cpu and want.milli_cpu > have.milli_cpu - used.milli_cpu:
            reasons.append("Insufficient cpu")
            # A request larger than the whole node cannot be helped by preemption
            # (InsufficientResource.Unresolvable, since 1.31).
            if want.milli_cpu > have.milli_cpu:
                code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        if want.memory and want.memory > have.memory - used.memory:
            reasons.append("Insufficient memory")
            if want.memory > have.memory:
                code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        if want.ephemeral_storage and (
            want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage
        ):
            reasons.append("Insufficient ephemeral-storage")
            if want.ephemeral_storage > have.ephemeral_storage:
                code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        for name, amount in want.scalars.items():
            if amount and amount > have.scalars.get(name, 0) - used.scalars.get(name, 0):
                reasons.append(f"Insufficient {name}")
                if amount > have.scalars.get(name, 0):
                    code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        if not reasons:
            return None
        return Status(code, tuple(reasons), NAME)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Weighted mean over cpu and memory of the strategy's per-resource score,
        using non-zero requests (a container without requests counts 100m / 200Mi)."""
        if self.strategy == LEAST_ALLOCATED and self.cpu_weight == self.memory_weight == 1:
            cpu_capacity = node.allocatable.milli_cpu
            memory_capacity = node.allocatable.memory
            if cpu_capacity and memory_capacity:
                # least_requested_score for both resources, inlined for speed.
                cpu = node.non_zero_cpu + pod.non_zero_cpu
                memory = node.non_zero_memory + pod.non_zero_memory
                cpu_score = (
                    (cpu_capacity - cpu) * MAX_NODE_SCORE // cpu_capacity
                    if cpu <= cpu_capacity
                    else 0
                )
                memory_score = (
                    (memory_capacity - memory) * MAX_NODE_SCORE // memory_capacity
                    if memory <= memory_capacity
                    else 0
                )
                return (cpu_score + memory_score) // 2
        scorer = self._scorer
        total = weights = 0
        capacity = node.allocatable.milli_cpu
        if capacity:
            total += scorer(node.non_zero_cpu + pod.non_zero_cpu, capacity) * self.cpu_weight
            weights += self.cpu_weight
        capacity = node.allocatable.memory
        if capacity:
            requested = node.non_zero_memory + pod.non_zero_memory
            total += scorer(requested, capacity) * self.memory_weight
            weights += self.memory_weight
        return total // weights if weights else 0

    def events_to_register(self) -> frozenset[str]:
        return frozenset(
            {NODE_ADD, NODE_ALLOCATABLE_CHANGE, ASSIGNED_POD_DELETE, ASSIGNED_POD_SCALE_DOWN}
        )


def new(args: Mapping[str, Any]) -> NodeResourcesFit:
    """Args as upstream NodeResourcesFitArgs: `scoringStrategy: {type, resources}`."""
    strategy = args.get("scoringStrategy") or {}
    weights = {r.get("name"): int(r.get("weight") or 1) for r in strategy.get("resources") or ()}
    return NodeResourcesFit(
        strategy.get("type") or LEAST_ALLOCATED,
        cpu_weight=weights.get("cpu", 1),
        memory_weight=weights.get("memory", 1),
    )
