"""Score plugins, normalisation to 0-100, and the weighted sum."""

from __future__ import annotations

from app.sim.scheduler import Scheduler
from app.sim.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    PluginConfig,
    Profile,
    default_normalize_score,
    default_profile,
)
from app.sim.scheduler.plugins import (
    balanced_allocation,
    default_registry,
    image_locality,
    node_affinity,
    node_resources_fit,
    pod_topology_spread,
    taint_toleration,
)
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import Snapshot
from tests.builders import make_node, make_pod, taint


def scores_of(plugin, pod, snap: Snapshot) -> dict[str, int]:
    """PreScore, Score on every node, NormalizeScore, as the framework runs them."""
    state = CycleState()
    info = PodInfo(pod)
    nodes = snap.node_list
    if hasattr(plugin, "pre_score"):
        plugin.pre_score(state, info, nodes, snap)
    raw = [plugin.score(state, info, n) for n in nodes]
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, info, raw)
    return {n.name: s for n, s in zip(nodes, raw, strict=True)}


def test_default_normalize_score():
    scores = [10, 20, 40]
    default_normalize_score(scores)
    assert scores == [25, 50, 100]
    scores = [10, 20, 40]
    default_normalize_score(scores, reverse=True)
    assert scores == [75, 50, 0]
    scores = [0, 0]
    default_normalize_score(scores, reverse=True)
    assert scores == [MAX_NODE_SCORE, MAX_NODE_SCORE]


def test_least_allocated_and_balanced_allocation_worked_example():
    # Node: 4 CPU, 8Gi, already running 1 CPU / 2Gi. Incoming: 1 CPU / 1Gi.
    snap = Snapshot.build(
        [make_node("n", cpu="4", memory="8Gi")], [make_pod("old", node="n", cpu="1", memory="2Gi")]
    )
    pod = make_pod("new", cpu="1", memory="1Gi")
    # LeastAllocated: cpu (4000-2000)*100/4000 = 50; memory (8-3)*100/8 = 62 (62.5 cut);
    # mean of the two = (50 + 62) // 2 = 56.
    assert scores_of(node_resources_fit.new({}), pod, snap) == {"n": 56}
    # Balanced: fractions 0.5 and 3/8 = 0.375; std = |0.5 - 0.375| / 2 = 0.0625;
    # (1 - 0.0625) * 100 = 93.75 -> 93.
    assert scores_of(balanced_allocation.new({}), pod, snap) == {"n": 93}


def test_most_allocated_strategy_prefers_fuller_nodes():
    snap = Snapshot.build(
        [make_node("empty"), make_node("busy")], [make_pod("x", node="busy", cpu="2", memory="4Gi")]
    )
    args = {"scoringStrategy": {"type": "MostAllocated"}}
    scores = scores_of(node_resources_fit.new(args), make_pod("p", cpu="1", memory="1Gi"), snap)
    assert scores["busy"] > scores["empty"]
    # busy: cpu 3000/4000 -> 75, memory 5Gi/8Gi -> 62; (75 + 62) // 2 = 68
    assert scores["busy"] == 68


def test_best_effort_pods_are_scored_with_default_requests():
    snap = Snapshot.build([make_node("n", cpu="1", memory="1000Mi")])
    # No requests: 100m and 200Mi are assumed -> cpu 90, memory 80 -> 85.
    assert scores_of(node_resources_fit.new({}), make_pod("be"), snap) == {"n": 85}


def test_taint_toleration_score_prefers_fewer_untolerated_soft_taints():
    snap = Snapshot.build(
        [
            make_node("clean"),
            make_node("one", taints=[taint("spot", "true", "PreferNoSchedule")]),
            make_node(
                "two",
                taints=[
                    taint("spot", "true", "PreferNoSchedule"),
                    taint("old", "true", "PreferNoSchedule"),
                ],
            ),
        ]
    )
    assert scores_of(taint_toleration.new({}), make_pod("p"), snap) == {
        "clean": 100,
        "one": 50,
        "two": 0,
    }
    tolerant = make_pod("t", spec={"tolerations": [{"key": "spot", "operator": "Exists"}]})
    assert scores_of(taint_toleration.new({}), tolerant, snap) == {
        "clean": 100,
        "one": 100,
        "two": 0,
    }


def test_node_affinity_preferred_weights():
    snap = Snapshot.build(
        [
            make_node("ssd-fast", labels={"disk": "ssd", "cpu": "fast"}),
            make_node("ssd", labels={"disk": "ssd"}),
            make_node("plain"),
        ]
    )
    preferred = [
        {
            "weight": 80,
            "preference": {
                "matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]
            },
        },
        {"weight": 20, "preference": {"matchExpressions": [{"key": "cpu", "operator": "Exists"}]}},
    ]
    pod = make_pod(
        "p",
        spec={
            "affinity": {
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
            }
        },
    )
    assert scores_of(node_affinity.new({}), pod, snap) == {"ssd-fast": 100, "ssd": 80, "plain": 0}


def test_image_locality_scales_by_size_and_spread():
    mib = 1024 * 1024
    snap = Snapshot.build(
        [
            make_node("has-image", images=[("registry.local/app:1.0", 500 * mib)]),
            make_node("b"),
            make_node("c"),
        ]
    )
    pod = make_pod("p", image="registry.local/app:1.0")
    # 500Mi * (1 node of 3) = 174762666 bytes; (174762666 - 23Mi) * 100 // (1000Mi - 23Mi) = 14
    assert scores_of(image_locality.new({}), pod, snap) == {"has-image": 14, "b": 0, "c": 0}


def test_image_names_without_tag_mean_latest():
    snap = Snapshot.build([make_node("n", images=[("busybox:latest", 900 * 1024 * 1024)])])
    assert scores_of(image_locality.new({}), make_pod("p", image="busybox"), snap)["n"] > 0


def test_topology_spread_schedule_anyway_score():
    snap = Snapshot.build(
        [
            make_node("n-a", labels={"topology.kubernetes.io/zone": "a"}),
            make_node("n-b", labels={"topology.kubernetes.io/zone": "b"}),
        ],
        [make_pod(f"w{i}", node="n-a", labels={"app": "web"}) for i in range(2)],
    )
    constraint = {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "web"}},
    }
    pod = make_pod("w3", labels={"app": "web"}, spec={"topologySpreadConstraints": [constraint]})
    # raw: n-a = round(2 * ln(4)) = 3, n-b = 0; normalised 100 * (3 + 0 - s) / 3
    assert scores_of(pod_topology_spread.new({}), pod, snap) == {"n-a": 0, "n-b": 100}


def test_default_profile_weights_are_upstreams():
    profile = default_profile()
    weights = {p.name: p.weight for p in profile.plugins}
    assert weights["TaintToleration"] == 3
    assert weights["NodeAffinity"] == 2
    assert weights["PodTopologySpread"] == 2
    assert weights["InterPodAffinity"] == 2
    assert weights["NodeResourcesFit"] == 1
    assert weights["NodeResourcesBalancedAllocation"] == 1
    assert weights["ImageLocality"] == 1


def test_total_is_the_weighted_sum_of_normalised_scores():
    snap = Snapshot.build(
        [
            make_node("busy", labels={"disk": "ssd"}),
            make_node("idle"),
            make_node("soft", taints=[taint("spot", "true", "PreferNoSchedule")]),
        ],
        [make_pod("x", node="busy", cpu="3", memory="1Gi")],
    )
    preferred = [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}
    ]
    pod = make_pod(
        "p",
        cpu="500m",
        memory="512Mi",
        spec={
            "affinity": {
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
            }
        },
    )
    profile = default_profile()
    result = Scheduler([profile]).schedule_one(pod, snap)
    for node, total in result.scores.items():
        expected = sum(
            profile.weight_of(plugin) * scores[node]
            for plugin, scores in result.plugin_scores.items()
        )
        assert total == expected
    assert result.plugin_scores["NodeAffinity"] == {"busy": 100, "idle": 0, "soft": 0}
    assert result.plugin_scores["TaintToleration"] == {"busy": 100, "idle": 100, "soft": 0}
    # The preferred label (2 x 100) outweighs the busier node's lower resource scores.
    assert result.node == "busy"


def test_changing_a_weight_changes_the_decision():
    snap = Snapshot.build(
        [make_node("busy", labels={"disk": "ssd"}), make_node("idle")],
        [make_pod("x", node="busy", cpu="3", memory="6Gi")],
    )
    preferred = [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}
    ]
    pod = make_pod(
        "p",
        cpu="500m",
        spec={
            "affinity": {
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
            }
        },
    )
    # busy: NodeAffinity 100 x 2 + Fit 17 + Balanced 93 + Taint 300 = 610
    # idle: NodeAffinity 0 + Fit 92 + Balanced 93 + Taint 300 = 485
    result = Scheduler().schedule_one(pod, snap)
    assert result.node == "busy"
    assert result.scores == {"busy": 610, "idle": 485}
    # With NodeResourcesFit weighted 10: busy 200 + 170 + 93 + 300 = 763,
    # idle 920 + 93 + 300 = 1313.
    heavy = default_profile().with_weight("NodeResourcesFit", 10)
    result = Scheduler([heavy]).schedule_one(pod, snap)
    assert result.node == "idle"
    assert result.scores == {"busy": 763, "idle": 1313}


def test_profile_without_a_plugin_and_custom_registry_plugins():
    registry = default_registry()

    class PreferNamedZ:
        name = "PreferNamedZ"

        def score(self, state, pod, node):
            return 100 if node.name.startswith("z") else 0

    registry.register("PreferNamedZ", lambda args: PreferNamedZ())
    profile = Profile(
        "default-scheduler",
        (*default_profile().plugins, PluginConfig("PreferNamedZ", weight=50)),
    )
    snap = Snapshot.build([make_node("a"), make_node("z")])
    result = Scheduler([profile], registry=registry).schedule_one(make_pod("p"), snap)
    assert result.node == "z"
    assert result.plugin_scores["PreferNamedZ"] == {"a": 0, "z": 100}
    trimmed = default_profile().without("ImageLocality")
    assert "ImageLocality" not in Scheduler([trimmed]).frameworks["default-scheduler"].plugins
