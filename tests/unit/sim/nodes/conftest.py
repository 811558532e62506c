"""A bootstrapped three-node cluster on a manual clock with its node agents."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.sim.bootstrap import create_cluster
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.cluster import Cluster
from app.sim.nodes import ClusterNodes
from app.sim.nodes.shell import NodeShell


@dataclass
class SimNodes:
    cluster: Cluster
    clock: ManualClock
    nodes: ClusterNodes

    @property
    def store(self):
        return self.cluster.store

    def tick(self, seconds: float = 0.0, steps: int = 1) -> None:
        """Advance the clock by `seconds` in `steps` equal steps, syncing each time."""
        for _ in range(steps):
            self.clock.advance(seconds / steps)
            self.nodes.sync()

    def shell(self, node: str = "controlplane") -> NodeShell:
        return self.nodes.shell(node)

    def pod(self, name: str, namespace: str = "default") -> dict | None:
        return self.store.get("", "pods", namespace, name)

    def mirror(self, component: str) -> dict | None:
        return self.pod(f"{component}-controlplane", "kube-system")

    def waiting_reason(self, name: str, namespace: str = "default") -> str | None:
        pod = self.pod(name, namespace)
        assert pod is not None, f"pod {namespace}/{name} does not exist"
        state = pod["status"]["containerStatuses"][0]["state"]
        return (state.get("waiting") or {}).get("reason")

    def run_pod(self, name: str, node: str = "node01", **container) -> dict:
        container.setdefault("name", "app")
        container.setdefault("image", "nginx:1.27")
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [container]},
            "status": {"phase": "Pending"},
        }
        return self.store.create("", "pods", obj)


@pytest.fixture
def sim() -> SimNodes:
    clock = ManualClock()
    cluster = create_cluster("nodes-test", nodes=3, clock=clock)
    nodes = ClusterNodes(cluster)
    nodes.sync()
    return SimNodes(cluster, clock, nodes)
