"""An in-process cluster (kubelets, scheduler, controllers on a manual clock) with a
small application: Deployment `web` (2 nginx pods, named port `http`), a ClusterIP
Service `web`, a NodePort Service `web-np` (30080), a headless Service `web-h`, an
ExternalName Service `ext`, a Service `empty` whose selector matches nothing, a
StatefulSet `db` behind headless `db`, and a busybox pod `client`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.sim.bootstrap import create_cluster
from app.sim.controllers.client import ApiClient
from app.sim.controlplane import ControlPlane
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.cluster import Cluster
from app.sim.nodes.containers import ContainerAccess
from app.sim.nodes.shell import CommandResult


@dataclass
class Net:
    cluster: Cluster
    plane: ControlPlane
    api: ApiClient

    @property
    def store(self) -> Any:
        return self.cluster.store

    def advance(self, seconds: float = 10) -> None:
        self.plane.advance(seconds)

    def pod_exec(
        self, command: str, pod: str = "client", namespace: str = "default"
    ) -> CommandResult:
        obj = self.store.get("", "pods", namespace, pod)
        container = obj["spec"]["containers"][0]["name"]
        return ContainerAccess(self.plane.nodes).shell(namespace, pod, container).run(command)

    def node_exec(self, command: str, node: str = "node01") -> CommandResult:
        return self.plane.nodes.shell(node).run(command)

    def service_ip(self, name: str, namespace: str = "default") -> str:
        return self.store.get("", "services", namespace, name)["spec"]["clusterIP"]

    def pod_ips(self, label: str) -> list[str]:
        pods = self.store.list("", "pods", "default", label_selector=label)[0]
        return sorted(p["status"]["podIP"] for p in pods)


def _deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": 80, "name": "http"}],
                        }
                    ]
                },
            },
        },
    }


def service(name: str, selector: dict[str, str] | None, **spec: Any) -> dict[str, Any]:
    body = {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def _statefulset() -> dict[str, Any]:
    labels = {"app": "db"}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "db", "image": "redis"}]},
            },
        },
    }


def build_net() -> Net:
    cluster = create_cluster("network", nodes=3, clock=ManualClock())
    plane = ControlPlane(cluster)
    api = ApiClient(cluster.store, cluster)
    plane.advance(5)
    api.create("apps", "deployments", _deployment("web", "nginx", 2))
    api.create("apps", "statefulsets", _statefulset())
    made = [
        service("web", {"app": "web"}),
        service("web-np", {"app": "web"}, type="NodePort"),
        service("web-h", {"app": "web"}, clusterIP="None"),
        service("ext", None, type="ExternalName", externalName="example.com"),
        service("empty", {"app": "nothing"}),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {
                "clusterIP": "None",
                "selector": {"app": "db"},
                "ports": [{"name": "redis", "port": 6379}],
            },
        },
    ]
    made[1]["spec"]["ports"][0]["nodePort"] = 30080
    for obj in made:
        obj["metadata"]["namespace"] = "default"
        api.create("", "services", obj)
    api.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1d"]}]},
        },
    )
    plane.advance(15)
    return Net(cluster, plane, api)


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    """Shared by a module's tests: they must not change the cluster."""
    built = build_net()
    yield built
    built.plane.close()


@pytest.fixture
def own_net() -> Iterator[Net]:
    """A cluster of the test's own, for tests that break or reconfigure it."""
    built = build_net()
    yield built
    built.plane.close()
