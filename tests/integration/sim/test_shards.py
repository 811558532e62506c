"""`certprep sim serve --shards 2`: clusters held by two shard processes behind one front.

Real processes and real kubectl: placement on the least-loaded shard, kubeconfigs that
reach the owner directly, the admin API across shards, a killed shard restarted with
its clusters, and a restarted server finding each cluster in its shard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.sim_process import SimProcess, kubectl_at

pytestmark = [pytest.mark.reliability, pytest.mark.kubectl, pytest.mark.slow]

WAIT_SECONDS = 120.0


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return kubectl_at(kubeconfig, *args, check=check, timeout=120)


@pytest.fixture
def sharded(tmp_path: Path) -> Iterator[SimProcess]:
    server = SimProcess(tmp_path / "sim-state", shards=2)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def create(sim: SimProcess, tmp: Path, cluster_id: str) -> tuple[dict, Path]:
    response = sim.admin("POST", "/admin/clusters", json={"id": cluster_id, "nodes": 2})
    assert response.status_code == 201, response.text
    doc = response.json()
    path = tmp / f"{cluster_id}.kubeconfig"
    path.write_text(doc["kubeconfig"])
    return doc, path


def listing(sim: SimProcess) -> dict:
    response = sim.admin("GET", "/admin/clusters")
    assert response.status_code == 200, response.text
    return response.json()


def owners(sim: SimProcess) -> dict[str, int]:
    """Cluster id -> index of the shard whose address its document names."""
    body = listing(sim)
    by_port = {urlsplit(s["url"]).port: s["index"] for s in body["shards"]}
    return {item["id"]: by_port[urlsplit(item["server"]).port] for item in body["items"]}


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def pod_phase(kubeconfig: Path, name: str) -> str:
    return kubectl(kubeconfig, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout


def test_clusters_spread_over_shards_and_kubectl_reaches_each(
    sharded: SimProcess, tmp_path: Path
) -> None:
    sim = sharded
    doc_a, config_a = create(sim, tmp_path, "alpha")
    doc_b, config_b = create(sim, tmp_path, "beta")
    # Least-loaded placement: the second cluster goes to the empty shard.
    placed = owners(sim)
    assert placed["alpha"] != placed["beta"]
    assert [s["clusters"] for s in listing(sim)["shards"]] == [1, 1]
    # Each kubeconfig names its shard's own address, not the front's.
    front_port = urlsplit(sim.url).port
    assert urlsplit(doc_a["server"]).port not in (front_port, urlsplit(doc_b["server"]).port)
    kubectl(config_a, "run", "web", "--image=nginx")
    kubectl(config_b, "create", "configmap", "only-in-beta", "--from-literal=k=v")
    wait_until(lambda: pod_phase(config_a, "web") == "Running", "pod web Running in alpha")
    assert "only-in-beta" not in kubectl(config_a, "get", "configmaps").stdout
    assert "only-in-beta" in kubectl(config_b, "get", "configmaps").stdout
    # Alpha's token means nothing on beta's shard.
    stranger = requests.get(
        f"{doc_b['server']}/api/v1/namespaces",
        headers={"Authorization": f"Bearer {doc_a['token']}"},
        verify=sim.ca_file,
        timeout=30,
    )
    assert stranger.status_code == 401
    # A request that reaches the front for a cluster is forwarded to its owner.
    through_front = requests.get(
        f"{sim.url}/clusters/beta/api/v1/namespaces/default/configmaps/only-in-beta",
        headers={"Authorization": f"Bearer {doc_b['token']}"},
        verify=sim.ca_file,
        timeout=30,
    )
    assert through_front.status_code == 200
    assert through_front.json()["data"] == {"k": "v"}
    assert requests.get(f"{sim.url}/readyz", verify=sim.ca_file, timeout=30).status_code == 200


def test_admin_api_routes_to_the_owner(sharded: SimProcess, tmp_path: Path) -> None:
    sim = sharded
    create(sim, tmp_path, "one")
    _, config_two = create(sim, tmp_path, "two")
    assert sim.admin("POST", "/admin/clusters", json={"id": "two"}).status_code == 409
    assert sim.admin("GET", "/admin/clusters/nowhere").status_code == 404
    assert sim.admin("GET", "/admin/clusters/two").json()["id"] == "two"
    # Snapshot one cluster and restore it into the cluster on the other shard.
    kubectl(config_two, "create", "namespace", "before")
    saved = sim.admin("POST", "/admin/clusters/two/snapshot").json()
    kubectl(config_two, "create", "namespace", "after")
    assert sim.admin("POST", "/admin/clusters/two/restore", json=saved).status_code == 200
    assert kubectl(config_two, "get", "namespace", "after", check=False).returncode != 0
    saved.pop("auth", None)
    assert sim.admin("POST", "/admin/clusters/one/restore", json=saved).status_code == 200
    users = sim.admin("POST", "/admin/clusters/one/users", json={"name": "jane"})
    assert users.status_code == 201
    # Node access is forwarded too.
    nodes = sim.admin("GET", "/admin/clusters/one/nodes").json()["items"]
    assert {n["name"] for n in nodes} == {"controlplane", "node01"}
    assert sim.admin("DELETE", "/admin/clusters/one").status_code == 200
    assert sim.admin("GET", "/admin/clusters/one").status_code == 404
    assert [item["id"] for item in listing(sim)["items"]] == ["two"]
    # The freed shard is the least loaded again.
    create(sim, tmp_path, "three")
    assert len(set(owners(sim).values())) == 2


def test_killed_shard_restarts_with_its_clusters(sharded: SimProcess, tmp_path: Path) -> None:
    sim = sharded
    _, config_a = create(sim, tmp_path, "keep-a")
    _, config_b = create(sim, tmp_path, "keep-b")
    kubectl(config_b, "create", "configmap", "survivor", "--from-literal=k=v")
    placed = owners(sim)
    victim = sim.shard_pids()[placed["keep-b"]]
    os.kill(victim, signal.SIGKILL)
    # The shard's socket stays open in the front: kubectl waits and gets the answer
    # from the restarted shard, which recovered the cluster from its log.
    value = kubectl(config_b, "get", "configmap", "survivor", "-o", "jsonpath={.data.k}")
    assert value.stdout == "v"
    wait_until(lambda: victim not in sim.shard_pids(), "the killed shard to be replaced")
    body = listing(sim)
    assert body["shards"][placed["keep-b"]]["restarts"] == 1
    assert {item["id"] for item in body["items"]} == {"keep-a", "keep-b"}
    assert kubectl(config_a, "get", "nodes").returncode == 0
    assert requests.get(f"{sim.url}/readyz", verify=sim.ca_file, timeout=30).status_code == 200


def test_restarted_server_finds_each_cluster_in_its_shard(
    sharded: SimProcess, tmp_path: Path
) -> None:
    sim = sharded
    create(sim, tmp_path, "first")
    create(sim, tmp_path, "second")
    _, config = create(sim, tmp_path, "third")
    kubectl(config, "create", "namespace", "kept")
    before = owners(sim)
    shards = sim.shard_pids()
    sim.kill()  # SIGKILL of the front: the shards die with it
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in shards), "shards to exit")
    sim.start()
    assert owners(sim) == before
    # Shard i listens on the front's port + 1 + i again: the kubeconfig still works.
    assert kubectl(config, "get", "namespace", "kept").returncode == 0


def test_fewer_shards_still_bring_back_every_cluster(sharded: SimProcess, tmp_path: Path) -> None:
    sim = sharded
    create(sim, tmp_path, "left")
    _, config = create(sim, tmp_path, "right")
    kubectl(config, "create", "namespace", "still-here")
    sim.stop()
    # Asked for one process, the server starts as many shards as hold clusters.
    sim.shards = 1
    sim.start()
    body = listing(sim)
    assert len(body["shards"]) == 2
    assert {item["id"] for item in body["items"]} == {"left", "right"}
    assert kubectl(config, "get", "namespace", "still-here").returncode == 0


def test_readyz_fails_while_a_shard_does_not_answer(sharded: SimProcess) -> None:
    sim = sharded
    stalled = sim.shard_pids()[1]
    os.kill(stalled, signal.SIGSTOP)  # alive but silent: not restarted, not ready
    try:
        ready = requests.get(f"{sim.url}/readyz", verify=sim.ca_file, timeout=30)
        assert ready.status_code == 500
        assert "[-]shard-1 failed" in ready.text and "[+]shard-0 ok" in ready.text
        # A partial list would read as lost clusters: the list is refused instead.
        assert sim.admin("GET", "/admin/clusters").status_code == 503
        assert requests.get(f"{sim.url}/healthz", verify=sim.ca_file, timeout=30).ok
    finally:
        os.kill(stalled, signal.SIGCONT)
    ready = requests.get(f"{sim.url}/readyz", verify=sim.ca_file, timeout=30)
    assert ready.status_code == 200
