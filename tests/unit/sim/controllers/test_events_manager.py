"""The event recorder and the controller manager itself."""

from __future__ import annotations

import pytest

from app.sim.client import EventRecorder
from app.sim.controllers import ControllerManager, controller_names
from app.sim.controllers.manager import select_controllers
from tests.fixtures.controllers import Lab


def test_repeated_events_are_aggregated(lab: Lab) -> None:
    node = lab.get("", "nodes", "node01", None)
    recorder = EventRecorder(lab.store, lab.clock, "node-controller")
    first = recorder.normal(node, "NodeNotReady", "Node node01 status is now: NodeNotReady")
    lab.advance(30)
    second = recorder.normal(node, "NodeNotReady", "Node node01 status is now: NodeNotReady")
    assert first["metadata"]["name"] == second["metadata"]["name"]
    assert first["metadata"]["name"].startswith("node01.")
    assert second["count"] == 2
    assert second["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert second["lastTimestamp"] == "2026-01-01T00:00:30Z"
    assert second["metadata"]["namespace"] == "default"  # cluster-scoped object
    assert second["involvedObject"] == {
        "kind": "Node",
        "name": "node01",
        "uid": node["metadata"]["uid"],
        "apiVersion": "v1",
        "resourceVersion": node["metadata"]["resourceVersion"],
    }
    other = recorder.for_component("kubelet").normal(
        node, "NodeNotReady", "Node node01 status is now: NodeNotReady"
    )
    assert other["metadata"]["name"] != first["metadata"]["name"]
    assert other["source"] == {"component": "kubelet"}
    assert len(recorder.events_for(node)) == 2


def test_controller_selection_like_the_flag() -> None:
    assert select_controllers(["*"]) == controller_names()
    assert "node-lifecycle-controller" not in select_controllers(["*", "-nodelifecycle"])
    assert select_controllers(["replicaset", "deployment-controller"]) == [
        "deployment-controller",
        "replicaset-controller",
    ]
    # kubeadm's manifest flag: controllers the simulator does not model are accepted.
    assert select_controllers(["*", "bootstrapsigner", "tokencleaner"]) == controller_names()
    with pytest.raises(ValueError, match="not in the list of known controllers"):
        select_controllers(["nope"])


def test_sync_reaches_a_quiet_state(lab: Lab) -> None:
    lab.sync()
    assert lab.manager.step() == 0


class BrokenController:
    """A controller with a bug: it raises on every pass."""

    name = "broken"

    def reconcile(self, ctx) -> None:
        raise RuntimeError("bug")


def test_a_failing_controller_does_not_stop_the_others(lab: Lab) -> None:
    manager = ControllerManager.for_cluster(lab.cluster, controllers=("serviceaccount",))
    try:
        manager.controllers.insert(0, BrokenController())
        lab.store.create(
            "",
            "namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
        )
        manager.sync()
        assert lab.get("", "serviceaccounts", "default", "team") is not None
    finally:
        manager.close()
