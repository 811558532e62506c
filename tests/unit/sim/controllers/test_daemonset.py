"""DaemonSet controller: one pod per eligible node, pinned by node affinity."""

from __future__ import annotations

from app.sim.controllers.daemonset import target_node
from tests.fixtures.controllers import Lab


def daemonset(**template_spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "fluentd"}], **template_spec},
            },
        },
    }


def test_one_pod_per_untainted_node(lab: Lab) -> None:
    lab.create("apps", "daemonsets", daemonset())
    lab.sync()
    pods = lab.pods(prefix="agent-")
    assert sorted(target_node(p) for p in pods) == ["node01", "node02"]  # control plane is tainted
    pod = pods[0]
    term = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert term == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [target_node(pod)]}]}
    ]
    assert "nodeName" not in pod["spec"]  # the scheduler binds it
    tolerations = {(t.get("key"), t.get("effect")): t for t in pod["spec"]["tolerations"]}
    assert "tolerationSeconds" not in tolerations[("node.kubernetes.io/unreachable", "NoExecute")]
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerations
    status = lab.get("apps", "daemonsets", "agent")["status"]
    assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == 2
    lab.sync()
    assert len(lab.pods(prefix="agent-")) == 2


def test_toleration_and_node_selector_change_eligibility(lab: Lab) -> None:
    lab.create(
        "apps",
        "daemonsets",
        daemonset(
            tolerations=[
                {
                    "key": "node-role.kubernetes.io/control-plane",
                    "operator": "Exists",
                    "effect": "NoSchedule",
                }
            ]
        ),
    )
    lab.sync()
    assert sorted(target_node(p) for p in lab.pods(prefix="agent-")) == [
        "controlplane",
        "node01",
        "node02",
    ]
    ds = lab.get("apps", "daemonsets", "agent")
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node02"}
    lab.store.update("apps", "daemonsets", ds)
    for _ in range(4):
        lab.sync()
        lab.run_all()
    assert [target_node(p) for p in lab.pods(prefix="agent-")] == ["node02"]
