"""The loop API: cluster objects in, API actions out."""

from __future__ import annotations

from app.sim.machinery.clock import ManualClock
from app.sim.scheduler import BindPod, PatchPodStatus, RecordEvent, Scheduler, default_profile
from tests.builders import make_node, make_pod, taint
from tests.fixtures.cluster_objects import ClusterObjects


def test_binding_and_scheduled_event():
    cluster = ClusterObjects(nodes=[make_node("node01")], pods=[make_pod("web-1", cpu="100m")])
    scheduler = Scheduler(clock=ManualClock(), instance="default-scheduler-controlplane")
    actions = scheduler.run(cluster.state())
    bind, event = actions
    assert isinstance(bind, BindPod)
    assert bind.binding() == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "uid": cluster.pod("web-1")["metadata"]["uid"],
        },
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node01"},
    }
    body = event.to_object(ManualClock().now())
    assert body["apiVersion"] == "events.k8s.io/v1"
    assert body["reason"] == "Scheduled"
    assert body["type"] == "Normal"
    assert body["action"] == "Binding"
    assert body["note"] == "Successfully assigned default/web-1 to node01"
    assert body["reportingController"] == "default-scheduler"
    assert body["reportingInstance"] == "default-scheduler-controlplane"
    assert body["regarding"]["kind"] == "Pod" and body["regarding"]["name"] == "web-1"
    assert body["metadata"]["name"].startswith("web-1.")
    cluster.apply(actions)
    # Bound pods are not scheduled again.
    assert scheduler.run(cluster.state()) == []


def test_pods_for_another_scheduler_are_left_alone():
    cluster = ClusterObjects(
        nodes=[make_node("node01")],
        pods=[make_pod("mine"), make_pod("theirs", scheduler_name="my-custom-scheduler")],
    )
    scheduler = Scheduler(clock=ManualClock())
    actions = scheduler.run(cluster.state())
    assert [a.name for a in actions if isinstance(a, BindPod)] == ["mine"]
    assert not scheduler.responsible_for(cluster.pod("theirs"))
    # A second profile makes the same scheduler serve that name too.
    both = Scheduler(
        [default_profile(), default_profile("my-custom-scheduler")], clock=ManualClock()
    )
    actions = both.run(cluster.state())
    assert sorted(a.name for a in actions if isinstance(a, BindPod)) == ["mine", "theirs"]


def test_unschedulable_pod_gets_event_and_condition_once_then_waits_for_a_node():
    clock = ManualClock()
    cluster = ClusterObjects(
        nodes=[make_node("controlplane", taints=[taint("node-role.kubernetes.io/control-plane")])],
        pods=[make_pod("web-1")],
    )
    scheduler = Scheduler(clock=clock)
    actions = scheduler.run(cluster.state())
    event, patch = actions
    message = (
        "0/1 nodes are available: 1 node(s) had untolerated taint(s). preemption: 0/1 nodes "
        "are available: 1 Preemption is not helpful for scheduling."
    )
    assert isinstance(event, RecordEvent)
    assert (event.type, event.reason, event.action, event.note) == (
        "Warning",
        "FailedScheduling",
        "Scheduling",
        message,
    )
    assert isinstance(patch, PatchPodStatus)
    condition = patch.patch["status"]["conditions"][0]
    assert condition["type"] == "PodScheduled"
    assert condition["status"] == "False"
    assert condition["reason"] == "Unschedulable"
    assert condition["message"] == message
    cluster.apply(actions)
    # Our own status patch is not a reason to retry; time alone is not either.
    clock.advance(60)
    assert scheduler.run(cluster.state()) == []
    assert scheduler.queue.where("default/web-1") == "unschedulable"
    # A new worker node is.
    cluster.nodes.append(make_node("node01"))
    actions = scheduler.run(cluster.state())
    assert [(a.name, a.node_name) for a in actions if isinstance(a, BindPod)] == [
        ("web-1", "node01")
    ]


def test_repeated_failure_does_not_repatch_an_identical_condition():
    clock = ManualClock()
    cluster = ClusterObjects(nodes=[make_node("small", cpu="1")], pods=[make_pod("big", cpu="2")])
    scheduler = Scheduler(clock=clock)
    cluster.apply(scheduler.run(cluster.state()))
    clock.advance(301)  # the 5-minute flush retries it
    actions = scheduler.run(cluster.state())
    assert [type(a).__name__ for a in actions] == ["RecordEvent"]


def test_removing_a_taint_retries_the_pod_after_backoff():
    clock = ManualClock()
    node = make_node("node01", taints=[taint("maintenance", "true")])
    cluster = ClusterObjects(nodes=[node], pods=[make_pod("web-1")])
    scheduler = Scheduler(clock=clock)
    cluster.apply(scheduler.run(cluster.state()))
    node["spec"]["taints"] = []
    node["metadata"]["resourceVersion"] = "2"
    # Taint removed within the pod's 1 s back-off: it waits in backoffQ first.
    assert scheduler.run(cluster.state()) == []
    assert scheduler.queue.where("default/web-1") == "backoff"
    clock.advance(1)
    assert any(isinstance(a, BindPod) for a in scheduler.run(cluster.state()))


def test_scheduling_gates_keep_a_pod_pending_without_events():
    gated = make_pod("gated", spec={"schedulingGates": [{"name": "example.com/quota"}]})
    cluster = ClusterObjects(nodes=[make_node("node01")], pods=[gated])
    scheduler = Scheduler(clock=ManualClock())
    assert scheduler.run(cluster.state()) == []
    assert scheduler.queue.where("default/gated") == "gated"
    gated["spec"]["schedulingGates"] = []
    gated["metadata"]["resourceVersion"] = "2"
    assert any(isinstance(a, BindPod) for a in scheduler.run(cluster.state()))


def test_assumed_pods_count_before_the_binding_is_seen():
    cluster = ClusterObjects(
        nodes=[make_node("a", cpu="1"), make_node("b", cpu="1")],
        pods=[make_pod("p1", cpu="800m"), make_pod("p2", cpu="800m")],
    )
    scheduler = Scheduler(clock=ManualClock())
    actions = scheduler.run(cluster.state())
    nodes = sorted(a.node_name for a in actions if isinstance(a, BindPod))
    assert nodes == ["a", "b"]
    # Not applied yet: the next run must not schedule them again.
    assert scheduler.run(cluster.state()) == []


def test_binding_failure_retries_the_pod():
    clock = ManualClock()
    cluster = ClusterObjects(nodes=[make_node("a")], pods=[make_pod("p1")])
    scheduler = Scheduler(clock=clock)
    (bind, _event) = scheduler.run(cluster.state())
    scheduler.binding_failed(bind.namespace, bind.name, bind.uid)
    actions = scheduler.run(cluster.state())
    assert [a.name for a in actions if isinstance(a, BindPod)] == ["p1"]


def test_deleted_bound_pod_frees_room_for_a_pending_one():
    clock = ManualClock()
    cluster = ClusterObjects(
        nodes=[make_node("a", cpu="1")],
        pods=[make_pod("old", node="a", cpu="1"), make_pod("new", cpu="1")],
    )
    scheduler = Scheduler(clock=clock)
    cluster.apply(scheduler.run(cluster.state()))
    del cluster.pods["default/old"]
    clock.advance(1)
    actions = scheduler.run(cluster.state())
    assert [(a.name, a.node_name) for a in actions if isinstance(a, BindPod)] == [("new", "a")]
