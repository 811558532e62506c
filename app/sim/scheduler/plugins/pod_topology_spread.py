"""PodTopologySpread: keep matching pods evenly spread over topology domains.

`whenUnsatisfiable: DoNotSchedule` constraints filter: placing the pod must not make
`count(domain) - min(count over eligible domains)` exceed `maxSkew`.
`ScheduleAnyway` constraints (and the system defaults for pods owned by a workload)
only score: fewer matching pods in a node's domains score higher.

Counting is upstream's PreFilter/PreScore shape: one count per topology domain per
cycle, read from the per-node counts the snapshot keeps for each constraint's
`PodMatcher` (incremented as pods are assumed or bound, decremented as they go), so a
cycle costs one dictionary lookup per node and constraint, not a scan of every pod.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.sim.machinery.selectors import LabelSelector, Requirement
from app.sim.scheduler.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_LABEL_CHANGE,
    NODE_ADD,
    NODE_DELETE,
    NODE_LABEL_CHANGE,
    NODE_TAINT_CHANGE,
)
from app.sim.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    StateKey,
    Status,
    unresolvable,
    unschedulable,
)
from app.sim.scheduler.plugins.helpers import (
    find_untolerated,
    pod_matches_node_selector_and_affinity,
)
from app.sim.scheduler.podinfo import PodInfo, safe_selector
from app.sim.scheduler.snapshot import Matchers, NodeInfo, Snapshot

NAME = "PodTopologySpread"
# podtopologyspread/filtering.go error reasons
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
# podtopologyspread/plugin.go systemDefaultConstraints: used for pods that declare no
# constraints, with the selector of the workload that owns them.
SYSTEM_DEFAULT_CONSTRAINTS = (
    {"maxSkew": 3, "topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway"},
    {"maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"},
)
_WORKLOAD_KINDS = frozenset({"ReplicaSet", "StatefulSet", "ReplicationController"})

_REJECT_SKEW = unschedulable(NAME, ERR_REASON_CONSTRAINTS_NOT_MATCH)
_REJECT_LABEL = unresolvable(NAME, ERR_REASON_NODE_LABEL_NOT_MATCH)


class Constraint:
    __slots__ = (
        "matcher",
        "max_skew",
        "min_domains",
        "node_affinity_policy",
        "node_taints_policy",
        "selector",
        "topology_key",
    )

    def __init__(
        self,
        raw: Mapping[str, Any],
        pod_labels: Mapping[str, str],
        namespace: str = "default",
        matchers: Matchers | None = None,
    ) -> None:
        self.max_skew = int(raw.get("maxSkew") or 1)
        self.topology_key: str = raw.get("topologyKey") or ""
        self.min_domains = int(raw.get("minDomains") or 1)
        self.node_affinity_policy = raw.get("nodeAffinityPolicy") or "Honor"
        self.node_taints_policy = raw.get("nodeTaintsPolicy") or "Ignore"
        selector = safe_selector(raw.get("labelSelector"))
        # matchLabelKeys: the pod's own values for these keys join the selector
        # (so one Deployment revision spreads against itself).
        extra = [
            Requirement(key, "in", (pod_labels[key],))
            for key in raw.get("matchLabelKeys") or ()
            if key in pod_labels
        ]
        if extra and not selector.match_nothing:
            selector = LabelSelector((*selector.requirements, *extra))
        self.selector = selector
        # The pods this constraint counts: same namespace, not terminating, selected.
        self.matcher = (matchers or Matchers()).get(frozenset((namespace,)), selector)

    def includes_node(self, pod: PodInfo, node: NodeInfo) -> bool:
        """nodeAffinityPolicy / nodeTaintsPolicy: whether the node's domain counts."""
        if self.node_affinity_policy == "Honor" and not pod_matches_node_selector_and_affinity(
            pod.pod.get("spec") or {}, node
        ):
            return False
        return not (
            self.node_taints_policy == "Honor"
            and find_untolerated(node.no_schedule_taints, pod.tolerations)
        )


def _constraints(pod: PodInfo, mode: str, matchers: Matchers) -> list[Constraint]:
    raw = (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or ()
    return [
        Constraint(c, pod.labels, pod.namespace, matchers)
        for c in raw
        if c.get("whenUnsatisfiable") == mode
    ]


def _system_default_constraints(pod: PodInfo, matchers: Matchers) -> list[Constraint]:
    # Upstream derives the selector from the Services, ReplicaSets and StatefulSets
    # selecting the pod; the simulator approximates it with the pod's own labels when
    # a workload controller owns the pod.
    owners = (pod.pod.get("metadata") or {}).get("ownerReferences") or ()
    if not pod.labels or not any(o.get("kind") in _WORKLOAD_KINDS for o in owners):
        return []
    selector = {"matchLabels": dict(pod.labels)}
    return [
        Constraint({**c, "labelSelector": selector}, {}, pod.namespace, matchers)
        for c in SYSTEM_DEFAULT_CONSTRAINTS
    ]


class _FilterState:
    __slots__ = ("constraints", "domain_counts", "min_counts")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.domain_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.min_counts: list[int] = []


class _ScoreState:
    __slots__ = ("constraints", "domain_counts", "ignored", "weights")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.domain_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.weights: list[float] = []
        self.ignored: set[str] = set()


_FILTER: StateKey[_FilterState] = StateKey("PreFilterPodTopologySpread")
_SCORE: StateKey[_ScoreState] = StateKey("PreScorePodTopologySpread")
_SCORE_NODES: StateKey[list[str]] = StateKey("PreScorePodTopologySpreadNodes")


def _has_all_keys(node: NodeInfo, constraints: list[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


class PodTopologySpread:
    name = NAME

    def __init__(self) -> None:
        self.matchers = Matchers()

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        constraints = _constraints(pod, "DoNotSchedule", self.matchers)
        if not constraints:
            return SKIP
        data = _FilterState(constraints)
        for node in snapshot.node_list:
            if not _has_all_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes_node(pod, node):
                    continue
                value = node.labels[c.topology_key]
                counts = data.domain_counts[i]
                counts[value] = counts.get(value, 0) + node.count_matching(c.matcher)
        for i, c in enumerate(constraints):
            counts = data.domain_counts[i]
            lowest = min(counts.values()) if counts else 0
            # Fewer eligible domains than minDomains: the global minimum is taken as 0.
            if len(counts) < c.min_domains:
                lowest = 0
            data.min_counts.append(lowest)
        state.write(_FILTER, data)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        data = state.read(_FILTER)
        labels = node.labels
        for i, c in enumerate(data.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                return _REJECT_LABEL
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = data.domain_counts[i].get(value, 0) + self_match - data.min_counts[i]
            if skew > c.max_skew:
                return _REJECT_SKEW
        return None

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        declared = bool((pod.pod.get("spec") or {}).get("topologySpreadConstraints"))
        constraints = (
            _constraints(pod, "ScheduleAnyway", self.matchers)
            if declared
            else _system_default_constraints(pod, self.matchers)
        )
        if not constraints or not nodes:
            return SKIP
        # System defaults tolerate nodes without a zone label; declared ones do not.
        require_all = declared
        data = _ScoreState(constraints)
        for node in nodes:
            if require_all and not _has_all_keys(node, constraints):
                data.ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME and c.topology_key in node.labels:
                    data.domain_counts[i].setdefault(node.labels[c.topology_key], 0)
        for node in snapshot.node_list:
            if require_all and not _has_all_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME or not c.includes_node(pod, node):
                    continue
                value = node.labels.get(c.topology_key)
                counts = data.domain_counts[i]
                if value is None or value not in counts:
                    continue
                counts[value] += node.count_matching(c.matcher)
        considered = len(nodes) - len(data.ignored)
        for i, c in enumerate(constraints):
            size = considered if c.topology_key == HOSTNAME else len(data.domain_counts[i])
            # scoring.go topologyNormalizingWeight: log(size + 2) so that a domain
            # count matters less when there are many domains.
            data.weights.append(math.log(size + 2))
        state.write(_SCORE, data)
        state.write(_SCORE_NODES, [n.name for n in nodes])
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        data = state.read(_SCORE)
        if node.name in data.ignored:
            return 0
        total = 0.0
        for i, c in enumerate(data.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                count = node.count_matching(c.matcher)
            else:
                count = data.domain_counts[i].get(value, 0)
            total += count * data.weights[i] + (c.max_skew - 1)
        return round(total)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Fewest matching pods -> 100: `100 * (max + min - s) / max` over scored nodes."""
        data = state.read(_SCORE)
        names = state.read(_SCORE_NODES)
        considered = [s for s, n in zip(scores, names, strict=True) if n not in data.ignored]
        if not considered:
            return
        low, high = min(considered), max(considered)
        for i, name in enumerate(names):
            if name in data.ignored:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - scores[i]) // high

    def events_to_register(self) -> frozenset[str]:
        return frozenset(
            {
                ASSIGNED_POD_ADD,
                ASSIGNED_POD_DELETE,
                ASSIGNED_POD_LABEL_CHANGE,
                NODE_ADD,
                NODE_DELETE,
                NODE_LABEL_CHANGE,
                NODE_TAINT_CHANGE,
            }
        )


def new(args: Mapping[str, Any]) -> PodTopologySpread:
    return PodTopologySpread()
