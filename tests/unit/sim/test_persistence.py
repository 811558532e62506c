"""The cluster journal: the log is replayed on top of the snapshots, whatever order
nested writes were logged in; a torn last record is skipped; checkpoints truncate."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.sim.persistence import ClusterJournal
from app.sim.server import SimServer
from tests.builders import crd

pytestmark = [pytest.mark.reliability]

CRD = crd()


def server_on(directory: Path, **options: float) -> SimServer:
    server = SimServer(port=0, tls=False, control_plane=False, node_agents=False)
    server.enable_journal(directory, **options)
    return server


def objects(server: SimServer, cluster_id: str) -> dict:
    dump = server.clusters[cluster_id].store.dump()["objects"]
    return {kind: sorted(o["metadata"]["name"] for o in items) for kind, items in dump.items()}


def test_a_crash_keeps_every_write_and_nested_writes_replay_right(tmp_path: Path) -> None:
    first = server_on(tmp_path, fsync_interval=0.05)
    cluster = first.create_cluster(cluster_id="one", nodes=1)
    store = cluster.store
    store.create("", "configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    store.create("", "configmaps", {"metadata": {"name": "b", "namespace": "default"}})
    changed = store.get("", "configmaps", "default", "a")
    changed["data"] = {"k": "v"}
    store.update("", "configmaps", changed)
    store.delete("", "configmaps", "default", "b")
    # Accepting a CRD writes its status from inside the create's hook: the nested
    # update is logged before the create it follows.
    store.create("apiextensions.k8s.io", "customresourcedefinitions", CRD)
    store.create("example.com", "widgets", {"metadata": {"name": "w1", "namespace": "default"}})
    first.journal.sync()
    expected = objects(first, "one")
    # No close(): the process "dies" here with its log unsynced to snapshots.

    second = server_on(tmp_path)
    assert list(second.clusters) == ["one"]
    assert objects(second, "one") == expected
    again = second.clusters["one"]
    assert again.store.get("", "configmaps", "default", "a")["data"] == {"k": "v"}
    assert again.store.get("", "configmaps", "default", "b") is None
    crd = again.store.get(
        "apiextensions.k8s.io", "customresourcedefinitions", None, CRD["metadata"]["name"]
    )
    assert {c["type"] for c in crd["status"]["conditions"]} == {"NamesAccepted", "Established"}
    assert again.registry.by_plural("example.com", "v1", "widgets") is not None
    assert again.auth.admin_token == cluster.auth.admin_token
    # New writes continue above every recovered resourceVersion.
    assert again.store.resource_version >= store.resource_version
    second.journal.close()


def test_credentials_issued_after_the_snapshot_survive(tmp_path: Path) -> None:
    first = server_on(tmp_path, fsync_interval=0.05)
    cluster = first.create_cluster(cluster_id="creds", nodes=1)
    token = cluster.auth.add_token("jane", ("devs",))
    time.sleep(0.5)  # more than the journal's pass interval
    second = server_on(tmp_path)
    user = second.clusters["creds"].auth.tokens[token]
    assert user.name == "jane" and "devs" in user.groups
    second.journal.close()


def test_torn_last_record_is_skipped(tmp_path: Path) -> None:
    first = server_on(tmp_path)
    store = first.create_cluster(cluster_id="torn", nodes=1).store
    store.create("", "configmaps", {"metadata": {"name": "whole", "namespace": "default"}})
    segment = sorted(tmp_path.glob("wal-*.log"))[-1]
    with open(segment, "ab") as fh:
        fh.write(b'{"c":"torn","i":"x","t":"ADDED","g":"","p":"configmaps","rv":99,"o":{"met')
    second = server_on(tmp_path)
    assert second.clusters["torn"].store.get("", "configmaps", "default", "whole") is not None
    second.journal.close()


def test_checkpoint_truncates_the_log_and_deleted_clusters_stay_deleted(tmp_path: Path) -> None:
    server = server_on(tmp_path)
    keep = server.create_cluster(cluster_id="keep", nodes=1)
    server.create_cluster(cluster_id="drop", nodes=1)
    for index in range(50):
        keep.store.create(
            "", "configmaps", {"metadata": {"name": f"cm{index}", "namespace": "default"}}
        )
    server.delete_cluster("drop")
    before = sum(p.stat().st_size for p in tmp_path.glob("wal-*.log"))
    assert before > 0
    assert server.journal.checkpoint() == 1  # only the cluster written since
    assert sum(p.stat().st_size for p in tmp_path.glob("wal-*.log")) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["keep.json"]
    keep.store.create("", "configmaps", {"metadata": {"name": "late", "namespace": "default"}})
    again = server_on(tmp_path)
    assert list(again.clusters) == ["keep"]
    assert again.clusters["keep"].store.count("", "configmaps") == keep.store.count(
        "", "configmaps"
    )
    again.journal.close()
    server.journal.close()


def test_recovery_reports_its_figures(tmp_path: Path) -> None:
    server = server_on(tmp_path)
    server.create_cluster(cluster_id="c1", nodes=1)
    journal = ClusterJournal(tmp_path)
    assert [d["id"] for d in journal.recover()] == ["c1"]
    assert journal.stats["recovered_clusters"] == 1
    assert journal.stats["recover_seconds"] >= 0
    server.journal.close()


def renew(store, namespace: str, name: str, stamp: str) -> None:
    lease = store.get("coordination.k8s.io", "leases", namespace, name)
    lease["spec"]["renewTime"] = stamp
    store.update("coordination.k8s.io", "leases", lease)


def test_heartbeat_leases_alone_do_not_snapshot_a_cluster_again(tmp_path: Path) -> None:
    server = server_on(tmp_path)
    cluster = server.create_cluster(cluster_id="idle", nodes=1)
    store = cluster.store
    node = store.list("", "nodes")[0][0]["metadata"]["name"]
    server.journal.checkpoint()  # whatever creating the cluster left to snapshot
    renew(store, "kube-node-lease", node, "2026-01-01T00:00:10.000000Z")
    renew(store, "kube-node-lease", node, "2026-01-01T00:00:20.000000Z")
    # Heartbeats only: no snapshot, their latest state is carried into the new log.
    assert server.journal.checkpoint() == 0
    latest = store.resource_version
    again = server_on(tmp_path)
    recovered = again.clusters["idle"].store
    lease = recovered.get("coordination.k8s.io", "leases", "kube-node-lease", node)
    assert lease["spec"]["renewTime"] == "2026-01-01T00:00:20.000000Z"
    assert recovered.resource_version >= latest  # never goes back
    again.journal.close()
    server.journal.close()
