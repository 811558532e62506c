"""InterPodAffinity: required pod (anti-)affinity filters nodes by the pods already in
the same topology domain; preferred terms (of the incoming and of existing pods) score.

A topology domain is the set of nodes sharing a label value, e.g. one zone for
`topology.kubernetes.io/zone` or one node for `kubernetes.io/hostname`.

The incoming pod's own terms are counted per node through the snapshot's kept
per-node counts (`NodeInfo.count_matching`), so PreFilter and PreScore cost one lookup
per node and term instead of a scan of every placed pod. Terms with a
`namespaceSelector` depend on namespace labels, which can change between cycles, and
are still checked pod by pod.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from app.sim.scheduler.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_LABEL_CHANGE,
    NODE_ADD,
    NODE_LABEL_CHANGE,
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
from app.sim.scheduler.podinfo import AffinityTerm, PodInfo
from app.sim.scheduler.snapshot import Matchers, NodeInfo, PodMatcher, Snapshot

NAME = "InterPodAffinity"
# interpodaffinity/filtering.go error reasons
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
# InterPodAffinityArgs.hardPodAffinityWeight default (v1 defaults.go)
HARD_POD_AFFINITY_WEIGHT = 1

_REJECT_EXISTING = unschedulable(NAME, ERR_REASON_EXISTING_ANTI_AFFINITY)
_REJECT_AFFINITY = unresolvable(NAME, ERR_REASON_AFFINITY)
_REJECT_ANTI = unschedulable(NAME, ERR_REASON_ANTI_AFFINITY)

Pair = tuple[str, str]


class _FilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti_affinity")

    def __init__(self) -> None:
        self.existing_anti_affinity: Counter[Pair] = Counter()
        self.affinity: Counter[Pair] = Counter()
        self.anti_affinity: Counter[Pair] = Counter()


_FILTER: StateKey[_FilterState] = StateKey("PreFilterInterPodAffinity")
_SCORE: StateKey[dict[str, dict[str, int]]] = StateKey("PreScoreInterPodAffinity")


def _matches_all(
    terms: Iterable[AffinityTerm], pod: PodInfo, ns_labels: Mapping[str, Mapping[str, str]]
) -> bool:
    terms = tuple(terms)
    return bool(terms) and all(t.matches(pod, ns_labels) for t in terms)


def _count_existing_anti_affinity(
    data: _FilterState,
    pod: PodInfo,
    with_anti: list[NodeInfo],
    ns_labels: Mapping[str, Mapping[str, str]],
) -> None:
    # Existing pods whose required anti-affinity selects the incoming pod forbid
    # their whole topology domain.
    for node in with_anti:
        for existing in node.pods_with_required_anti_affinity.values():
            for term in existing.required_anti_affinity:
                value = node.labels.get(term.topology_key)
                if value is not None and term.matches(pod, ns_labels):
                    data.existing_anti_affinity[(term.topology_key, value)] += 1


class InterPodAffinity:
    name = NAME

    def __init__(self, hard_pod_affinity_weight: int = HARD_POD_AFFINITY_WEIGHT) -> None:
        self.hard_pod_affinity_weight = hard_pod_affinity_weight
        self.matchers = Matchers()

    def _matcher(self, term: AffinityTerm) -> PodMatcher | None:
        """The kept-count matcher for a term, or None when it must be checked pod by pod
        (a namespaceSelector: its verdict follows the namespaces' labels)."""
        if term.namespace_selector is not None:
            return None
        return self.matchers.get(term.namespaces, term.selector, count_terminating=True)

    @staticmethod
    def _count(
        node: NodeInfo,
        term: AffinityTerm,
        matcher: PodMatcher | None,
        ns_labels: Mapping[str, Mapping[str, str]],
    ) -> int:
        if matcher is not None:
            return node.count_matching(matcher)
        return sum(1 for p in node.pods.values() if term.matches(p, ns_labels))

    # ---- filtering -------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        with_anti = [n for n in snapshot.node_list if n.pods_with_required_anti_affinity]
        if not pod.required_affinity and not pod.required_anti_affinity and not with_anti:
            return SKIP
        ns_labels = snapshot.namespace_labels
        data = _FilterState()
        _count_existing_anti_affinity(data, pod, with_anti, ns_labels)
        if pod.required_affinity or pod.required_anti_affinity:
            self._count_incoming_terms(data, pod, snapshot, ns_labels)
        # The first pod of a group with affinity to itself may go anywhere its terms'
        # topology keys exist (upstream satisfyPodAffinity).
        data_self = _matches_all(pod.required_affinity, pod, ns_labels)
        state.write(_FILTER, data)
        state.write(_SELF_MATCH, data_self)
        return None

    def _count_incoming_terms(
        self,
        data: _FilterState,
        pod: PodInfo,
        snapshot: Snapshot,
        ns_labels: Mapping[str, Mapping[str, str]],
    ) -> None:
        """Per topology domain, the pods matching the incoming pod's required terms."""
        affinity = pod.required_affinity
        # Pods matching every affinity term count; with one term that is its count.
        affinity_matcher = self._matcher(affinity[0]) if len(affinity) == 1 else None
        anti = [(t, self._matcher(t)) for t in pod.required_anti_affinity]
        for node in snapshot.node_list:
            labels = node.labels
            if affinity:
                if affinity_matcher is not None:
                    matching = node.count_matching(affinity_matcher)
                else:
                    matching = sum(
                        1
                        for existing in node.pods.values()
                        if _matches_all(affinity, existing, ns_labels)
                    )
                if matching:
                    for term in affinity:
                        value = labels.get(term.topology_key)
                        if value is not None:
                            data.affinity[(term.topology_key, value)] += matching
            for term, matcher in anti:
                value = labels.get(term.topology_key)
                if value is None:
                    continue
                matching = self._count(node, term, matcher, ns_labels)
                if matching:
                    data.anti_affinity[(term.topology_key, value)] += matching

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        data = state.read(_FILTER)
        labels = node.labels
        if pod.required_affinity:
            pods_exist = True
            for term in pod.required_affinity:
                value = labels.get(term.topology_key)
                if value is None:
                    return _REJECT_AFFINITY
                if data.affinity[(term.topology_key, value)] <= 0:
                    pods_exist = False
            if not pods_exist and not (not data.affinity and state.read(_SELF_MATCH)):
                return _REJECT_AFFINITY
        for term in pod.required_anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and data.anti_affinity[(term.topology_key, value)] > 0:
                return _REJECT_ANTI
        for (key, value), count in data.existing_anti_affinity.items():
            if count > 0 and labels.get(key) == value:
                return _REJECT_EXISTING
        return None

    # ---- scoring ---------------------------------------------------------------------

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        # Without preferred terms of its own, only existing pods with affinity terms can
        # move the incoming pod's score.
        sources = snapshot.node_list if has_preferred else snapshot.nodes_with_affinity_pods()
        ns_labels = snapshot.namespace_labels
        scores: dict[Pair, int] = {}

        def add(terms: Iterable[AffinityTerm], target: PodInfo, node: NodeInfo, sign: int) -> None:
            for term in terms:
                value = node.labels.get(term.topology_key)
                if value is not None and term.matches(target, ns_labels):
                    pair = (term.topology_key, value)
                    scores[pair] = scores.get(pair, 0) + sign * term.weight

        # The incoming pod's preferred terms, each with its kept-count matcher.
        own = [(t, self._matcher(t), 1) for t in pod.preferred_affinity] + [
            (t, self._matcher(t), -1) for t in pod.preferred_anti_affinity
        ]
        for node in sources:
            if not node.labels:
                continue
            for term, matcher, sign in own:
                value = node.labels.get(term.topology_key)
                if value is None:
                    continue
                matching = self._count(node, term, matcher, ns_labels)
                if matching:
                    pair = (term.topology_key, value)
                    scores[pair] = scores.get(pair, 0) + sign * term.weight * matching
            # Existing pods' own terms about the incoming pod (only pods with terms).
            for existing in node.pods_with_affinity.values():
                if self.hard_pod_affinity_weight > 0:
                    for term in existing.required_affinity:
                        value = node.labels.get(term.topology_key)
                        if value is not None and term.matches(pod, ns_labels):
                            pair = (term.topology_key, value)
                            scores[pair] = scores.get(pair, 0) + self.hard_pod_affinity_weight
                add(existing.preferred_affinity, pod, node, 1)
                add(existing.preferred_anti_affinity, pod, node, -1)
        if not scores:
            return SKIP
        # topology key -> value -> weight, so a node sums one lookup per key.
        by_key: dict[str, dict[str, int]] = {}
        for (key, value), weight in scores.items():
            by_key.setdefault(key, {})[value] = weight
        state.write(_SCORE, by_key)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Sum of the weights collected for this node's topology domains."""
        labels = node.labels
        total = 0
        for key, weights in state.read(_SCORE).items():
            value = labels.get(key)
            if value is not None:
                total += weights.get(value, 0)
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Min-max scaling into 0..100 (negative raw scores come from anti-affinity)."""
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        for i, score in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((score - low) / spread)) if spread > 0 else 0

    def events_to_register(self) -> frozenset[str]:
        return frozenset(
            {
                ASSIGNED_POD_ADD,
                ASSIGNED_POD_DELETE,
                ASSIGNED_POD_LABEL_CHANGE,
                NODE_ADD,
                NODE_LABEL_CHANGE,
            }
        )


_SELF_MATCH: StateKey[bool] = StateKey("PreFilterInterPodAffinitySelf")


def new(args: Mapping[str, Any]) -> InterPodAffinity:
    return InterPodAffinity(int(args.get("hardPodAffinityWeight", HARD_POD_AFFINITY_WEIGHT)))
