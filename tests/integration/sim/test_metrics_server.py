"""metrics-server on a cluster's control plane, over simulated time: the scrape sums
pods per node, follows the APIService's availability (503 while metrics-server is not
ready or scaled to zero) and shows a new container once it has run 10 s (metrics-server's
fresh-container rule), at the first read after that moment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.sim.apiserver.pipeline import ApiRequest, handle
from app.sim.bootstrap import create_cluster
from app.sim.controlplane import ControlPlane, attach
from app.sim.machinery.clock import ManualClock, parse_ts
from app.sim.machinery.quantity import milli_value
from app.sim.nodes.metrics import SYSTEM_OVERHEAD

MILLI = 1_000_000  # nanocores per millicore
BUSY_LOOP = "while true; do :; done"


def busy_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "command": ["sh", "-c", "while true; do :; done"],
                }
            ]
        },
    }


@pytest.fixture
def plane() -> Iterator[ControlPlane]:
    cluster = create_cluster("metrics", clock=ManualClock())
    control = attach(cluster)
    assert control is not None
    yield control
    control.close()


def get(plane: ControlPlane, path: str, namespace: str | None = None) -> tuple[int, Any]:
    group, version, plural = path.split("/")
    request = ApiRequest(
        "GET",
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        headers={"Authorization": f"Bearer {plane.cluster.auth.admin_token}"},
    )
    response = handle(plane.cluster, request)
    return response.status, response.body


def test_scrape_sums_pods_per_node_and_follows_metrics_server(plane: ControlPlane) -> None:
    status, body = get(plane, "metrics.k8s.io/v1beta1/nodes")
    assert (status, body["reason"]) == (503, "ServiceUnavailable")  # not ready yet (20 s)
    plane.advance(40)
    status, nodes = get(plane, "metrics.k8s.io/v1beta1/nodes")
    assert status == 200
    _, pods = get(plane, "metrics.k8s.io/v1beta1/pods", "kube-system")
    by_node: dict[str, int] = {}
    for item in pods["items"]:
        pod = plane.cluster.store.get("", "pods", "kube-system", item["metadata"]["name"])
        cpu = sum(milli_value(c["usage"]["cpu"]) * MILLI for c in item["containers"])
        by_node[pod["spec"]["nodeName"]] = by_node.get(pod["spec"]["nodeName"], 0) + cpu
    assert len(pods["items"]) == 10  # control plane, kube-proxy x3, coredns x2, metrics-server
    for node in nodes["items"]:
        name = node["metadata"]["name"]
        expected = SYSTEM_OVERHEAD.cpu_nanocores + by_node.get(name, 0)
        assert milli_value(node["usage"]["cpu"]) * MILLI == expected
        assert node["window"] == "15s"
    deployment = plane.cluster.store.get("apps", "deployments", "kube-system", "metrics-server")
    deployment["spec"]["replicas"] = 0
    plane.cluster.store.update("apps", "deployments", deployment)
    plane.advance(2)
    service = plane.cluster.store.get(
        "apiregistration.k8s.io", "apiservices", None, "v1beta1.metrics.k8s.io"
    )
    condition = service["status"]["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "MissingEndpoints")
    assert get(plane, "metrics.k8s.io/v1beta1/nodes")[0] == 503
    assert plane.cluster.metrics.pods == {}


def test_a_new_pod_shows_after_a_whole_window(plane: ControlPlane) -> None:
    plane.advance(40)
    plane.cluster.store.create(
        "",
        "pods",
        busy_pod("burn"),
    )
    plane.advance(5)
    assert plane.cluster.metrics.pod("default", "burn") is None
    plane.advance(30)
    sample = plane.cluster.metrics.pod("default", "burn")
    assert sample is not None
    assert sample.total().cpu_nanocores == 1000 * MILLI


def running_for(plane: ControlPlane, name: str) -> float | None:
    """Seconds since the pod's container started (its `startedAt`), None before."""
    pod = plane.cluster.store.get("", "pods", "default", name)
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    running = (statuses[0].get("state") or {}).get("running")
    if not running:
        return None
    return (plane.cluster.clock.now() - parse_ts(running["startedAt"])).total_seconds()


def test_a_container_reports_from_ten_seconds_with_its_age_as_window(plane: ControlPlane) -> None:
    """metrics-server takes a fresh container's start as its earlier CPU reading once
    it has run 10 s (freshContainerMinMetricsResolution): the pod shows with a window
    shorter than the resolution, without waiting for the next 15 s scrape."""
    plane.advance(40)
    plane.cluster.store.create("", "pods", busy_pod("fresh"))
    for _ in range(30):
        if running_for(plane, "fresh") is not None:
            break
        plane.advance(1)
    age = running_for(plane, "fresh")
    assert age is not None and age < 10
    plane.advance(9 - age)
    status, body = get(plane, "metrics.k8s.io/v1beta1/pods", "default")
    assert (status, body["items"]) == (200, [])  # 9 s: not yet
    plane.advance(2)  # 11 s; the last scrape may be up to 15 s old
    status, body = get(plane, "metrics.k8s.io/v1beta1/pods", "default")
    assert [item["metadata"]["name"] for item in body["items"]] == ["fresh"]
    window = float(body["items"][0]["window"].rstrip("s"))
    assert 10 <= window < 15
    assert milli_value(body["items"][0]["containers"][0]["usage"]["cpu"]) == 1000
