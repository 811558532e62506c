"""Fixtures for controller tests: a bootstrapped cluster on a manual clock, its
controller manager, and helpers that play the scheduler and kubelet through the store
(those components are not part of the controllers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.sim.bootstrap import create_cluster
from app.sim.controllers import ControllerManager
from app.sim.controllers.client import ApiClient
from app.sim.controllers.daemonset import target_node
from app.sim.machinery.clock import ManualClock, rfc3339, rfc3339_micro
from app.sim.machinery.cluster import Cluster


class Lab:
    """A cluster, its manager and the stand-ins for scheduler and kubelet."""

    def __init__(self, cluster: Cluster, clock: ManualClock, manager: ControllerManager) -> None:
        self.cluster = cluster
        self.clock = clock
        self.store = cluster.store
        self.manager = manager
        self.api = ApiClient(cluster.store, cluster)
        self._ips = 10

    # ---- shortcuts ------------------------------------------------------------------

    def create(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create through the API request pipeline, as kubectl would."""
        return self.api.create(group, plural, obj)

    def get(self, group: str, plural: str, name: str, namespace: str | None = "default"):
        return self.store.get(group, plural, namespace, name)

    def pods(self, namespace: str = "default", prefix: str = "") -> list[dict[str, Any]]:
        items = self.store.list("", "pods", namespace)[0]
        return [p for p in items if p["metadata"]["name"].startswith(prefix)]

    def events(self, reason: str | None = None) -> list[dict[str, Any]]:
        items = self.store.list("", "events")[0]
        return [e for e in items if reason is None or e["reason"] == reason]

    def sync(self) -> int:
        return self.manager.sync()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # ---- scheduler and kubelet stand-ins --------------------------------------------

    def run_pod(
        self, pod: dict[str, Any], node: str = "node01", ready: bool = True
    ) -> dict[str, Any]:
        """Bind the pod and report it Running (Ready or not), as scheduler + kubelet."""
        pod = self.store.get("", "pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        assert pod is not None
        now = rfc3339(self.clock.now())
        # A daemon pod is pinned to its node by affinity; the scheduler honours it.
        pod["spec"]["nodeName"] = target_node(pod) or node
        status = pod.setdefault("status", {})
        status["phase"] = "Running"
        if not status.get("podIP"):
            self._ips += 1
            status["podIP"] = f"10.244.1.{self._ips}"
            status["podIPs"] = [{"ip": status["podIP"]}]
        status["startTime"] = status.get("startTime") or now
        flag = "True" if ready else "False"
        conditions = [
            c
            for c in status.get("conditions") or []
            if c["type"] not in ("Ready", "ContainersReady")
        ]
        old_ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
        stamp = (
            old_ready["lastTransitionTime"] if old_ready and old_ready["status"] == flag else now
        )
        conditions += [
            {"type": "Ready", "status": flag, "lastTransitionTime": stamp},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": stamp},
        ]
        status["conditions"] = conditions
        return self.store.update("", "pods", pod)

    def run_all(self, namespace: str = "default", prefix: str = "", ready: bool = True) -> None:
        for pod in self.pods(namespace, prefix):
            if pod["status"].get("phase") in (None, "Pending") and not pod["metadata"].get(
                "deletionTimestamp"
            ):
                self.run_pod(pod, ready=ready)

    def finish_pod(self, pod: dict[str, Any], phase: str = "Succeeded") -> dict[str, Any]:
        pod = self.store.get("", "pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        assert pod is not None
        pod["spec"]["nodeName"] = pod["spec"].get("nodeName") or "node01"
        pod["status"]["phase"] = phase
        pod["status"]["conditions"] = [
            {"type": "Ready", "status": "False", "lastTransitionTime": rfc3339(self.clock.now())}
        ]
        return self.store.update("", "pods", pod)

    def heartbeat(self, *nodes: str) -> None:
        """The kubelets of `nodes` renew their Leases now."""
        for name in nodes:
            lease = self.store.get("coordination.k8s.io", "leases", "kube-node-lease", name)
            assert lease is not None
            lease["spec"]["renewTime"] = rfc3339_micro(self.clock.now())
            self.store.update("coordination.k8s.io", "leases", lease)


@pytest.fixture
def lab() -> Iterator[Lab]:
    clock = ManualClock()
    cluster = create_cluster("controllers", clock=clock, addons=False)
    manager = ControllerManager.for_cluster(cluster, controllers=("*", "-nodelifecycle"))
    yield Lab(cluster, clock, manager)
    manager.close()


@pytest.fixture
def full_lab() -> Iterator[Lab]:
    """Every controller, node lifecycle included (tests that drive kubelet heartbeats)."""
    clock = ManualClock()
    cluster = create_cluster("controllers", clock=clock, addons=False)
    manager = ControllerManager.for_cluster(cluster)
    yield Lab(cluster, clock, manager)
    manager.close()


def deployment(
    name: str = "web", replicas: int = 3, image: str = "nginx:1.25", **spec: Any
) -> dict:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }
    body["spec"].update(spec)
    return body
