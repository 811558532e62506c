"""The controllers with the simulator's real kubelets and scheduler: a stopped kubelet
turns its node NotReady after the grace period and its pods are evicted 300 s later
and replaced on another node."""

from __future__ import annotations

from app.sim.bootstrap import create_cluster
from app.sim.controllers import ControllerManager
from app.sim.controllers.client import ApiClient
from app.sim.machinery.clock import ManualClock
from app.sim.nodes import ClusterNodes
from app.sim.scheduler.loop import SchedulerLoop
from tests.builders import deployment


def test_stopped_kubelet_node_goes_unknown_and_its_pods_move() -> None:
    clock = ManualClock()
    cluster = create_cluster("cp", clock=clock)
    nodes = ClusterNodes(cluster)
    scheduler = SchedulerLoop(cluster)
    manager = ControllerManager.for_cluster(cluster)
    store = cluster.store

    def run(seconds: int, step: float = 1.0) -> None:
        for _ in range(int(seconds / step)):
            clock.advance(step)
            nodes.sync()
            scheduler.tick(True)
            manager.tick(True)

    def web_pods() -> list[dict]:
        return [
            p
            for p in store.list("", "pods", "default")[0]
            if p["metadata"]["name"].startswith("web-")
        ]

    try:
        ApiClient(store, cluster).create("apps", "deployments", deployment(replicas=4))
        run(20)
        assert (
            store.get("apps", "deployments", "default", "web")["status"]["availableReplicas"] == 4
        )
        on_node01 = {p["metadata"]["name"] for p in web_pods() if p["spec"]["nodeName"] == "node01"}
        assert on_node01
        nodes.agent("node01").stop_service("kubelet")
        run(40, 10)  # within the 50 s grace period
        ready = {
            c["type"]: c for c in store.get("", "nodes", None, "node01")["status"]["conditions"]
        }
        assert ready["Ready"]["status"] == "True"
        run(30, 10)
        ready = {
            c["type"]: c for c in store.get("", "nodes", None, "node01")["status"]["conditions"]
        }
        assert ready["Ready"]["status"] == "Unknown"
        run(250, 10)  # the 300 s toleration has not run out yet
        assert on_node01 <= {p["metadata"]["name"] for p in web_pods()}
        run(80, 10)
        names = {p["metadata"]["name"] for p in web_pods()}
        assert not on_node01 & names
        assert len(names) == 4
        assert all(p["spec"].get("nodeName") != "node01" for p in web_pods())
        leases = {
            lease["metadata"]["name"]
            for lease in store.list("coordination.k8s.io", "leases", "kube-system")[0]
        }
        assert leases >= {"kube-controller-manager", "kube-scheduler"}
    finally:
        manager.close()
