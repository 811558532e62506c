"""Race-free lab setups: the simulator provider builds a lab's broken state on a
manual-clock cluster (manifests and faults applied while time stands still, then a
fixed run of the control plane), snapshots it, and restores it into each session's own
wall-clock cluster. Five builds in a row show the same broken state, and the learner's
cluster (ticked on wall time by the server) starts from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.clusters.base import LabSetup, ProviderError
from app.clusters.simulator import (
    SETUP_BOOT_SECONDS,
    SETUP_SETTLE_SECONDS,
    SimulatorProvider,
    _SnapshotCache,
)
from app.grading.labfile import load_lab
from app.sim.machinery.store import ObjectStore
from app.sim.server import SimServer

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
BUILDS = 5


def lab_setup(slug: str, extra_manifests: list[dict[str, str]] | None = None) -> LabSetup:
    lab = load_lab(LABS_ROOT / slug)
    manifests = [{"name": p.name, "content": p.read_text()} for p in lab.manifest_paths()]
    return LabSetup(
        slug=slug,
        content_hash="test",
        shape=lab.data["cluster"],
        manifests=manifests + list(extra_manifests or []),
        faults=list(lab.data["setup"]["faults"]),
    )


# The controller-manager lab leaves the Deployment to the learner; a variant that ships
# one in its setup shows whether the Deployment could be reconciled before the fault.
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: inventory}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "nginx:1.27"}]
"""


@pytest.fixture
def server() -> Iterator[SimServer]:
    # Wall-clock clusters are ticked by the server every 0.25 s, as in production.
    server = SimServer(host="127.0.0.1", port=0, tls=False, max_clusters=50)
    server.start_in_thread()
    yield server
    server.stop_thread()


def provider(server: SimServer) -> SimulatorProvider:
    return SimulatorProvider([server.base_url], server.admin_token, snapshots=_SnapshotCache())


def objects(snapshot: dict[str, Any], group: str, plural: str, namespace: str) -> list[dict]:
    store = ObjectStore()
    store.load(snapshot["store"])
    return store.list(group, plural, namespace)[0]


@pytest.mark.slow
def test_scheduler_fault_setup_is_broken_on_every_build(server: SimServer) -> None:
    sim = provider(server)
    setup = lab_setup("pending-pods-control-plane-1")
    for _ in range(BUILDS):
        snapshot = sim.build_setup(setup)
        pods = objects(snapshot, "", "pods", "shop")
        assert len(pods) == 3
        # Never scheduled: no node, no Scheduled event, the fault was in place first.
        assert all(not p["spec"].get("nodeName") for p in pods)
        assert all(p["status"].get("phase") == "Pending" for p in pods)
        events = objects(snapshot, "", "events", "shop")
        assert not [e for e in events if e.get("reason") == "Scheduled"]
        assert snapshot["clockKind"] == "manual" and "auth" not in snapshot
    # Every setup cluster was deleted after its snapshot.
    assert server.clusters == {}


@pytest.mark.slow
def test_controller_manager_fault_setup_never_reconciles_on_any_build(server: SimServer) -> None:
    sim = provider(server)
    setup = lab_setup("deployment-without-pods", [{"name": "10-api.yaml", "content": DEPLOYMENT}])
    for _ in range(BUILDS):
        snapshot = sim.build_setup(setup)
        assert len(objects(snapshot, "apps", "deployments", "inventory")) == 1
        assert objects(snapshot, "apps", "replicasets", "inventory") == []
        assert objects(snapshot, "", "pods", "inventory") == []


def test_sessions_restore_the_broken_state_into_wall_clock_clusters(server: SimServer) -> None:
    sim = provider(server)
    setup = lab_setup("pending-pods-control-plane-1")
    handles = [sim.create(setup.shape) for _ in range(3)]
    for handle in handles:
        sim.apply_setup(handle, setup)
    # One build, cached, then deleted: only the session clusters remain.
    assert sorted(server.clusters) == sorted(h.cluster_id for h in handles)
    for handle in handles:
        cluster = server.clusters[handle.cluster_id]
        plane = cluster.control_plane.status()
        assert plane["clock"] == "wall"
        assert plane["components"]["kube-scheduler"] is False
        pods = cluster.store.list("", "pods", "shop")[0]
        assert len(pods) == 3 and all(not p["spec"].get("nodeName") for p in pods)
        # The fault is on the node as the setup left it.
        manifest = sim.read_file(
            handle, "controlplane", "/etc/kubernetes/manifests/kube-scheduler.yaml"
        )
        assert "--kubeconfigg=" in manifest
    # Credentials stay each session's own.
    tokens = {server.clusters[h.cluster_id].auth.admin_token for h in handles}
    assert len(tokens) == len(handles)


def test_setup_time_is_fixed_and_ends_before_wall_time(server: SimServer) -> None:
    from datetime import UTC, datetime

    from app.sim.machinery.clock import parse_time

    snapshot = provider(server).build_setup(lab_setup("pending-pods-control-plane-3"))
    taken = parse_time(snapshot["clock"])
    # Built from a start in the past, so restored timestamps are never in the future.
    assert taken <= datetime.now(UTC)
    created = parse_time(snapshot["createdAt"])
    assert (taken - created).total_seconds() == SETUP_BOOT_SECONDS + SETUP_SETTLE_SECONDS


def test_setup_steps_node_exec_and_delete_object(server: SimServer) -> None:
    sim = provider(server)
    shape = {"nodes": [{"name": "controlplane", "role": "control-plane"}]}
    manifest = (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone, namespace: demo}\n"
    )
    gone = {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "demo", "name": "gone"}
    setup = LabSetup(
        slug="steps",
        content_hash="1",
        shape=shape,
        manifests=[{"name": "00.yaml", "content": manifest}],
        faults=[
            {"kind": "node_exec", "node": "controlplane", "command": "mkdir -p /opt/x"},
            {"kind": "node_file_write", "node": "controlplane", "path": "/opt/x/a", "content": "1"},
            {"kind": "delete_object", "object": gone},
            # Deleting what is already gone is fine: setups are re-run from scratch.
            {"kind": "delete_object", "object": gone},
        ],
    )
    snapshot = sim.build_setup(setup)
    names = [c["metadata"]["name"] for c in objects(snapshot, "", "configmaps", "demo")]
    assert "gone" not in names and "kube-root-ca.crt" in names
    handle = sim.create(shape)
    sim.restore(handle, snapshot)
    assert sim.read_file(handle, "controlplane", "/opt/x/a") == "1"

    failing = LabSetup(
        slug="failing",
        content_hash="1",
        shape=shape,
        faults=[{"kind": "node_exec", "node": "controlplane", "command": "cat /no/such/file"}],
    )
    with pytest.raises(ProviderError, match="exited 1"):
        sim.build_setup(failing)
    # The setup cluster is deleted even when a step fails.
    assert sorted(server.clusters) == [handle.cluster_id]


def test_setup_step_certificate_expiry_redates_against_the_setup_clock(
    server: SimServer,
) -> None:
    from datetime import timedelta

    from app.sim.machinery.clock import parse_time
    from app.sim.nodes import components

    sim = provider(server)
    shape = {
        "nodes": [
            {"name": "controlplane", "role": "control-plane"},
            {"name": "node01", "role": "worker"},
        ]
    }
    pem = "/var/lib/kubelet/pki/kubelet-client-current.pem"
    setup = LabSetup(
        slug="certs",
        content_hash="1",
        shape=shape,
        faults=[
            {
                "kind": "certificate_expiry",
                "node": "controlplane",
                "paths": ["/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/admin.conf"],
                "expires_in": "3d",
            },
            {"kind": "certificate_expiry", "node": "node01", "paths": [pem], "expires_in": "-2h"},
        ],
    )
    snapshot = sim.build_setup(setup)
    # The faults run at the setup clock's boot time; it then settles before the snapshot.
    at = parse_time(snapshot["clock"]) - timedelta(seconds=SETUP_SETTLE_SECONDS)
    handle = sim.create(shape)
    sim.restore(handle, snapshot)
    serving = components.parse_cert(
        sim.read_file(handle, "controlplane", "/etc/kubernetes/pki/apiserver.crt")
    )
    admin = components.kubeconfig_cert(
        sim.read_file(handle, "controlplane", "/etc/kubernetes/admin.conf")
    )
    for fields in (serving, admin):
        assert fields is not None
        assert parse_time(fields["notAfter"]) == at + timedelta(days=3)
        assert parse_time(fields["notBefore"]) == at + timedelta(days=3 - 365)
    assert serving is not None and serving["subject"] == "kube-apiserver"
    assert admin is not None and admin["subject"] == "kubernetes-admin"
    client_text = sim.read_file(handle, "node01", pem)
    client = components.parse_cert(client_text)
    assert client is not None and parse_time(client["notAfter"]) == at - timedelta(hours=2)
    assert "-----BEGIN RSA PRIVATE KEY-----" in client_text  # the key stays

    not_a_cert = LabSetup(
        slug="not-a-cert",
        content_hash="1",
        shape=shape,
        faults=[
            {
                "kind": "certificate_expiry",
                "node": "node01",
                "paths": ["/var/lib/kubelet/config.yaml"],
                "expires_in": "1d",
            }
        ],
    )
    with pytest.raises(ProviderError, match="no certificate this cluster can re-date"):
        sim.build_setup(not_a_cert)


def test_an_invalid_shape_fails_creation(server: SimServer) -> None:
    bad = {"nodes": [{"name": "controlplane", "role": "worker"}]}
    with pytest.raises(ProviderError, match=r"422.*control-plane"):
        provider(server).create(bad)
