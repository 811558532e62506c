"""Registry, profiles, status codes and framework-level behaviour."""

from __future__ import annotations

import pytest

from app.sim.machinery.clock import ManualClock
from app.sim.scheduler import BindPod, Scheduler, Snapshot
from app.sim.scheduler.framework import (
    Code,
    CycleState,
    Framework,
    PluginConfig,
    Profile,
    Registry,
    StateKey,
    Status,
    default_profile,
)
from app.sim.scheduler.plugins import default_registry
from app.sim.scheduler.scheduler import num_feasible_nodes_to_find
from tests.builders import make_node, make_pod
from tests.fixtures.cluster_objects import ClusterObjects


def test_registry_rejects_duplicate_names_and_unknown_plugins():
    registry = Registry()
    registry.register("A", lambda args: object())
    with pytest.raises(ValueError, match="already exists"):
        registry.register("A", lambda args: object())
    with pytest.raises(KeyError):
        registry.create("B")


def test_default_registry_has_every_default_profile_plugin():
    registry = default_registry()
    for config in default_profile().plugins:
        assert config.name in registry


def test_profile_enabling_a_plugin_twice_is_an_error():
    profile = Profile("default-scheduler", (PluginConfig("NodeName"), PluginConfig("NodeName")))
    with pytest.raises(ValueError, match="enabled twice"):
        Framework(profile, default_registry())


def test_two_profiles_for_one_scheduler_name_are_an_error():
    with pytest.raises(ValueError, match="duplicate profile"):
        Scheduler([default_profile(), default_profile()])


def test_plugins_land_at_the_extension_points_they_implement():
    framework = Framework(default_profile(), default_registry())
    filters = [p.name for p in framework.filter]
    # Upstream's order: cheap node checks first, pod-to-pod checks last.
    assert filters == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeRestrictions",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert [p.name for p in framework.post_filter] == ["DefaultPreemption"]
    assert {p.name: w for p, w in framework.score} == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }


def test_status_and_cycle_state():
    status = Status(Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory"), "Fit")
    assert status.message == "Insufficient cpu, Insufficient memory"
    assert status.is_rejected() and not status.is_success()
    key: StateKey[int] = StateKey("k")
    state = CycleState()
    with pytest.raises(KeyError):
        state.read(key)
    state.write(key, 3)
    assert state.read(key) == 3


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [(50, 50), (100, 100), (1000, 420), (5000, 500), (20000, 1000)],
)
def test_number_of_feasible_nodes_to_find(nodes, expected):
    assert num_feasible_nodes_to_find(nodes) == expected


def test_large_clusters_stop_filtering_once_enough_nodes_fit():
    snap = Snapshot.build([make_node(f"n{i:04d}") for i in range(1000)])
    scheduler = Scheduler()
    result = scheduler.schedule_one(make_pod("p"), snap)
    assert len(result.scored_nodes) == 420
    # The next pod starts where the previous search stopped (round robin).
    second = scheduler.schedule_one(make_pod("q"), snap)
    assert second.scored_nodes[0] == "n0420"


def test_plugin_errors_surface_as_scheduler_errors():
    registry = default_registry()

    class Broken:
        name = "Broken"

        def filter(self, state, pod, node):
            return Status(Code.ERROR, ("disk on fire",), "Broken")

    registry.register("Broken", lambda args: Broken())
    profile = Profile("default-scheduler", (*default_profile().plugins, PluginConfig("Broken")))
    cluster = ClusterObjects(nodes=[make_node("n")], pods=[make_pod("p")])
    scheduler = Scheduler([profile], registry=registry, clock=ManualClock())
    event, patch = scheduler.run(cluster.state())
    assert event.reason == "FailedScheduling"
    assert event.note == "running Filter plugin Broken: disk on fire"
    assert patch.patch["status"]["conditions"][0]["reason"] == "SchedulerError"
    assert scheduler.queue.where("default/p") == "backoff"


def test_system_default_spreading_for_workload_pods():
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc"}]
    existing = make_pod("web-1", node="a", labels={"app": "web"})
    snap = Snapshot.build([make_node("a"), make_node("b")], [existing])
    pod = make_pod("web-2", labels={"app": "web"})
    pod["metadata"]["ownerReferences"] = owner
    result = Scheduler().schedule_one(pod, snap)
    # hostname constraint (maxSkew 3), weight ln(2 + 2): a = round(1 * 1.386 + 2) = 3,
    # b = 2; normalised 100 * (3 + 2 - s) / 3. The zone constraint is ignored on nodes
    # without a zone label.
    assert result.plugin_scores["PodTopologySpread"] == {"a": 66, "b": 100}
    assert result.node == "b"
    # A bare pod gets no default spreading.
    assert "PodTopologySpread" not in Scheduler().schedule_one(make_pod("bare"), snap).per_plugin


def test_nominated_room_is_kept_for_the_preemptor():
    clock = ManualClock()
    cluster = ClusterObjects(
        nodes=[make_node("node01", cpu="2")],
        pods=[
            make_pod("keeper", node="node01", cpu="1", priority=100),
            make_pod("batch", node="node01", cpu="1", priority=1),
            make_pod("critical", cpu="1", priority=1000),
        ],
    )
    scheduler = Scheduler(clock=clock)
    cluster.apply(scheduler.run(cluster.state()))
    assert "default/batch" not in cluster.pods
    # A lower-priority pod arrives while the preemptor is still backing off.
    cluster.add_pod(make_pod("medium", cpu="1", priority=10))
    actions = scheduler.run(cluster.state())
    assert not [a for a in actions if isinstance(a, BindPod)]
    assert [a.note for a in actions if getattr(a, "reason", "") == "FailedScheduling"] == [
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod."
    ]
    cluster.apply(actions)
    clock.advance(1)
    actions = scheduler.run(cluster.state())
    assert [(a.name, a.node_name) for a in actions if isinstance(a, BindPod)] == [
        ("critical", "node01")
    ]
