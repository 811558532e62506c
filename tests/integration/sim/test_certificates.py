"""Certificates on the clock: `kubeadm certs check-expiration|renew`, the kubelet's
client certificate rotation, an expired kubelet client certificate (Unauthorized, node
NotReady, a restarted kubelet that exits) replaced through `kubeadm kubeconfig user`,
an expired API server certificate (x509 errors in every kubelet's journal) fixed by
`kubeadm certs renew apiserver`, and kube-scheduler and kube-controller-manager holding
the client certificate they started with until they restart; through the real kubectl."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.sim.machinery.clock import ManualClock
from app.sim.nodes import components
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

CLIENT = components.KUBELET_CLIENT_CERT
# The node lifecycle controller's grace period (50 s) plus a status update.
NOT_READY_AFTER = 70


@pytest.fixture
def sim_cluster(sim_cluster_factory: Callable[..., SimCluster]) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def run(sim: SimCluster, node: str, line: str, code: int = 0) -> str:
    result = sim.cluster.control_plane.nodes.shell(node).run(line)
    assert result.exit_code == code, (line, result.stdout, result.stderr)
    return str(result.stdout + result.stderr)


def cert(sim: SimCluster, subject: str, start_days: float, end_days: float) -> str:
    now = sim.cluster.clock.now()
    return components.cert_pem(
        subject, "kubernetes", now + timedelta(days=start_days), now + timedelta(days=end_days)
    )


def ready(kubectl: Callable[..., Any]) -> dict[str, str]:
    return {row.split()[0]: row.split()[1] for row in kubectl("get", "nodes", "--no-headers").lines}


def test_check_expiration_and_renew_follow_the_clock(sim_cluster: SimCluster) -> None:
    nodes = sim_cluster.cluster.control_plane.nodes
    sim_cluster.cluster.control_plane.advance(3600, step=600)
    table = run(sim_cluster, "controlplane", "kubeadm certs check-expiration")
    assert "CERTIFICATE                EXPIRES" in table
    apiserver = next(line for line in table.splitlines() if line.startswith("apiserver "))
    assert "364d" in apiserver and apiserver.split()[-2:] == ["ca", "no"]
    renewed = run(sim_cluster, "controlplane", "kubeadm certs renew apiserver")
    assert "certificate for serving the Kubernetes API renewed" in renewed
    pem = nodes.read_file("controlplane", "/etc/kubernetes/pki/apiserver.crt")
    fields = components.parse_cert(pem)
    assert fields is not None and fields["notBefore"] == "2026-01-01T01:00:00Z"
    assert "renewed" in run(sim_cluster, "controlplane", "kubeadm certs renew all")
    assert "unknown command" in run(sim_cluster, "controlplane", "kubeadm certs renew nope", 1)


def test_the_kubelet_rotates_its_client_certificate_before_it_expires(
    sim_cluster: SimCluster,
) -> None:
    nodes = sim_cluster.cluster.control_plane.nodes
    # 85 % of its life gone: past client-go's rotation deadline.
    nodes.write_file("node01", CLIENT, cert(sim_cluster, "system:node:node01", -310, 55))
    sim_cluster.cluster.control_plane.advance(2)
    fields = components.parse_cert(nodes.read_file("node01", CLIENT))
    # A new certificate, valid a year from the moment the kubelet rotated it.
    assert fields is not None
    assert fields["notBefore"] in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z")
    assert fields["notAfter"] == fields["notBefore"].replace("2026", "2027")
    assert '"Rotating certificates"' in run(sim_cluster, "node01", "journalctl -u kubelet")


def test_an_expired_kubelet_client_certificate(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    plane = sim_cluster.cluster.control_plane
    nodes = plane.nodes
    nodes.write_file("node01", CLIENT, cert(sim_cluster, "system:node:node01", -400, -1))
    plane.advance(NOT_READY_AFTER)
    assert ready(kubectl)["node01"] == "NotReady"
    journal = run(sim_cluster, "node01", "journalctl -u kubelet")
    assert 'err="error getting node \\"node01\\": Unauthorized"' in journal
    # A restart does not help: the kubelet falls back to the bootstrap kubeconfig
    # kubeadm deleted after the join, and exits.
    run(sim_cluster, "node01", "systemctl restart kubelet")
    status = run(sim_cluster, "node01", "systemctl status kubelet", 3)
    assert "part of the existing bootstrap client certificate in /etc/kubernetes/kubelet.conf" in (
        status
    )
    # The kubeadm troubleshooting guide: a new kubelet.conf made on the control plane.
    fresh = run(
        sim_cluster,
        "controlplane",
        "kubeadm kubeconfig user --org system:nodes --client-name system:node:node01",
    )
    assert "client-certificate-data" in fresh
    nodes.write_file("node01", "/etc/kubernetes/kubelet.conf", fresh)
    plane.advance(15)  # systemd restarts the failing unit every 10 s
    plane.advance(20)
    assert ready(kubectl)["node01"] == "Ready"
    # With rotation on, the kubelet stored a new certificate of its own; the guide's
    # last step points kubelet.conf at it, so rotation goes on from there.
    checked = f"openssl x509 -in {CLIENT} -noout -subject -checkend 25920000"
    assert run(sim_cluster, "node01", checked) == (
        "subject=CN=system:node:node01\nCertificate will not expire\n"
    )
    run(
        sim_cluster,
        "node01",
        "sed -i -e 's#client-certificate-data: .*#client-certificate: "
        f"{CLIENT}#' -e 's#client-key-data: .*#client-key: {CLIENT}#' "
        "/etc/kubernetes/kubelet.conf",
    )
    run(sim_cluster, "node01", "systemctl restart kubelet")
    plane.advance(40)
    assert ready(kubectl)["node01"] == "Ready"
    assert "will expire" in run(
        sim_cluster, "node01", f"openssl x509 -in {CLIENT} -checkend 40000000 -noout", 1
    )


def test_an_expired_api_server_certificate(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    plane = sim_cluster.cluster.control_plane
    nodes = plane.nodes
    path = "/etc/kubernetes/pki/apiserver.crt"
    nodes.write_file("controlplane", path, cert(sim_cluster, "kube-apiserver", -365, -1))
    plane.advance(NOT_READY_AFTER)
    assert set(ready(kubectl).values()) == {"NotReady"}
    journal = run(sim_cluster, "node01", "journalctl -u kubelet")
    assert "x509: certificate has expired or is not yet valid: current time" in journal
    table = run(sim_cluster, "controlplane", "kubeadm certs check-expiration")
    assert "<invalid>" in next(line for line in table.splitlines() if line.startswith("apiserver "))
    run(sim_cluster, "controlplane", "kubeadm certs renew apiserver")
    plane.advance(20)
    assert set(ready(kubectl).values()) == {"Ready"}


def _pod(name: str) -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\n"
        "spec: {containers: [{name: app, image: nginx}]}\n"
    )


def test_control_plane_clients_keep_the_certificate_they_started_with(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    plane = sim_cluster.cluster.control_plane
    nodes = plane.nodes
    now = sim_cluster.cluster.clock.now()
    # Issued a year ago, expired yesterday: the running processes loaded these.
    for path in ("scheduler.conf", "controller-manager.conf", "pki/apiserver.crt"):
        full = f"/etc/kubernetes/{path}"
        text = components.redate_certificate(
            nodes.read_file("controlplane", full), now - timedelta(days=366), now
        )
        assert text is not None
        nodes.write_file("controlplane", full, text)
    kubectl("apply", "-f", "-", input=_pod("before"))
    plane.advance(NOT_READY_AFTER)
    # The kubelets cannot post status (x509), and no node lifecycle controller runs to
    # mark them NotReady: their Ready condition goes stale instead.
    assert "x509: certificate has expired" in run(sim_cluster, "node01", "journalctl -u kubelet")
    assert kubectl("get", "pod", "before", "-o", "jsonpath={.spec.nodeName}").stdout == ""
    logs = kubectl("-n", "kube-system", "logs", "kube-scheduler-controlplane").stdout
    assert "error retrieving resource lock kube-system/kube-scheduler: Unauthorized" in logs
    logs = kubectl("-n", "kube-system", "logs", "kube-controller-manager-controlplane").stdout
    assert "Failed to watch *v1.ReplicaSet: failed to list *v1.ReplicaSet: Unauthorized" in logs
    # Renewed files: the API server reloads its serving certificate, so the kubelets
    # are accepted again; the scheduler still holds the expired client certificate.
    run(sim_cluster, "controlplane", "kubeadm certs renew all")
    plane.advance(40)
    assert kubectl("get", "pod", "before", "-o", "jsonpath={.spec.nodeName}").stdout == ""
    for name in ("kube-scheduler", "kube-controller-manager"):
        run(sim_cluster, "controlplane", f"crictl stop $(crictl ps --name {name} -q)")
    plane.advance(40)
    assert kubectl("get", "pod", "before", "-o", "jsonpath={.spec.nodeName}").stdout != ""
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
    plane.advance(20)
    assert (
        kubectl("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}").stdout == "2"
    )
