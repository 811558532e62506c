"""Real kubectl against the simulator with the controllers running: create, set image,
rollout history, rollout undo, rollout status, scale (the client-side undo must make
the controller adopt the old ReplicaSet)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from app.sim.controllers import ControllerManager
from tests.fixtures.controllers import Lab


@pytest.fixture
def live(sim_cluster) -> Iterator[Lab]:
    manager = ControllerManager.for_cluster(
        sim_cluster.cluster, controllers=("*", "-nodelifecycle")
    )
    yield Lab(sim_cluster.cluster, sim_cluster.cluster.clock, manager)
    manager.close()


def settle(lab: Lab) -> None:
    """Controllers and the kubelet stand-in until the rollout is done."""
    for _ in range(10):
        lab.sync()
        if not any(p["status"].get("phase") == "Pending" for p in lab.pods(prefix="web-")):
            break
        lab.run_all()
    lab.sync()


def images(lab: Lab) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in lab.pods(prefix="web-")}


def test_rollout_history_and_undo_with_kubectl(live: Lab, kubectl: Callable) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3")
    settle(live)
    assert images(live) == {"nginx:1.25"}
    kubectl("set", "image", "deployment/web", "nginx=nginx:1.26")
    settle(live)
    assert images(live) == {"nginx:1.26"}
    history = kubectl("rollout", "history", "deployment/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    out = kubectl("rollout", "undo", "deployment/web").stdout
    assert "rolled back" in out
    settle(live)
    assert images(live) == {"nginx:1.25"}
    rs = kubectl("get", "rs", "-l", "app=web", "-o", "json").json()["items"]
    assert len(rs) == 2
    revisions = sorted(
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs
    )
    assert revisions == ["2", "3"]
    status = kubectl("rollout", "status", "deployment/web", "--timeout=20s").stdout
    assert 'deployment "web" successfully rolled out' in status
    kubectl("scale", "deployment/web", "--replicas=1")
    settle(live)
    assert len(live.pods(prefix="web-")) == 1
    ready = kubectl("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}").stdout
    assert ready == "1"


def test_daemonset_rollout_history_and_undo_with_kubectl(live: Lab, kubectl: Callable) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        input="""
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "fluentd:1"}]}
""",
    )

    def agent_images() -> set[str]:
        live.sync()
        live.run_all(prefix="agent-")
        live.sync()
        return {p["spec"]["containers"][0]["image"] for p in live.pods(prefix="agent-")}

    assert agent_images() == {"fluentd:1"}
    kubectl("set", "image", "ds/agent", "agent=fluentd:2")
    for _ in range(4):
        images = agent_images()
    assert images == {"fluentd:2"}
    history = kubectl("rollout", "history", "ds/agent").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("rollout", "undo", "ds/agent")
    for _ in range(4):
        images = agent_images()
    assert images == {"fluentd:1"}
    revisions = kubectl("get", "controllerrevisions", "-o", "json").json()["items"]
    assert sorted(r["revision"] for r in revisions) == [2, 3]
