"""Node lifecycle and taint-based eviction on the upstream schedule."""

from __future__ import annotations

from app.sim.controllers.nodelifecycle import NODE_MONITOR_GRACE_SECONDS, eviction_time, tolerates
from tests.builders import pod
from tests.fixtures.controllers import Lab


def ready_condition(lab: Lab, node: str) -> dict:
    return next(
        c for c in lab.get("", "nodes", node, None)["status"]["conditions"] if c["type"] == "Ready"
    )


def taints(lab: Lab, node: str) -> set[tuple[str, str]]:
    return {
        (t["key"], t["effect"]) for t in lab.get("", "nodes", node, None)["spec"].get("taints", [])
    }


def keep_alive(lab: Lab, seconds: int, *nodes: str) -> None:
    """Advance time in 10 s steps while the kubelets of `nodes` keep renewing."""
    for _ in range(seconds // 10):
        lab.advance(10)
        lab.heartbeat(*nodes)
        lab.sync()


def test_silent_kubelet_turns_node_unknown_after_the_grace_period(full_lab: Lab) -> None:
    lab = full_lab
    web = lab.run_pod(lab.create("", "pods", pod("web")), node="node01")
    assert NODE_MONITOR_GRACE_SECONDS == 50
    keep_alive(lab, 50, "controlplane", "node02")  # node01's kubelet stopped at t=0
    assert ready_condition(lab, "node01")["status"] == "True"
    lab.advance(1)
    lab.heartbeat("controlplane", "node02")
    lab.sync()
    ready = ready_condition(lab, "node01")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert ready["message"] == "Kubelet stopped posting node status."
    assert taints(lab, "node01") >= {
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoSchedule"),
    }
    assert ready_condition(lab, "node02")["status"] == "True"
    [event] = [e for e in lab.events("NodeNotReady") if e["involvedObject"]["kind"] == "Node"]
    assert event["message"] == "Node node01 status is now: NodeNotReady"
    assert event["source"]["component"] == "node-controller"
    web_now = lab.get("", "pods", "web")
    assert (
        next(c for c in web_now["status"]["conditions"] if c["type"] == "Ready")["status"]
        == "False"
    )
    assert web["metadata"]["uid"] == web_now["metadata"]["uid"]


def test_pods_are_evicted_after_their_300_second_toleration(full_lab: Lab) -> None:
    lab = full_lab
    lab.run_pod(lab.create("", "pods", pod("tolerant")), node="node01")
    # Written straight to the store: no DefaultTolerationSeconds, so no toleration.
    lab.store.create("", "pods", pod("bare", nodeName="node01"))
    forever = lab.run_pod(
        lab.create(
            "",
            "pods",
            pod(
                "forever",
                tolerations=[
                    {
                        "key": "node.kubernetes.io/unreachable",
                        "operator": "Exists",
                        "effect": "NoExecute",
                    }
                ],
            ),
        ),
        node="node01",
    )
    keep_alive(lab, 60, "controlplane", "node02")  # node01 goes unreachable at ~t=51
    tainted_at = next(
        t
        for t in lab.get("", "nodes", "node01", None)["spec"]["taints"]
        if t["effect"] == "NoExecute"
    )["timeAdded"]
    assert lab.get("", "pods", "bare") is None  # no toleration: evicted at once
    assert lab.get("", "pods", "tolerant") is not None
    keep_alive(lab, 280, "controlplane", "node02")  # t=340: 289 s after the taint
    assert lab.get("", "pods", "tolerant") is not None
    keep_alive(lab, 20, "controlplane", "node02")  # t=360: past 300 s
    assert lab.get("", "pods", "tolerant") is None
    assert lab.get("", "pods", "forever")["metadata"]["uid"] == forever["metadata"]["uid"]
    messages = {e["message"] for e in lab.events("TaintManagerEviction")}
    assert messages == {
        "Marking for deletion Pod default/bare",
        "Marking for deletion Pod default/tolerant",
    }
    assert tainted_at


def test_node_recovers_when_kubelet_reports_ready_again(full_lab: Lab) -> None:
    lab = full_lab
    keep_alive(lab, 60, "controlplane", "node02")
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints(lab, "node01")
    node = lab.get("", "nodes", "node01", None)
    for cond in node["status"]["conditions"]:
        cond["status"] = "False" if cond["type"] != "Ready" else "True"
        cond["reason"] = "KubeletReady"
    lab.store.update("", "nodes", node)
    lab.heartbeat("node01")
    lab.sync()
    assert not {k for k, _ in taints(lab, "node01")} & {
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/not-ready",
    }


def test_kubelet_reporting_not_ready_and_cordon_give_their_taints(full_lab: Lab) -> None:
    lab = full_lab
    node = lab.get("", "nodes", "node02", None)
    for cond in node["status"]["conditions"]:
        if cond["type"] == "Ready":
            cond["status"] = "False"
    node["spec"]["unschedulable"] = True
    lab.store.update("", "nodes", node)
    lab.sync()
    assert taints(lab, "node02") == {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    }
    assert ("node-role.kubernetes.io/control-plane", "NoSchedule") in taints(lab, "controlplane")


def test_toleration_matching_and_eviction_time() -> None:
    taint = {
        "key": "node.kubernetes.io/unreachable",
        "effect": "NoExecute",
        "timeAdded": "2026-01-01T00:00:00Z",
    }
    assert tolerates({"operator": "Exists"}, taint)
    assert not tolerates({"key": "other", "operator": "Exists"}, taint)
    assert not tolerates(
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "operator": "Exists"},
        taint,
    )
    pod_spec = {
        "spec": {
            "tolerations": [{"key": taint["key"], "operator": "Exists", "tolerationSeconds": 30}]
        }
    }
    assert eviction_time(pod_spec, [taint]).second == 30
    assert eviction_time({"spec": {}}, [taint]) is None
    assert eviction_time({"spec": {"tolerations": [{"operator": "Exists"}]}}, [taint]) is False


def test_pods_of_a_deleted_node_are_collected_after_quarantine(lab: Lab) -> None:
    lab.create(
        "apps",
        "replicasets",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "rs"}},
                "template": {
                    "metadata": {"labels": {"app": "rs"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        },
    )
    lab.sync()
    [first] = lab.pods(prefix="rs-")
    lab.run_pod(first, node="node02")
    lab.store.delete("", "nodes", None, "node02")
    lab.sync()
    assert lab.get("", "pods", first["metadata"]["name"]) is not None
    lab.advance(41)
    lab.sync()
    assert lab.get("", "pods", first["metadata"]["name"]) is None
    [replacement] = lab.pods(prefix="rs-")
    assert replacement["metadata"]["name"] != first["metadata"]["name"]
