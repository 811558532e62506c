"""A lab's cluster shape through the admin API: `POST /admin/clusters` with `shape`
names the nodes and gives them the shape's labels, taints and capacity; the simulated
kubelets keep them; an invalid shape is a 422. Also: a snapshot taken on a manual clock
restored into a wall-clock cluster leaves that cluster on wall time."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from app.grading.labfile import load_lab
from app.sim.server import SimServer

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
TAINT_SHAPE = load_lab(LABS_ROOT / "pending-taint-toleration").data["cluster"]
SIZED_SHAPE = load_lab(LABS_ROOT / "payment-api-placement").data["cluster"]


@pytest.fixture
def admin(sim_server: SimServer, tmp_path: Path) -> requests.Session:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim_server.ca.cert_pem)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca)
    session.headers["Authorization"] = f"Bearer {sim_server.admin_token}"
    return session


@pytest.fixture
def created(sim_server: SimServer, admin: requests.Session) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for cluster_id in ids:
        if cluster_id in sim_server.clusters:
            sim_server.delete_cluster(cluster_id)


def create(
    sim_server: SimServer, admin: requests.Session, created: list[str], **body: Any
) -> dict[str, Any]:
    response = admin.post(f"{sim_server.base_url}/admin/clusters", json=body)
    assert response.status_code == 201, response.text
    created.append(response.json()["id"])
    return response.json()


def nodes_of(
    sim_server: SimServer, admin: requests.Session, doc: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The cluster's Nodes read through its Kubernetes API with its own token."""
    response = requests.get(
        f"{sim_server.base_url}/clusters/{doc['id']}/api/v1/nodes",
        headers={"Authorization": f"Bearer {doc['token']}"},
        verify=admin.verify,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {n["metadata"]["name"]: n for n in response.json()["items"]}


def test_shape_round_trip_labels_taints_and_capacity(sim_server, admin, created) -> None:
    doc = create(sim_server, admin, created, shape=TAINT_SHAPE, clock="manual")
    assert doc["nodes"] == 4
    nodes = nodes_of(sim_server, admin, doc)
    assert list(nodes) == ["controlplane", "node01", "node02", "node03"]
    for name in ("node01", "node02"):
        assert nodes[name]["metadata"]["labels"]["node-pool"] == "batch"
        # kubelet's own labels stay beside the shape's.
        assert nodes[name]["metadata"]["labels"]["kubernetes.io/hostname"] == name
        assert nodes[name]["spec"]["taints"] == [
            {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}
        ]
    assert "taints" not in nodes["node03"]["spec"]
    assert "node-pool" not in nodes["node03"]["metadata"]["labels"]
    assert nodes["controlplane"]["spec"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]


def test_capacity_survives_the_kubelets_status_updates(sim_server, admin, created) -> None:
    doc = create(sim_server, admin, created, shape=SIZED_SHAPE, clock="manual")
    # A kubelet restart re-reads its configuration and posts status afresh.
    restart = admin.post(
        f"{sim_server.base_url}/admin/clusters/{doc['id']}/nodes/node02/exec",
        json={"command": "systemctl restart kubelet"},
    )
    assert restart.json()["exit_code"] == 0, restart.text
    # Several node status reports (every 10 s) and lease renewals later.
    tick = admin.post(
        f"{sim_server.base_url}/admin/clusters/{doc['id']}/tick", json={"seconds": 60}
    )
    assert tick.status_code == 200, tick.text
    nodes = nodes_of(sim_server, admin, doc)
    for name in ("node01", "node02", "node03", "node04"):
        status = nodes[name]["status"]
        for field in ("capacity", "allocatable"):
            assert (status[field]["cpu"], status[field]["memory"], status[field]["pods"]) == (
                "4",
                "8Gi",
                "110",
            ), (name, field)
        ready = {c["type"]: c["status"] for c in status["conditions"]}["Ready"]
        assert ready == "True"
    assert nodes["node03"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "zone-c"
    # A node the shape does not size keeps the bootstrap's 2 CPUs.
    assert nodes["controlplane"]["status"]["allocatable"]["cpu"] == "2"


def test_shape_names_nodes_and_keeps_kubeadms_taint(sim_server, admin, created) -> None:
    shape = {
        "nodes": [
            {"name": "worker-a", "role": "worker", "labels": {"tier": "web"}},
            {"name": "master", "role": "control-plane"},
        ]
    }
    doc = create(sim_server, admin, created, shape=shape)
    nodes = nodes_of(sim_server, admin, doc)
    # The control-plane node comes first, whatever the shape's order.
    assert list(nodes) == ["master", "worker-a"]
    master = nodes["master"]
    assert "node-role.kubernetes.io/control-plane" in master["metadata"]["labels"]
    assert master["spec"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    assert nodes["worker-a"]["metadata"]["labels"]["tier"] == "web"
    listed = admin.get(f"{sim_server.base_url}/admin/clusters/{doc['id']}/nodes").json()
    assert listed["items"][0]["roles"] == ["control-plane"]


def _broken(change: Any) -> dict[str, Any]:
    shape = copy.deepcopy(TAINT_SHAPE)
    change(shape)
    return shape


INVALID_SHAPES = {
    "no-nodes": {"nodes": []},
    "not-a-list": {"nodes": "three"},
    "two-control-planes": _broken(lambda s: s["nodes"][1].update(role="control-plane")),
    "no-control-plane": _broken(lambda s: s["nodes"][0].update(role="worker")),
    "duplicate-name": _broken(lambda s: s["nodes"][2].update(name="node01")),
    "bad-name": _broken(lambda s: s["nodes"][1].update(name="Node_01")),
    "bad-effect": _broken(lambda s: s["nodes"][1]["taints"][0].update(effect="NoRun")),
    "taint-without-key": _broken(lambda s: s["nodes"][1]["taints"][0].pop("key")),
    "unknown-resource": _broken(lambda s: s["nodes"][1].update(capacity={"gpu": "1"})),
    "bad-quantity": _broken(lambda s: s["nodes"][1].update(capacity={"cpu": "two"})),
    "zero-capacity": _broken(lambda s: s["nodes"][1].update(capacity={"memory": "0"})),
    "unknown-field": _broken(lambda s: s["nodes"][1].update(zone="a")),
}


@pytest.mark.parametrize("shape", INVALID_SHAPES.values(), ids=INVALID_SHAPES.keys())
def test_an_invalid_shape_is_422(sim_server, admin, shape) -> None:
    before = len(sim_server.clusters)
    response = admin.post(f"{sim_server.base_url}/admin/clusters", json={"shape": shape})
    assert response.status_code == 422, response.text
    assert "shape" in response.json()["message"]
    assert len(sim_server.clusters) == before


def test_nodes_must_agree_with_the_shape(sim_server, admin) -> None:
    response = admin.post(
        f"{sim_server.base_url}/admin/clusters", json={"nodes": 2, "shape": TAINT_SHAPE}
    )
    assert response.status_code == 422
    assert "nodes" in response.json()["message"]


def test_manual_clock_start_is_honoured_and_checked(sim_server, admin, created) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    doc = create(sim_server, admin, created, clock="manual", clockStart=start.isoformat())
    plane = admin.get(f"{sim_server.base_url}/admin/clusters/{doc['id']}/controlplane").json()
    assert datetime.fromisoformat(plane["now"]) == start
    for bad in ("yesterday", "2001-01-01T00:00:00Z", 17):
        response = admin.post(
            f"{sim_server.base_url}/admin/clusters", json={"clock": "manual", "clockStart": bad}
        )
        assert response.status_code == 422, bad


def test_a_manual_snapshot_restored_into_a_wall_clock_cluster_runs_on_wall_time(
    sim_server, admin, created
) -> None:
    base = f"{sim_server.base_url}/admin/clusters"
    start = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    setup = create(
        sim_server, admin, created, shape=TAINT_SHAPE, clock="manual", clockStart=start.isoformat()
    )
    assert admin.post(f"{base}/{setup['id']}/tick", json={"seconds": 30}).status_code == 200
    snapshot = admin.post(f"{base}/{setup['id']}/snapshot").json()
    assert snapshot["clockKind"] == "manual"
    snapshot.pop("auth")

    session = create(sim_server, admin, created, shape=TAINT_SHAPE)
    restored = admin.post(f"{base}/{session['id']}/restore", json=snapshot)
    assert restored.status_code == 200, restored.text
    plane = admin.get(f"{base}/{session['id']}/controlplane").json()
    assert plane["clock"] == "wall"
    # Wall time, not the snapshot's (10 minutes behind): the learner's cluster moves on.
    assert datetime.fromisoformat(plane["now"]) > start + timedelta(minutes=9)
    assert admin.post(f"{base}/{session['id']}/tick", json={"seconds": 1}).status_code == 409
    # The restored state is the setup's, shape included, under the session's own token.
    assert nodes_of(sim_server, admin, session)["node01"]["spec"]["taints"][0]["key"] == "dedicated"
