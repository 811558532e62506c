"""The node-access admin API (`/admin/clusters/{id}/nodes/...`) with the simulator's
node agents attached, as the cluster provider and `certprep lab ssh` use it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster


@pytest.fixture
def admin(sim_server: SimServer, tmp_path: Path) -> requests.Session:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim_server.ca.cert_pem)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca)
    session.headers["Authorization"] = f"Bearer {sim_server.admin_token}"
    return session


def base(sim_server: SimServer, sim_cluster: SimCluster) -> str:
    return f"{sim_server.base_url}/admin/clusters/{sim_cluster.id}/nodes"


def test_nodes_are_listed_with_roles(admin, sim_server, sim_cluster) -> None:
    items = admin.get(base(sim_server, sim_cluster)).json()["items"]
    assert items[0] == {"name": "controlplane", "roles": ["control-plane"], "ready": True}
    assert [i["name"] for i in items] == ["controlplane", "node01", "node02"]


def test_without_node_agents_files_are_not_available(admin, sim_server, sim_cluster) -> None:
    sim_cluster.cluster.node_access = None  # as with SimServer(node_agents=False)
    response = admin.get(
        f"{base(sim_server, sim_cluster)}/node01/files", params={"path": "/etc/hostname"}
    )
    assert response.status_code == 501
    missing = admin.get(
        f"{base(sim_server, sim_cluster)}/node09/files", params={"path": "/etc/hostname"}
    )
    assert missing.status_code == 404


def test_files_and_commands_through_node_agents(admin, sim_server, sim_cluster) -> None:
    # The server gives every cluster node agents (files and a shell per node).
    assert sim_cluster.cluster.node_access is not None
    url = base(sim_server, sim_cluster)
    scheduler = admin.get(
        f"{url}/controlplane/files",
        params={"path": "/etc/kubernetes/manifests/kube-scheduler.yaml"},
    )
    assert "kube-scheduler" in scheduler.json()["content"]
    path = "/etc/kubernetes/manifests/demo.yaml"
    written = admin.put(
        f"{url}/controlplane/files", params={"path": path}, json={"content": "kind: Pod\n"}
    )
    assert written.status_code == 200, written.text
    read = admin.get(f"{url}/controlplane/files", params={"path": path})
    assert read.json()["content"] == "kind: Pod\n"
    missing = admin.get(f"{url}/controlplane/files", params={"path": "/no/such/file"})
    assert missing.status_code == 404
    ran = admin.post(f"{url}/controlplane/exec", json={"command": f"cat {path}"})
    assert ran.status_code == 200
    assert ran.json() == {"exit_code": 0, "stdout": "kind: Pod\n", "stderr": ""}
    failed = admin.post(f"{url}/controlplane/exec", json={"command": "cat /no/such/file"})
    assert failed.json()["exit_code"] != 0
    assert admin.post(f"{url}/controlplane/exec", json={}).status_code == 422
    relative = admin.get(f"{url}/controlplane/files", params={"path": "etc/hostname"})
    assert relative.status_code == 422
