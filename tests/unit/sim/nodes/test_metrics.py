"""The usage model behind `kubectl top` and the metrics-server scrape on a control plane:
image idle usage, load commands, limits, node sums, windows and APIService availability."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.sim.apiserver.metrics_api import binary_quantity, decimal_quantity
from app.sim.apiserver.pipeline import ApiRequest, handle
from app.sim.bootstrap import create_cluster
from app.sim.controlplane import ControlPlane, attach
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.quantity import milli_value
from app.sim.nodes.metrics import MIB, SYSTEM_OVERHEAD, container_usage

MILLI = 1_000_000  # nanocores per millicore


def container(
    image: str = "busybox", command: list[str] | None = None, **resources: dict[str, str]
) -> dict[str, Any]:
    return {"name": "app", "image": image, "command": command or [], "resources": resources}


def shell(script: str, image: str = "busybox", **resources: dict[str, str]) -> dict[str, Any]:
    return container(image, ["sh", "-c", script], **resources)


def test_idle_images_use_their_profile() -> None:
    nginx = container_usage(container("nginx:1.27"))
    assert (nginx.cpu_nanocores, nginx.memory_bytes) == (1 * MILLI, 4 * MIB)
    etcd = container_usage(container("registry.k8s.io/etcd:3.6.6-0"))
    assert etcd.cpu_nanocores == 22 * MILLI
    unknown = container_usage(container("example.com/team/app:1"))
    assert (unknown.cpu_nanocores, unknown.memory_bytes) == (1 * MILLI, 8 * MIB)


@pytest.mark.parametrize(
    ("script", "cores"),
    [
        ("while true; do :; done", 1),
        ("while :; do echo hi > /dev/null; done", 1),
        ("while true; do sleep 1; done", 0),
        ("while true; do wget -q -O- http://web; done", 0),
        ("dd if=/dev/zero of=/dev/null", 1),
        ("dd if=/dev/zero of=/dev/null & dd if=/dev/zero of=/dev/null", 2),
        ("sha256sum /dev/zero", 1),
        ("yes > /dev/null", 1),
        ("sleep 3600", 0),
    ],
)
def test_load_commands_keep_cores_busy(script: str, cores: int) -> None:
    usage = container_usage(shell(script), node_cores=4)
    assert usage.cpu_nanocores == cores * 1000 * MILLI  # busybox idles at 0m


def test_stress_cpu_and_vm_workers() -> None:
    usage = container_usage(
        container("polinux/stress", ["stress", "--cpu", "2", "--vm", "1", "--vm-bytes", "64M"]),
        node_cores=4,
    )
    assert usage.cpu_nanocores == (1 + 2000) * MILLI
    assert usage.memory_bytes == 8 * MIB + 64 * MIB


def test_limits_and_node_cores_cap_usage() -> None:
    limited = container_usage(
        shell("while true; do :; done", limits={"cpu": "250m", "memory": "2Mi"}), node_cores=2
    )
    assert (limited.cpu_nanocores, limited.memory_bytes) == (250 * MILLI, 1 * MIB)
    capped = container_usage(container("polinux/stress", ["stress", "--cpu", "8"]), node_cores=2)
    assert capped.cpu_nanocores == (1 + 2000) * MILLI
    memory = container_usage(
        container("polinux/stress", ["stress", "--vm", "2"], limits={"memory": "300Mi"})
    )
    assert memory.memory_bytes == 300 * MIB


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
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "burn", "namespace": "default"},
            "spec": {"containers": [shell("while true; do :; done")]},
        },
    )
    plane.advance(5)
    assert plane.cluster.metrics.pod("default", "burn") is None
    plane.advance(30)
    sample = plane.cluster.metrics.pod("default", "burn")
    assert sample is not None
    assert sample.total().cpu_nanocores == 1000 * MILLI


@pytest.mark.parametrize(
    ("nanos", "text"), [(124_000_000, "124m"), (3_000_000_000, "3"), (148_489_388, "148489388n")]
)
def test_cpu_prints_as_a_canonical_quantity(nanos: int, text: str) -> None:
    assert decimal_quantity(nanos) == text


def test_memory_prints_as_a_canonical_binary_quantity() -> None:
    assert [binary_quantity(n) for n in (4 * MIB, 920_649_728, 1000)] == ["4Mi", "878Mi", "1000"]
