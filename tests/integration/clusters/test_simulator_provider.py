"""The simulator provider against live simulator servers: placement on the least-loaded
server, the setup snapshot cache, credentials never shared, node access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.clusters.base import LabSetup, NoCapacity, ProviderError
from app.clusters.simulator import NodeFileNotFound, SimulatorProvider, _SnapshotCache
from app.sim.server import SimServer

SHAPE = {
    "nodes": [
        {"name": "controlplane", "role": "control-plane"},
        {"name": "node01", "role": "worker"},
    ]
}
SETUP = LabSetup(
    slug="demo",
    content_hash="abc",
    shape=SHAPE,
    manifests=[
        {
            "name": "00.yaml",
            "content": "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, namespace: demo}\n"
            "data: {k: v}\n",
        }
    ],
)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[SimServer]]:
    started = []
    for capacity in (2, 10):
        server = SimServer(host="127.0.0.1", port=0, tls=False, max_clusters=capacity)
        server.start_in_thread()
        started.append(server)
    yield started
    for server in started:
        server.stop_thread()


def provider(servers: list[SimServer], cache: _SnapshotCache | None = None) -> SimulatorProvider:
    # Both servers share one admin token in this test.
    servers[1].admin_token = servers[0].admin_token
    return SimulatorProvider(
        [s.base_url for s in servers], servers[0].admin_token, snapshots=cache or _SnapshotCache()
    )


def test_new_clusters_go_to_the_least_loaded_server(servers: list[SimServer]) -> None:
    small, large = servers
    sim = provider(servers)
    small.create_cluster(nodes=1)  # small: 1/2 used, large: 0/10
    first = sim.create(SHAPE)
    assert first.details["url"] == large.base_url and first.cluster_id in large.clusters
    for _ in range(5):
        large.create_cluster(nodes=1)  # large: 6/10 > small 1/2
    second = sim.create(SHAPE)
    assert second.details["url"] == small.base_url
    third_load = sim.load(small.base_url)
    assert third_load == 1.0
    # small is full now; large still has room.
    assert sim.create(SHAPE).details["url"] == large.base_url


def test_no_capacity_anywhere(servers: list[SimServer]) -> None:
    sim = SimulatorProvider([servers[0].base_url], servers[0].admin_token)
    servers[0].create_cluster(nodes=1)
    servers[0].create_cluster(nodes=1)
    with pytest.raises(NoCapacity):
        sim.create(SHAPE)
    with pytest.raises(ProviderError, match=r"unreachable|no simulator"):
        SimulatorProvider(["http://127.0.0.1:9"], "t").create(SHAPE)


def test_setup_is_applied_once_then_restored_from_the_snapshot(servers: list[SimServer]) -> None:
    large = servers[1]
    cache = _SnapshotCache()
    sim = provider(servers, cache)
    servers[0].create_cluster(nodes=1)  # the small server is busier: clusters go to large
    first = sim.create(SHAPE)
    sim.apply_setup(first, SETUP)
    assert large.clusters[first.cluster_id].store.get("", "configmaps", "demo", "c1")
    cached = cache.get(("demo", "abc"))
    assert cached is not None and "auth" not in cached

    second = sim.create(SHAPE)
    sim.apply_setup(second, SETUP)
    restored = large.clusters[second.cluster_id]
    assert restored.store.get("", "configmaps", "demo", "c1")["data"] == {"k": "v"}
    # Each cluster keeps its own admin token: one learner's kubeconfig never opens another's.
    token_one = large.clusters[first.cluster_id].auth.admin_token
    token_two = restored.auth.admin_token
    assert token_one != token_two
    url = f"{large.base_url}/clusters/{second.cluster_id}/api/v1/namespaces"
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {token_one}"}, timeout=10).status_code
        == 401
    )
    assert "token:" in sim.kubeconfig(second)

    sim.delete(second)
    sim.delete(second)  # already gone: fine
    assert second.cluster_id not in large.clusters


def test_node_files_and_commands(servers: list[SimServer]) -> None:
    sim = provider(servers)
    handle = sim.create(SHAPE)
    names = [n["name"] for n in sim.nodes(handle)]
    assert "controlplane" in names
    path = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    original = sim.read_file(handle, "controlplane", path)
    assert "kube-scheduler" in original
    sim.write_file(handle, "controlplane", "/root/notes.txt", "hello\n")
    assert sim.read_file(handle, "controlplane", "/root/notes.txt") == "hello\n"
    with pytest.raises(NodeFileNotFound):
        sim.read_file(handle, "controlplane", "/etc/nothing-here")
    code, out, _ = sim.exec(handle, "controlplane", "cat /root/notes.txt")
    assert (code, out) == (0, "hello\n")
