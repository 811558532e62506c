"""Preemption by priority: victims, node choice, messages and the follow-up binding."""

from __future__ import annotations

from app.sim.machinery.clock import ManualClock
from app.sim.scheduler import BindPod, DeletePod, PatchPodStatus, RecordEvent, Scheduler, Snapshot
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.preemption import Candidate, pick_one_node
from tests.builders import make_node, make_pod
from tests.fixtures.cluster_objects import ClusterObjects


def test_lowest_priority_victims_on_the_cheapest_node():
    snap = Snapshot.build(
        [make_node("node-1", cpu="2"), make_node("node-2", cpu="2")],
        [
            make_pod("batch-low", node="node-1", cpu="1", priority=5),
            make_pod("batch-mid", node="node-1", cpu="1", priority=10),
            make_pod("api", node="node-2", cpu="2", priority=100),
        ],
    )
    result = Scheduler().schedule_one(make_pod("urgent", cpu="1", priority=1000), snap)
    assert result.node is None
    assert result.nominated_node == "node-1"
    # Only one CPU is needed: the lowest-priority pod goes, the other is reprieved.
    assert [v.name for v in result.victims] == ["batch-low"]
    # Preemption succeeded, so the message carries no "preemption:" part.
    assert result.message == "0/2 nodes are available: 2 Insufficient cpu."


def test_equal_or_higher_priority_pods_are_never_victims():
    snap = Snapshot.build(
        [make_node("n", cpu="1")], [make_pod("peer", node="n", cpu="1", priority=100)]
    )
    result = Scheduler().schedule_one(make_pod("p", cpu="1", priority=100), snap)
    assert result.victims == []
    assert result.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod."
    )


def test_removing_all_lower_pods_is_not_enough():
    snap = Snapshot.build(
        [make_node("n", cpu="2")],
        [
            make_pod("low", node="n", cpu="500m", priority=1),
            make_pod("high", node="n", cpu="1500m", priority=500),
        ],
    )
    result = Scheduler().schedule_one(make_pod("p", cpu="1", priority=100), snap)
    assert result.victims == []
    assert result.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 Insufficient cpu."
    )


def test_preemption_policy_never():
    snap = Snapshot.build(
        [make_node("n", cpu="1")], [make_pod("low", node="n", cpu="1", priority=1)]
    )
    pod = make_pod("p", cpu="1", priority=100, spec={"preemptionPolicy": "Never"})
    result = Scheduler().schedule_one(pod, snap)
    assert result.victims == []
    assert result.message == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: not eligible due to preemptionPolicy=Never."
    )


def test_priority_class_names_resolve_to_priorities():
    snap = Snapshot.build(
        [make_node("n", cpu="1")],
        [make_pod("low", node="n", cpu="1", priority_class="best-effort-batch")],
        priority_classes=[
            {"metadata": {"name": "best-effort-batch"}, "value": -10},
            {"metadata": {"name": "critical"}, "value": 1_000_000},
        ],
    )
    result = Scheduler().schedule_one(make_pod("p", cpu="1", priority_class="critical"), snap)
    assert [v.name for v in result.victims] == ["low"]


def test_pod_disruption_budget_protected_pods_are_spared_first():
    pdb = {
        "metadata": {"name": "keep-db", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}},
        "status": {"disruptionsAllowed": 0},
    }
    snap = Snapshot.build(
        [make_node("n", cpu="2")],
        [
            make_pod("db-0", node="n", cpu="1", priority=1, labels={"app": "db"}),
            make_pod("cache-0", node="n", cpu="1", priority=1, labels={"app": "cache"}),
        ],
        disruption_budgets=[pdb],
    )
    result = Scheduler().schedule_one(make_pod("p", cpu="1", priority=100), snap)
    assert [v.name for v in result.victims] == ["cache-0"]


def test_node_choice_prefers_lower_priority_then_fewer_victims():
    low = PodInfo(make_pod("low", priority=1))
    mid = PodInfo(make_pod("mid", priority=50))
    also_low = PodInfo(make_pod("also-low", priority=1))
    a = Candidate(node=None, victims=[mid])
    b = Candidate(node=None, victims=[low, also_low])
    c = Candidate(node=None, victims=[low])
    assert pick_one_node([a, b, c]) is c
    assert pick_one_node([a, b]) is b
    protected = Candidate(node=None, victims=[low], pdb_violations=1)
    assert pick_one_node([protected, a]) is a


def test_preemption_through_the_loop_binds_the_preemptor_after_victims_leave():
    clock = ManualClock()
    cluster = ClusterObjects(
        nodes=[make_node("node01", cpu="2")],
        pods=[
            make_pod("batch-1", node="node01", cpu="1", priority=1),
            make_pod("batch-2", node="node01", cpu="1", priority=2),
        ],
    )
    scheduler = Scheduler(clock=clock)
    preemptor = make_pod("critical", cpu="1", priority=1000)
    cluster.add_pod(preemptor)
    actions = scheduler.run(cluster.state())
    kinds = [type(a).__name__ for a in actions]
    assert kinds == ["PatchPodStatus", "DeletePod", "RecordEvent", "RecordEvent", "PatchPodStatus"]
    victim_patch, delete, preempted, failed, status = actions
    assert isinstance(delete, DeletePod) and delete.name == "batch-1"
    assert victim_patch.patch["status"]["conditions"][0]["reason"] == "PreemptionByScheduler"
    assert isinstance(preempted, RecordEvent)
    assert preempted.note == f"Preempted by pod {preemptor['metadata']['uid']} on node node01"
    assert failed.reason == "FailedScheduling"
    assert failed.note == "0/1 nodes are available: 1 Insufficient cpu."
    assert isinstance(status, PatchPodStatus)
    assert status.patch["status"]["nominatedNodeName"] == "node01"
    cluster.apply(actions)
    assert "default/batch-1" not in cluster.pods
    assert cluster.pod("critical")["status"]["nominatedNodeName"] == "node01"
    # The victim's deletion is a cluster event; the back-off (1 s) must pass first.
    assert scheduler.run(cluster.state()) == []
    clock.advance(1)
    actions = scheduler.run(cluster.state())
    binds = [a for a in actions if isinstance(a, BindPod)]
    assert [(b.name, b.node_name) for b in binds] == [("critical", "node01")]
