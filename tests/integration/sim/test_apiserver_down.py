"""A broken kube-apiserver static pod manifest takes the cluster's Kubernetes API down.

With the real kubectl against the simulator: while the kube-apiserver static pod does
not serve, every request of the cluster's clients is answered with a line that is not
HTTP and the connection closes (kubectl fails at once: `Unable to connect to the
server: ... malformed HTTP response "connection-refused"`), while node shells show why
(the exited container, its log, the kubelet's journal) and the admin routes keep
working; nothing is written to the API meanwhile (node Leases stand still, the
controllers stop). Fixing the manifest brings the API back once the new container has
been up `API_START_SECONDS`, and the cluster carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from app.sim.controlplane import API_START_SECONDS
from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
DOWN = (
    "Unable to connect to the server: net/http: HTTP/1.x transport connection broken: "
    'malformed HTTP response "connection-refused"'
)


@pytest.fixture
def sim_cluster(sim_cluster_factory: Callable[..., SimCluster]) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def on_node(sim: SimCluster, line: str, code: int = 0, node: str = "controlplane") -> str:
    result = sim.cluster.control_plane.nodes.shell(node).run(line)
    assert result.exit_code == code, (line, result.stdout, result.stderr)
    return str(result.stdout + result.stderr)


def edit_manifest(sim: SimCluster, old: str, new: str) -> str:
    """Replace `old` by `new` in the API server's manifest; returns the original."""
    nodes = sim.cluster.control_plane.nodes
    text = nodes.read_file("controlplane", MANIFEST)
    assert old in text
    nodes.write_file("controlplane", MANIFEST, text.replace(old, new, 1))
    return str(text)


def restore_manifest(sim: SimCluster, text: str) -> None:
    sim.cluster.control_plane.nodes.write_file("controlplane", MANIFEST, text)


def advance(sim: SimCluster, seconds: float) -> None:
    sim.cluster.control_plane.advance(seconds)


def admin(sim: SimCluster, method: str, tail: str, **kwargs: Any) -> requests.Response:
    """A request to the cluster's admin routes (they answer whatever its API does)."""
    ca = sim.workdir / "sim-ca.pem"
    ca.write_bytes(sim.server.ca.cert_pem)
    return requests.request(
        method,
        f"{sim.server.base_url}/admin/clusters/{sim.id}/{tail}",
        headers={"Authorization": f"Bearer {sim.server.admin_token}"},
        verify=str(ca),
        timeout=30,
        **kwargs,
    )


def serving(sim: SimCluster) -> bool:
    """Whether the API answers, as the admin API reports it."""
    response = admin(sim, "GET", "controlplane")
    assert response.status_code == 200, response.text
    return bool(response.json()["apiServing"])


def lease_renewed(sim: SimCluster, node: str) -> str:
    lease = sim.store.get("coordination.k8s.io", "leases", "kube-node-lease", node)
    assert lease is not None
    return str(lease["spec"]["renewTime"])


def test_a_misspelt_flag_takes_the_api_down_until_the_manifest_is_fixed(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    assert "controlplane" in kubectl("get", "nodes").stdout
    original = edit_manifest(sim_cluster, "--authorization-mode=", "--authorization-modee=")
    advance(sim_cluster, 30)
    assert not serving(sim_cluster)

    failed = kubectl("get", "nodes", check=False)
    assert failed.returncode == 1
    assert DOWN in failed.stderr, failed.stderr

    # The node shell still works and shows the container exiting, as crictl would.
    listing = on_node(sim_cluster, "crictl ps -a --name kube-apiserver")
    assert "Exited" in listing and "Running" not in listing, listing
    container = on_node(sim_cluster, "crictl ps -a --name kube-apiserver -q").split()[0]
    assert "Error: unknown flag: --authorization-modee" in on_node(
        sim_cluster, f"crictl logs {container}"
    )
    on_disk = on_node(sim_cluster, "cat /var/log/pods/kube-system_kube-apiserver-*/*/*.log")
    assert "unknown flag: --authorization-modee" in on_disk
    journal = on_node(sim_cluster, "journalctl -u kubelet -n 20")
    assert "dial tcp 172.30.1.2:6443: connect: connection refused" in journal
    assert "CrashLoopBackOff" in journal

    # Nothing reaches the API: the kubelets' Leases stand still.
    renewed = {node: lease_renewed(sim_cluster, node) for node in ("controlplane", "node01")}
    advance(sim_cluster, 30)
    assert {node: lease_renewed(sim_cluster, node) for node in renewed} == renewed

    restore_manifest(sim_cluster, original)
    advance(sim_cluster, API_START_SECONDS / 2)
    assert not serving(sim_cluster), "the new API server is still starting"
    advance(sim_cluster, API_START_SECONDS / 2 + 1)
    assert serving(sim_cluster)
    nodes = kubectl("get", "nodes", "--no-headers").lines
    assert {row.split()[0]: row.split()[1] for row in nodes} == {
        "controlplane": "Ready",
        "node01": "Ready",
    }
    assert lease_renewed(sim_cluster, "node01") != renewed["node01"]
    # The scheduler and the controllers are back: a new Deployment gets its pods.
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
    advance(sim_cluster, 20)
    ready = kubectl("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
    assert ready.stdout == "2"
    status = kubectl(
        "-n", "kube-system", "get", "pod", "kube-apiserver-controlplane", "-o", "json"
    ).json()["status"]
    assert status["phase"] == "Running"


@pytest.mark.parametrize(
    ("old", "new", "log"),
    [
        (
            "--authorization-mode=Node,RBAC",
            "--authorization-mode=Node,RBAK",
            'authorization-mode \\"RBAK\\" is not a valid mode',
        ),
        (
            "--enable-admission-plugins=NodeRestriction",
            "--enable-admission-plugins=NodeRestriction,PodSecurityPolicy",
            'enable-admission-plugins plugin \\"PodSecurityPolicy\\" is unknown',
        ),
        (
            "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
            "--tls-cert-file=/etc/kubernetes/pki/api-server.crt",
            "open /etc/kubernetes/pki/api-server.crt: no such file or directory",
        ),
    ],
    ids=["authorization-mode", "admission-plugin", "certificate-path"],
)
def test_options_the_binary_refuses_stop_it_at_start(
    sim_cluster: SimCluster, old: str, new: str, log: str
) -> None:
    edit_manifest(sim_cluster, old, new)
    advance(sim_cluster, 15)
    assert sim_cluster.cluster.api_down
    container = on_node(sim_cluster, "crictl ps -a --name kube-apiserver -q").split()[0]
    assert log in on_node(sim_cluster, f"crictl logs {container}")


def test_the_wrong_etcd_address_runs_without_serving(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    edit_manifest(
        sim_cluster,
        "--etcd-servers=https://127.0.0.1:2379",
        "--etcd-servers=https://127.0.0.1:2380",
    )
    advance(sim_cluster, 5)
    # The process runs (crictl says so) but never gets past its storage.
    assert "Running" in on_node(sim_cluster, "crictl ps --name kube-apiserver")
    assert sim_cluster.cluster.api_down
    failed = kubectl("get", "pods", check=False)
    assert DOWN in failed.stderr, failed.stderr
    container = on_node(sim_cluster, "crictl ps -a --name kube-apiserver -q").split()[0]
    assert "dial tcp 127.0.0.1:2380: connect: connection refused" in on_node(
        sim_cluster, f"crictl logs {container}"
    )


def test_another_secure_port_leaves_6443_unanswered(sim_cluster: SimCluster) -> None:
    edit_manifest(sim_cluster, "--secure-port=6443", "--secure-port=6444")
    advance(sim_cluster, 15)
    assert sim_cluster.cluster.api_down
    assert "*:6444" in on_node(sim_cluster, "ss -tlnp")


def test_an_unparsable_manifest_runs_no_api_server(sim_cluster: SimCluster) -> None:
    edit_manifest(sim_cluster, "  containers:\n", "  containers:\n  \t- bad\n")
    advance(sim_cluster, 5)
    assert sim_cluster.cluster.api_down
    journal = on_node(sim_cluster, "journalctl -u kubelet")
    assert '"Could not process manifest file"' in journal
    assert "kube-apiserver" not in on_node(sim_cluster, "crictl ps")


def test_admin_routes_and_snapshots_keep_working(sim_cluster: SimCluster) -> None:
    edit_manifest(sim_cluster, "--authorization-mode=", "--authorization-modee=")
    advance(sim_cluster, 5)
    answer = admin(sim_cluster, "POST", "nodes/controlplane/exec", json={"command": "crictl ps -a"})
    assert answer.status_code == 200 and "kube-apiserver" in answer.json()["stdout"]
    snapshot = admin(sim_cluster, "POST", "snapshot")
    assert snapshot.status_code == 200
    # The cluster's own paths close the connection, the public health path too
    # (upstream nothing listens on the port).
    with pytest.raises(requests.ConnectionError):
        requests.get(
            f"{sim_cluster.url}/healthz", verify=str(sim_cluster.workdir / "sim-ca.pem"), timeout=10
        )
    # A cluster restored from that snapshot is down too, until its manifest is fixed.
    assert admin(sim_cluster, "POST", "restore", json=snapshot.json()).status_code == 200
    assert sim_cluster.cluster.api_down


def test_an_image_that_does_not_pull_runs_no_api_server(sim_cluster: SimCluster) -> None:
    nodes = sim_cluster.cluster.control_plane.nodes
    text = nodes.read_file("controlplane", MANIFEST)
    tag = text.split("image: registry.k8s.io/kube-apiserver:", 1)[1].split()[0]
    edit_manifest(sim_cluster, f"kube-apiserver:{tag}", f"kube-apiserver:{tag}-hotfix")
    advance(sim_cluster, 15)
    assert sim_cluster.cluster.api_down
    assert "kube-apiserver" not in on_node(sim_cluster, "crictl ps")
    journal = on_node(sim_cluster, "journalctl -u kubelet -n 30")
    assert f"kube-apiserver:{tag}-hotfix" in journal and "ErrImagePull" in journal, journal
