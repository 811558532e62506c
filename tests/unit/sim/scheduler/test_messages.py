"""FailedScheduling wording, exactly as upstream prints it."""

from app.sim.scheduler import Scheduler, Snapshot
from app.sim.scheduler.framework import Code, Status
from app.sim.scheduler.messages import (
    fit_error_message,
    preempted_message,
    reason_histogram,
    scheduled_message,
)
from tests.builders import make_node, make_pod, taint

TAINT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) had untolerated taint(s)",))
AFFINITY = Status(
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) didn't match Pod's node affinity/selector",)
)
NOT_HELPFUL = Status(
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("Preemption is not helpful for scheduling",)
)


def test_the_design_example_message():
    statuses = {"cp": TAINT, "w1": AFFINITY, "w2": AFFINITY}
    preemption = "preemption: " + fit_error_message(3, dict.fromkeys(statuses, NOT_HELPFUL))
    assert fit_error_message(3, statuses, post_filter_message=preemption) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match "
        "Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not "
        "helpful for scheduling."
    )


def test_reasons_are_counted_per_reason_and_sorted_as_strings():
    fit = Status(Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory"))
    cpu = Status(Code.UNSCHEDULABLE, ("Insufficient cpu",))
    statuses = {"a": fit, "b": cpu, "c": TAINT, **{f"x{i}": fit for i in range(10)}}
    # "1 node(s)..." < "11 Insufficient memory" < "12 Insufficient cpu": string order.
    assert reason_histogram(statuses.values()) == [
        "1 node(s) had untolerated taint(s)",
        "11 Insufficient memory",
        "12 Insufficient cpu",
    ]


def test_prefilter_message_replaces_the_histogram():
    statuses = dict.fromkeys(("a", "b"), Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("x",)))
    assert (
        fit_error_message(2, statuses, "pod has unbound immediate PersistentVolumeClaims")
        == "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    )


def test_event_notes():
    assert scheduled_message("default", "web-1", "node01") == (
        "Successfully assigned default/web-1 to node01"
    )
    assert preempted_message("1234", "node01") == "Preempted by pod 1234 on node node01"


def test_mixed_reasons_from_a_real_cycle():
    snap = Snapshot.build(
        [
            make_node("controlplane", taints=[taint("node-role.kubernetes.io/control-plane")]),
            make_node("cordoned", unschedulable=True),
            make_node("small", cpu="500m"),
            make_node("ports"),
            make_node("other", labels={"disk": "hdd"}),
        ],
        [make_pod("web", node="ports", host_port=80)],
    )
    pod = make_pod("p", cpu="1", host_port=80)
    pod["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]}
                ]
            }
        }
    }
    result = Scheduler().schedule_one(pod, snap)
    assert result.node is None
    assert result.message == (
        "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't have free ports for the "
        "requested pod ports, 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint(s), 1 node(s) were unschedulable. "
        "preemption: 0/5 nodes are available: 1 No preemption victims found for incoming pod, "
        "4 Preemption is not helpful for scheduling."
    )
    # 1 CPU on a 500m node can never fit: unresolvable, so preemption skips it too.
    assert result.node_statuses["small"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_no_nodes_at_all():
    result = Scheduler().schedule_one(make_pod("p"), Snapshot())
    assert result.node is None
    assert result.message == "no nodes available to schedule pods"


def test_prefilter_rejection_in_a_cycle():
    snap = Snapshot.build([make_node("a"), make_node("b")])
    pod = make_pod(
        "db", spec={"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}
    )
    result = Scheduler().schedule_one(pod, snap)
    assert result.message == (
        '0/2 nodes are available: persistentvolumeclaim "data" not found. '
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )
