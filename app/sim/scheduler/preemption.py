"""Preemption: make room for a pod by evicting pods of lower priority from one node.

Upstream `DefaultPreemption` (framework/preemption/preemption.go): only nodes that
rejected the pod with `Unschedulable` (not `UnschedulableAndUnresolvable`) are tried.
On each, all lower-priority pods are removed; if the pod then fits, they are added
back one by one, most important first (PodDisruptionBudget-protected ones before the
rest), and those that no longer fit become the victims. One node is picked by: fewest
PDB violations, lowest highest-victim priority, lowest priority sum, fewest victims,
latest start of the most important victim, then node order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.sim.scheduler.framework import Code, CycleState, PostFilterResult, Status
from app.sim.scheduler.messages import (
    NO_VICTIMS_FOUND,
    NOT_ELIGIBLE_POLICY_NEVER,
    NOT_ELIGIBLE_TERMINATING,
    PREEMPTION_NOT_HELPFUL,
    preemption_message,
)
from app.sim.scheduler.podinfo import PodInfo, safe_selector
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

if TYPE_CHECKING:
    from app.sim.scheduler.framework import Framework

# preemption.go pickOneNodeForPreemption: priorities are shifted by MaxInt32 + 1 so a
# sum over more (negative-priority) victims is still larger.
_PRIORITY_OFFSET = 2**31
# The condition upstream puts on a victim before deleting it.
DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"


@dataclass(slots=True)
class Candidate:
    node: NodeInfo
    victims: list[PodInfo] = field(default_factory=list)
    pdb_violations: int = 0


def start_time(pod: PodInfo) -> str:
    """`status.startTime`, else creation time: RFC 3339 strings compare in time order."""
    return (pod.pod.get("status") or {}).get("startTime") or pod.creation


def importance_key(pod: PodInfo) -> tuple[int, str]:
    """Sort key putting more important pods first: higher priority, then started earlier
    (upstream `util.MoreImportantPod`)."""
    return (-pod.priority, start_time(pod))


def terminating_by_preemption(pod: PodInfo) -> bool:
    if not pod.terminating:
        return False
    for condition in (pod.pod.get("status") or {}).get("conditions") or ():
        if (
            condition.get("type") == DISRUPTION_TARGET
            and condition.get("reason") == PREEMPTION_BY_SCHEDULER
        ):
            return True
    return False


def eligible_to_preempt(
    pod: PodInfo, snapshot: Snapshot, statuses: Mapping[str, Status]
) -> tuple[bool, str]:
    """Whether the pod may preempt now, and the reason when it may not."""
    if pod.preemption_policy == "Never":
        return False, NOT_ELIGIBLE_POLICY_NEVER
    nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
    if nominated:
        status = statuses.get(nominated)
        if status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            return True, ""
        node = snapshot.get(nominated)
        if node is not None:
            for other in node.pods.values():
                if other.priority < pod.priority and terminating_by_preemption(other):
                    # Wait for the earlier victims to go instead of evicting more.
                    return False, NOT_ELIGIBLE_TERMINATING
    return True, ""


class _Budget:
    __slots__ = ("allowed", "disrupted", "namespace", "selector")

    def __init__(self, pdb: Mapping[str, Any]) -> None:
        meta = pdb.get("metadata") or {}
        status = pdb.get("status") or {}
        self.namespace = meta.get("namespace") or "default"
        self.selector = safe_selector((pdb.get("spec") or {}).get("selector"))
        self.allowed = int(status.get("disruptionsAllowed") or 0)
        self.disrupted = set((status.get("disruptedPods") or {}).keys())


def _split_by_pdb(
    pods: list[PodInfo], budgets: list[_Budget]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non_violating): evicting a violating pod would break a budget."""
    allowed = [b.allowed for b in budgets]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        breaks = False
        for i, budget in enumerate(budgets):
            if budget.namespace != pod.namespace or pod.name in budget.disrupted:
                continue
            if not budget.selector.matches(pod.labels):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                breaks = True
        (violating if breaks else fine).append(pod)
    return violating, fine


class Evaluator:
    """Runs the preemption dry-run for one framework (its PreFilter and Filter plugins)."""

    def __init__(self, framework: Framework) -> None:
        self.framework = framework

    def _fits(self, pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> Status | None:
        state = CycleState()
        status = self.framework.run_pre_filter(state, pod, snapshot)
        if status is not None:
            return status
        return self.framework.run_filters_with_nominated(state, pod, node, snapshot)

    def select_victims(
        self, pod: PodInfo, node: NodeInfo, snapshot: Snapshot, budgets: list[_Budget]
    ) -> tuple[Candidate | None, Status | None]:
        """Victims on one node, or the status saying why preemption there cannot help."""
        lower = [p for p in node.pods.values() if p.priority < pod.priority]
        if not lower:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (NO_VICTIMS_FOUND,))
        for p in lower:
            snapshot.remove_pod(p.uid)
        removed = {p.uid: p for p in lower}
        try:
            status = self._fits(pod, node, snapshot)
            if status is not None:
                return None, status
            lower.sort(key=importance_key)
            violating, fine = _split_by_pdb(lower, budgets)
            candidate = Candidate(node)
            for group, is_violating in ((violating, True), (fine, False)):
                for p in group:
                    snapshot.add_pod(p, node.name)
                    del removed[p.uid]
                    if self._fits(pod, node, snapshot) is not None:
                        snapshot.remove_pod(p.uid)
                        removed[p.uid] = p
                        candidate.victims.append(p)
                        if is_violating:
                            candidate.pdb_violations += 1
            candidate.victims.sort(key=importance_key)
            return candidate, None
        finally:
            for p in removed.values():
                snapshot.add_pod(p, node.name)

    def preempt(
        self, state: CycleState, pod: PodInfo, snapshot: Snapshot, statuses: Mapping[str, Status]
    ) -> PostFilterResult:
        """Find the best node to preempt on; a failure carries upstream's message."""
        ok, reason = eligible_to_preempt(pod, snapshot, statuses)
        if not ok:
            return PostFilterResult(Status(Code.UNSCHEDULABLE, ("preemption: " + reason,)))
        budgets = [_Budget(p) for p in snapshot.disruption_budgets]
        node_statuses: dict[str, Status] = {}
        candidates: list[Candidate] = []
        for node in snapshot.node_list:
            status = statuses.get(node.name)
            if status is None or status.code != Code.UNSCHEDULABLE:
                node_statuses[node.name] = Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (PREEMPTION_NOT_HELPFUL,)
                )
                continue
            candidate, failure = self.select_victims(pod, node, snapshot, budgets)
            if candidate is None:
                node_statuses[node.name] = failure or Status(
                    Code.UNSCHEDULABLE, (NO_VICTIMS_FOUND,)
                )
            else:
                candidates.append(candidate)
        if not candidates:
            message = preemption_message(len(snapshot.node_list), node_statuses)
            # An empty nomination clears a stale status.nominatedNodeName.
            return PostFilterResult(Status(Code.UNSCHEDULABLE, (message,)), nominated_node="")
        best = pick_one_node(candidates)
        cleared = [
            other
            for other, node_name in snapshot.nominated.values()
            if node_name == best.node.name
            and other.priority < pod.priority
            and other.uid != pod.uid
        ]
        return PostFilterResult(
            Status(Code.SUCCESS),
            nominated_node=best.node.name,
            victims=best.victims,
            cleared_nominations=cleared,
        )


def pick_one_node(candidates: list[Candidate]) -> Candidate:
    """Upstream pickOneNodeForPreemption's tie-breakers, applied in order."""

    def key(c: Candidate) -> tuple[int, int, int, int, str]:
        if not c.victims:
            # A node that needs no eviction at all wins outright.
            return (-1, 0, 0, 0, "")
        highest = c.victims[0].priority
        total = sum(v.priority + _PRIORITY_OFFSET for v in c.victims)
        earliest = min(start_time(v) for v in c.victims if v.priority == highest)
        # Later start is better: invert the string order with a negated key below.
        return (c.pdb_violations, highest, total, len(c.victims), earliest)

    best = candidates[0]
    best_key = key(best)
    for c in candidates[1:]:
        k = key(c)
        if k[:4] < best_key[:4] or (k[:4] == best_key[:4] and k[4] > best_key[4]):
            best, best_key = c, k
    return best
