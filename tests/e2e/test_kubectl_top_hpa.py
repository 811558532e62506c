"""The real kubectl against metrics-server and the HPA: `kubectl get apiservices`,
`kubectl top nodes|pods` (all namespaces, containers, sorting, label selectors),
`Metrics API not available` when metrics-server is scaled to zero, and
`kubectl autoscale` scaling a Deployment up after a load command and down once the
stabilization window has passed on the cluster clock (`POST /admin/clusters/{id}/tick`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import KubectlResult, SimCluster

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., KubectlResult]

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "%s"]
        resources: {requests: {cpu: 100m, memory: 16Mi}, limits: {cpu: 200m}}
"""
IDLE = "while true; do sleep 1; done"
BUSY = "while true; do :; done"


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    # Time moves only when a test ticks the cluster clock.
    return sim_cluster_factory(nodes=3, clock=ManualClock())


def tick(sim: SimCluster, seconds: int, tmp_path: Path) -> None:
    """Advance the cluster clock through the admin API, as labs' self-tests do."""
    ca = tmp_path / "admin-ca.crt"
    assert sim.server.ca is not None
    ca.write_bytes(sim.server.ca.cert_pem)
    response = requests.post(
        f"{sim.server.base_url}/admin/clusters/{sim.id}/tick",
        headers={"Authorization": f"Bearer {sim.server.admin_token}"},
        json={"seconds": seconds},
        verify=str(ca),
        timeout=300,
    )
    assert response.status_code == 200, response.text


def rows(result: KubectlResult) -> list[list[str]]:
    return [line.split() for line in result.lines[1:]]


def test_top_nodes_and_pods(sim_cluster: SimCluster, kubectl: Kubectl, tmp_path: Path) -> None:
    early = kubectl("top", "nodes", check=False)
    assert early.returncode == 1
    assert "error: Metrics API not available" in early.stderr  # metrics-server not ready yet
    kubectl("apply", "-f", "-", input=WEB % BUSY)
    kubectl("run", "idle", "--image=nginx", "--labels=tier=back")
    tick(sim_cluster, 45, tmp_path)

    services = kubectl("get", "apiservices")
    assert services.lines[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    listed = {r[0]: r[1:3] for r in rows(services)}
    assert listed["v1."] == ["Local", "True"]
    assert listed["v2.autoscaling"] == ["Local", "True"]
    assert listed["v1beta1.metrics.k8s.io"] == ["kube-system/metrics-server", "True"]

    nodes = kubectl("top", "nodes")
    assert nodes.lines[0].split() == [
        "NAME",
        "CPU(cores)",
        "CPU(%)",
        "MEMORY(bytes)",
        "MEMORY(%)",
    ]
    assert [r[0] for r in rows(nodes)] == ["controlplane", "node01", "node02"]
    # The busy loop runs at its 200m limit on one worker, which therefore leads.
    busiest = kubectl("top", "nodes", "--sort-by=cpu").lines[1].split()[0]
    web_node = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].spec.nodeName}")
    assert busiest == web_node.stdout

    pods = {r[0]: r[1:] for r in rows(kubectl("top", "pods"))}
    [web] = [name for name in pods if name.startswith("web-")]
    assert pods[web] == ["200m", "1Mi"]
    assert pods["idle"] == ["1m", "4Mi"]

    everything = kubectl("top", "pods", "-A", "--sort-by=memory")
    first = everything.lines[1].split()
    assert first[:2] == ["kube-system", "kube-apiserver-controlplane"]
    assert any(r[1].startswith("metrics-server-") for r in rows(everything))

    front = kubectl("top", "pods", "-l", "tier=front", "--containers")
    assert front.lines[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert rows(front) == [[web, "app", "200m", "1Mi"]]
    by_cpu = [r[0] for r in rows(kubectl("top", "pods", "--sort-by=cpu"))]
    assert by_cpu == [web, "idle"]
    # metrics-server's own tables through `kubectl get`.
    listed = kubectl("get", "podmetrics", "idle")
    assert [listed.lines[0].split(), rows(listed)] == [
        ["NAME", "CPU", "MEMORY", "WINDOW"],
        [["idle", "1m", "4Mi", "15s"]],
    ]
    missing = kubectl("top", "pod", "nosuch", check=False)
    assert 'podmetrics.metrics.k8s.io "default/nosuch" not found' in missing.stderr


def test_top_fails_once_metrics_server_is_scaled_to_zero(
    sim_cluster: SimCluster, kubectl: Kubectl, tmp_path: Path
) -> None:
    tick(sim_cluster, 45, tmp_path)
    assert kubectl("top", "nodes").returncode == 0
    kubectl("scale", "deployment", "metrics-server", "-n", "kube-system", "--replicas=0")
    tick(sim_cluster, 5, tmp_path)
    service = kubectl("get", "apiservice", "v1beta1.metrics.k8s.io")
    assert rows(service)[0][1:4] == ["kube-system/metrics-server", "False", "(MissingEndpoints)"]
    failed = kubectl("top", "pods", "-A", check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip() == "error: Metrics API not available"
    raw = kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes", check=False)
    assert "ServiceUnavailable" in raw.stderr
    kubectl("scale", "deployment", "metrics-server", "-n", "kube-system", "--replicas=1")
    tick(sim_cluster, 60, tmp_path)
    assert len(rows(kubectl("top", "nodes"))) == 3


def test_autoscale_up_under_load_and_down_after_the_window(
    sim_cluster: SimCluster, kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl("apply", "-f", "-", input=WEB % IDLE)
    tick(sim_cluster, 45, tmp_path)
    created = kubectl("autoscale", "deployment", "web", "--cpu=50%", "--min=1", "--max=5")
    assert created.stdout.strip() == "horizontalpodautoscaler.autoscaling/web autoscaled"
    tick(sim_cluster, 20, tmp_path)
    hpa = kubectl("get", "hpa")
    assert hpa.lines[0].split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert rows(hpa)[0][:7] == ["web", "Deployment/web", "cpu:", "0%/50%", "1", "5", "1"]

    # The load: every new pod spins at its 200m limit, 200% of its request.
    kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/template/spec/containers/0/command/2",'
        f' "value": "{BUSY}"}}]',
    )
    tick(sim_cluster, 90, tmp_path)
    hpa = rows(kubectl("get", "hpa", "web"))[0]
    assert hpa[2:4] == ["cpu:", "200%/50%"]
    # ceil(1 * 200 / 50) = 4, then ceil(4 * 4) capped at max 5.
    assert hpa[-2] == "5"
    assert kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    events = kubectl(
        "get",
        "events",
        "--field-selector=reason=SuccessfulRescale",
        "-o",
        "jsonpath={.items[*].message}",
    ).stdout
    assert (
        "New size: 4; reason: cpu resource utilization (percentage of request) above target"
        in events
    )
    described = kubectl("describe", "hpa", "web").stdout
    assert "ScalingLimited  True    TooManyReplicas" in described

    kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/template/spec/containers/0/command/2",'
        f' "value": "{IDLE}"}}]',
    )
    tick(sim_cluster, 60, tmp_path)
    # Usage is low, but recommendations of the last 300 s were higher: no scale-down yet.
    assert kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5"
    assert "ScaleDownStabilized" in kubectl("describe", "hpa", "web").stdout
    tick(sim_cluster, 300, tmp_path)
    assert kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout == "1"
    assert rows(kubectl("get", "hpa", "web"))[0][2:4] == ["cpu:", "0%/50%"]
    events = kubectl(
        "get",
        "events",
        "--field-selector=reason=SuccessfulRescale",
        "-o",
        "jsonpath={.items[*].message}",
    ).stdout
    assert "New size: 1; reason: All metrics below target" in events


def test_hpa_without_requests_reports_the_missing_request(
    sim_cluster: SimCluster, kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl("create", "deployment", "plain", "--image=nginx")
    tick(sim_cluster, 45, tmp_path)
    kubectl("autoscale", "deployment", "plain", "--cpu=50%", "--max=3")
    tick(sim_cluster, 20, tmp_path)
    assert rows(kubectl("get", "hpa", "plain"))[0][2:4] == ["cpu:", "<unknown>/50%"]
    pod = kubectl("get", "pods", "-l", "app=plain", "-o", "jsonpath={.items[0].metadata.name}")
    described = kubectl("describe", "hpa", "plain").stdout
    [active] = [line.split(None, 3) for line in described.splitlines() if "ScalingActive" in line]
    assert active[1:3] == ["False", "FailedGetResourceMetric"]
    assert active[3] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        f"missing request for cpu in container nginx of Pod {pod.stdout}"
    )
