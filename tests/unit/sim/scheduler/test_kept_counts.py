"""Kept per-node match counts give exactly what recounting every pod gave.

PodTopologySpread and InterPodAffinity read `NodeInfo.count_matching` (counts kept up
to date as pods are added and removed) instead of scanning every placed pod on every
cycle. The reference plugins below are the recounting implementations they replaced;
on random clusters, with pods placed, removed, relabelled and marked terminating
between cycles, both must pick the same node with the same scores and messages.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim.scheduler import Scheduler, Snapshot
from app.sim.scheduler.framework import (
    SKIP,
    CycleState,
    Registry,
    Status,
)
from app.sim.scheduler.plugins import (
    balanced_allocation,
    default_preemption,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    scheduling_gates,
    taint_toleration,
    volume_binding,
    volume_restrictions,
)
from app.sim.scheduler.plugins.inter_pod_affinity import _matches_all
from app.sim.scheduler.podinfo import PodInfo, safe_selector
from app.sim.scheduler.snapshot import Matchers, NodeInfo, PodMatcher
from tests.builders import make_node, make_pod

pts = pod_topology_spread
ipa = inter_pod_affinity
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def recount(node: NodeInfo, selector, namespace: str) -> int:
    return sum(
        1
        for p in node.pods.values()
        if p.namespace == namespace and not p.terminating and selector.matches(p.labels)
    )


class RecountingSpread(pts.PodTopologySpread):
    """PodTopologySpread as it was: every pod on every node recounted per cycle."""

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        constraints = pts._constraints(pod, "DoNotSchedule", self.matchers)
        if not constraints:
            return SKIP
        data = pts._FilterState(constraints)
        for node in snapshot.node_list:
            if not pts._has_all_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes_node(pod, node):
                    continue
                value = node.labels[c.topology_key]
                counts = data.domain_counts[i]
                counts[value] = counts.get(value, 0) + recount(node, c.selector, pod.namespace)
        for i, c in enumerate(constraints):
            counts = data.domain_counts[i]
            lowest = min(counts.values()) if counts else 0
            if len(counts) < c.min_domains:
                lowest = 0
            data.min_counts.append(lowest)
        state.write(pts._FILTER, data)
        return None

    def pre_score(self, state, pod, nodes, snapshot):
        declared = bool((pod.pod.get("spec") or {}).get("topologySpreadConstraints"))
        constraints = (
            pts._constraints(pod, "ScheduleAnyway", self.matchers)
            if declared
            else pts._system_default_constraints(pod, self.matchers)
        )
        if not constraints or not nodes:
            return SKIP
        require_all = declared
        data = pts._ScoreState(constraints)
        for node in nodes:
            if require_all and not pts._has_all_keys(node, constraints):
                data.ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME and c.topology_key in node.labels:
                    data.domain_counts[i].setdefault(node.labels[c.topology_key], 0)
        for node in snapshot.node_list:
            if require_all and not pts._has_all_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME or not c.includes_node(pod, node):
                    continue
                value = node.labels.get(c.topology_key)
                counts = data.domain_counts[i]
                if value is None or value not in counts:
                    continue
                counts[value] += recount(node, c.selector, pod.namespace)
        considered = len(nodes) - len(data.ignored)
        for i, c in enumerate(constraints):
            size = considered if c.topology_key == HOSTNAME else len(data.domain_counts[i])
            data.weights.append(math.log(size + 2))
        state.write(pts._SCORE, data)
        state.write(pts._SCORE_NODES, [n.name for n in nodes])
        return None

    def score(self, state, pod, node):
        data = state.read(pts._SCORE)
        if node.name in data.ignored:
            return 0
        total = 0.0
        for i, c in enumerate(data.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                count = recount(node, c.selector, pod.namespace)
            else:
                count = data.domain_counts[i].get(value, 0)
            total += count * data.weights[i] + (c.max_skew - 1)
        return round(total)


class RecountingAffinity(ipa.InterPodAffinity):
    """InterPodAffinity as it was: the incoming pod's terms checked against every pod."""

    def pre_filter(self, state, pod, snapshot):
        with_anti = [n for n in snapshot.node_list if n.pods_with_required_anti_affinity]
        if not pod.required_affinity and not pod.required_anti_affinity and not with_anti:
            return SKIP
        ns_labels = snapshot.namespace_labels
        data = ipa._FilterState()
        for node in with_anti:
            for existing in node.pods_with_required_anti_affinity.values():
                for term in existing.required_anti_affinity:
                    value = node.labels.get(term.topology_key)
                    if value is not None and term.matches(pod, ns_labels):
                        data.existing_anti_affinity[(term.topology_key, value)] += 1
        if pod.required_affinity or pod.required_anti_affinity:
            for node in snapshot.node_list:
                labels = node.labels
                for existing in node.pods.values():
                    if _matches_all(pod.required_affinity, existing, ns_labels):
                        for term in pod.required_affinity:
                            value = labels.get(term.topology_key)
                            if value is not None:
                                data.affinity[(term.topology_key, value)] += 1
                    for term in pod.required_anti_affinity:
                        value = labels.get(term.topology_key)
                        if value is not None and term.matches(existing, ns_labels):
                            data.anti_affinity[(term.topology_key, value)] += 1
        state.write(ipa._FILTER, data)
        state.write(ipa._SELF_MATCH, _matches_all(pod.required_affinity, pod, ns_labels))
        return None

    def pre_score(self, state, pod, nodes, snapshot):
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        sources = snapshot.node_list if has_preferred else snapshot.nodes_with_affinity_pods()
        ns_labels = snapshot.namespace_labels
        scores: dict = {}

        def add(terms, target, node, sign):
            for term in terms:
                value = node.labels.get(term.topology_key)
                if value is not None and term.matches(target, ns_labels):
                    pair = (term.topology_key, value)
                    scores[pair] = scores.get(pair, 0) + sign * term.weight

        for node in sources:
            if not node.labels:
                continue
            existing_pods = (
                node.pods.values() if has_preferred else node.pods_with_affinity.values()
            )
            for existing in existing_pods:
                if has_preferred:
                    add(pod.preferred_affinity, existing, node, 1)
                    add(pod.preferred_anti_affinity, existing, node, -1)
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
        by_key: dict = {}
        for (key, value), weight in scores.items():
            by_key.setdefault(key, {})[value] = weight
        state.write(ipa._SCORE, by_key)
        return None


def recounting_registry() -> Registry:
    registry = Registry()
    for module in (
        scheduling_gates,
        node_unschedulable,
        node_name,
        taint_toleration,
        node_affinity,
        node_ports,
        node_resources_fit,
        volume_restrictions,
        volume_binding,
        default_preemption,
        balanced_allocation,
        image_locality,
    ):
        registry.register(module.NAME, module.new)
    registry.register(pts.NAME, lambda args: RecountingSpread())
    registry.register(ipa.NAME, lambda args: RecountingAffinity())
    return registry


# ---- random clusters ----------------------------------------------------------------------

apps = st.sampled_from(["web", "api", "db"])
namespaces = st.sampled_from(["default", "shop"])
keys = st.sampled_from([HOSTNAME, ZONE])


@st.composite
def selectors(draw):
    if draw(st.integers(0, 5)) == 0:
        return {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    return {"matchLabels": {"app": draw(apps)}}


@st.composite
def spread_constraints(draw):
    return [
        {
            "maxSkew": draw(st.integers(1, 3)),
            "topologyKey": draw(keys),
            "whenUnsatisfiable": draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])),
            "labelSelector": draw(selectors()),
            **({"minDomains": 4} if draw(st.integers(0, 6)) == 0 else {}),
            **({"nodeTaintsPolicy": "Honor"} if draw(st.booleans()) else {}),
        }
        for _ in range(draw(st.integers(1, 2)))
    ]


@st.composite
def affinity_term(draw):
    term = {"labelSelector": draw(selectors()), "topologyKey": draw(keys)}
    choice = draw(st.integers(0, 3))
    if choice == 1:
        term["namespaces"] = ["default", "shop"]
    elif choice == 2:
        term["namespaceSelector"] = {"matchLabels": {"team": "shop"}}
    return term


@st.composite
def affinities(draw):
    out: dict = {}
    for kind in ("podAffinity", "podAntiAffinity"):
        if draw(st.integers(0, 2)) == 0:
            continue
        part: dict = {}
        if draw(st.booleans()):
            part["requiredDuringSchedulingIgnoredDuringExecution"] = draw(
                st.lists(affinity_term(), min_size=1, max_size=2)
            )
        if draw(st.booleans()):
            part["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": draw(st.integers(1, 100)), "podAffinityTerm": draw(affinity_term())}
            ]
        if part:
            out[kind] = part
    return out


@st.composite
def pods(draw, name: str):
    labels = {"app": draw(apps)}
    spec: dict = {}
    shape = draw(st.integers(0, 4))
    if shape == 1:
        spec["topologySpreadConstraints"] = draw(spread_constraints())
    elif shape == 2:
        spec["affinity"] = draw(affinities())
    elif shape == 3:
        spec["topologySpreadConstraints"] = draw(spread_constraints())
        spec["affinity"] = draw(affinities())
    pod = make_pod(
        name,
        namespace=draw(namespaces),
        cpu=draw(st.sampled_from(["100m", "500m", "1"])),
        memory="256Mi",
        labels=labels,
        spec=spec,
    )
    if draw(st.booleans()):
        pod["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1"}
        ]
    return pod


@st.composite
def clusters(draw):
    nodes = []
    for i in range(draw(st.integers(2, 7))):
        labels = {}
        if draw(st.integers(0, 5)):
            labels[ZONE] = draw(st.sampled_from(["a", "b", "c"]))
        taints = [{"key": "gpu", "effect": "NoSchedule"}] if draw(st.integers(0, 5)) == 0 else None
        nodes.append(make_node(f"n{i}", cpu="8", memory="16Gi", labels=labels, taints=taints))
    steps = []
    for i in range(draw(st.integers(3, 30))):
        steps.append(("schedule", draw(pods(f"p{i}"))))
        action = draw(st.integers(0, 6))
        if action == 0:
            steps.append(("remove", draw(st.integers(0, 1000))))
        elif action == 1:
            steps.append(("terminate", draw(st.integers(0, 1000))))
        elif action == 2:
            steps.append(("relabel", (draw(st.integers(0, 1000)), draw(apps))))
    return nodes, steps


def _reference_and_kept():
    return Scheduler(registry=recounting_registry()), Scheduler()


def _replace(snapshot: Snapshot, pod: dict, node: str) -> None:
    snapshot.add_pod(PodInfo(pod, 0), node)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_kept_counts_schedule_exactly_like_recounting(cluster):
    nodes, steps = cluster
    namespace_objects = [
        {"metadata": {"name": "default", "labels": {}}},
        {"metadata": {"name": "shop", "labels": {"team": "shop"}}},
    ]
    reference, kept = _reference_and_kept()
    snapshots = (
        Snapshot.build(nodes, namespaces=namespace_objects),
        Snapshot.build(nodes, namespaces=namespace_objects),
    )
    placed: list[tuple[dict, str]] = []
    for kind, arg in steps:
        if kind == "schedule":
            old = reference.schedule_one(arg, snapshots[0])
            new = kept.schedule_one(arg, snapshots[1])
            assert new.node == old.node
            assert new.message == old.message
            assert new.scores == old.scores
            assert new.plugin_scores == old.plugin_scores
            if new.node is not None:
                reference.assume(old, snapshots[0])
                kept.assume(new, snapshots[1])
                placed.append((arg, new.node))
            continue
        if not placed:
            continue
        if kind == "remove":
            pod, _ = placed.pop(arg % len(placed))
            for snap in snapshots:
                snap.remove_pod(pod["metadata"]["uid"])
        elif kind == "terminate":
            pod, node = placed[arg % len(placed)]
            pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
            for snap in snapshots:
                _replace(snap, pod, node)
        else:
            index, app = arg
            pod, node = placed[index % len(placed)]
            pod["metadata"]["labels"] = {"app": app}
            for snap in snapshots:
                _replace(snap, pod, node)
    # The kept counts agree with a recount on every node, for every matcher in use.
    for node in snapshots[1].node_list:
        for matcher, count in node.match_counts.items():
            assert count == sum(1 for p in node.pods.values() if matcher.matches(p))


def test_count_matching_follows_adds_removals_and_termination():
    node = NodeInfo(make_node("n1"))
    matchers = Matchers()
    selector = safe_selector({"matchLabels": {"app": "web"}})
    live = matchers.get(frozenset({"default"}), selector)
    everything = matchers.get(frozenset({"default"}), selector, count_terminating=True)
    assert matchers.get(frozenset({"default"}), selector) is live
    web = [PodInfo(make_pod(f"w{i}", labels={"app": "web"}), 0) for i in range(3)]
    other = PodInfo(make_pod("o", labels={"app": "db"}), 0)
    elsewhere = PodInfo(make_pod("s", namespace="shop", labels={"app": "web"}), 0)
    node.add_pod(web[0])
    assert node.count_matching(live) == 1  # counted once, from the pods present
    for pod in (web[1], web[2], other, elsewhere):
        node.add_pod(pod)
    assert node.count_matching(live) == 3
    node.remove_pod(web[0].uid)
    assert node.count_matching(live) == 2
    dying = make_pod("w1", labels={"app": "web"}, uid=web[1].uid)
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    node.remove_pod(web[1].uid)
    node.add_pod(PodInfo(dying, 0))
    assert node.count_matching(live) == 1
    assert node.count_matching(everything) == 2
    assert isinstance(live, PodMatcher)


def test_matchers_per_node_are_bounded():
    from app.sim.scheduler import snapshot as snapshot_module

    node = NodeInfo(make_node("n1"))
    node.add_pod(PodInfo(make_pod("a", labels={"app": "x0"}), 0))
    matchers = Matchers()
    for i in range(snapshot_module.MAX_MATCHERS_PER_NODE + 5):
        selector = safe_selector({"matchLabels": {"app": f"x{i}"}})
        expected = 1 if i == 0 else 0
        assert node.count_matching(matchers.get(frozenset({"default"}), selector)) == expected
    assert len(node.match_counts) <= snapshot_module.MAX_MATCHERS_PER_NODE
