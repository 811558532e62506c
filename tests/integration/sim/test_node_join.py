"""Joining a spare machine with kubeadm: bootstrap tokens as kube-system Secrets, the
join command printed on the control plane, its errors, and the new node Ready in the
real kubectl's `get nodes`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.sim.machinery.clock import ManualClock
from app.sim.machinery.kubeconfig import write_kubeconfig
from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

SHAPE = {
    "nodes": [
        {"name": "controlplane", "role": "control-plane"},
        {"name": "node01", "role": "worker"},
        {"name": "node02", "role": "spare"},
    ]
}


@pytest.fixture
def sim_cluster(sim_server: SimServer, tmp_path: Path) -> Iterator[SimCluster]:
    cluster = sim_server.create_cluster(clock=ManualClock(), shape=SHAPE)
    workdir = tmp_path / cluster.id
    workdir.mkdir()
    path = write_kubeconfig(sim_server.kubeconfig(cluster), workdir / "kubeconfig")
    yield SimCluster(sim_server, cluster, path, workdir)
    sim_server.delete_cluster(cluster.id)


def run(sim: SimCluster, node: str, line: str, code: int = 0) -> str:
    result = sim.cluster.control_plane.nodes.shell(node).run(line)
    assert result.exit_code == code, (line, result.stdout, result.stderr)
    return str(result.stdout + result.stderr)


def test_token_secrets_and_list(sim_cluster: SimCluster, kubectl: Callable[..., Any]) -> None:
    value = run(sim_cluster, "controlplane", "kubeadm token create --ttl 2h --description ci")
    token_id, _, token_secret = value.strip().partition(".")
    assert len(token_id) == 6 and len(token_secret) == 16
    secret = kubectl(
        "-n", "kube-system", "get", "secret", f"bootstrap-token-{token_id}", "-o", "json"
    ).json()
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    listed = run(sim_cluster, "controlplane", "kubeadm token list")
    assert listed.splitlines()[0].split() == [
        "TOKEN",
        "TTL",
        "EXPIRES",
        "USAGES",
        "DESCRIPTION",
        "EXTRA",
        "GROUPS",
    ]
    row = listed.splitlines()[1].split()
    assert row[:2] == [value.strip(), "2h"]
    assert row[3:] == [
        "authentication,signing",
        "ci",
        "system:bootstrappers:kubeadm:default-node-token",
    ]
    assert "not of the form" in run(sim_cluster, "controlplane", "kubeadm token create bad", 1)
    deleted = run(sim_cluster, "controlplane", f"kubeadm token delete {token_id}")
    assert deleted == f'bootstrap token "{token_id}" deleted\n'
    assert run(sim_cluster, "controlplane", "kubeadm token list").count("\n") == 1
    # Only the control plane has admin.conf.
    assert "admin.conf" in run(sim_cluster, "node01", "kubeadm token list", 1)


def test_spare_node_joins_and_turns_ready(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    plane = sim_cluster.cluster.control_plane
    names = [row.split()[0] for row in kubectl("get", "nodes", "--no-headers").lines]
    assert names == ["controlplane", "node01"]
    status = run(sim_cluster, "node02", "systemctl status kubelet", 3)
    assert "activating (auto-restart)" in status
    join = run(sim_cluster, "controlplane", "kubeadm token create --print-join-command").strip()
    assert join.startswith("kubeadm join 172.30.1.2:6443 --token ")
    assert "--discovery-token-ca-cert-hash sha256:" in join
    wrong = re.sub(r"--token \S+", "--token abcdef.0123456789abcdef", join)
    refused = run(sim_cluster, "node02", wrong, 1)
    assert 'could not find a JWS signature in the cluster-info ConfigMap for token ID "abcdef"' in (
        refused
    )
    bad_hash = join.rsplit("sha256:", 1)[0] + "sha256:" + "0" * 64
    assert "none of the public keys" in run(sim_cluster, "node02", bad_hash, 1)
    joined = run(sim_cluster, "node02", join)
    assert "This node has joined the cluster:" in joined
    plane.advance(30)
    rows = {row.split()[0]: row.split() for row in kubectl("get", "nodes", "--no-headers").lines}
    assert rows["node02"][1] == "Ready" and rows["node02"][-1] == "v1.36.2"
    node = kubectl("get", "node", "node02", "-o", "json").json()
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "172.30.1.4"}
    assert "Successfully registered node" in run(sim_cluster, "node02", "journalctl -u kubelet")
    # A second join on the same machine fails kubeadm's preflight checks.
    again = run(sim_cluster, "node02", join, 1)
    assert "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]" in again
    # The DaemonSet runs on the new node, and the scheduler places pods there.
    pods = kubectl("-n", "kube-system", "get", "pods", "-o", "wide", "--no-headers").lines
    assert any(p.startswith("kube-proxy-") and "node02" in p for p in pods)


def test_the_node_access_api_reaches_the_spare_machine(
    sim_cluster: SimCluster, sim_server: SimServer, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim_server.ca.cert_pem)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca)
    session.headers["Authorization"] = f"Bearer {sim_server.admin_token}"
    url = f"{sim_server.base_url}/admin/clusters/{sim_cluster.id}/nodes"
    items = session.get(url).json()["items"]
    assert items[-1] == {"name": "node02", "roles": [], "ready": False}
    ran = session.post(f"{url}/node02/exec", json={"command": "kubeadm version -o short"})
    assert ran.json() == {"exit_code": 0, "stdout": "v1.36.2\n", "stderr": ""}
    assert session.post(f"{url}/node09/exec", json={"command": "true"}).status_code == 404


def test_expired_token_is_refused(sim_cluster: SimCluster) -> None:
    join = run(
        sim_cluster, "controlplane", "kubeadm token create --ttl 1m --print-join-command"
    ).strip()
    sim_cluster.cluster.control_plane.advance(61)
    assert "could not find a JWS signature" in run(sim_cluster, "node02", join, 1)
    assert run(sim_cluster, "controlplane", "kubeadm token list").count("\n") == 1
