"""An idle control plane: `ControlPlane.poll` (what the server's loop runs for a
wall-clock cluster every 0.25 s) runs a full tick only when something changed or is
due, and renews the Leases in between. Driven here by a manual clock the test moves,
polling as the server's loop does."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from app.sim.controlplane import ControlPlane
from app.sim.machinery.clock import ManualClock, parse_time
from app.sim.machinery.cluster import Cluster
from app.sim.server import SimServer

POLL = 0.25  # the server's loop interval


@pytest.fixture
def idle() -> tuple[Cluster, ControlPlane, ManualClock]:
    """A fresh cluster polled for a simulated minute: its system pods Ready, settled."""
    clock = ManualClock()
    cluster = SimServer(port=0, tls=False).create_cluster(clock=clock)
    plane = cluster.control_plane
    assert isinstance(plane, ControlPlane)
    run(plane, clock, 60)
    return cluster, plane, clock


def run(plane: ControlPlane, clock: ManualClock, seconds: float) -> None:
    for _ in range(int(seconds / POLL)):
        clock.advance(POLL)
        plane.poll()


def renewed(cluster: Cluster, namespace: str, name: str) -> datetime:
    lease = cluster.store.get("coordination.k8s.io", "leases", namespace, name)
    return parse_time(lease["spec"]["renewTime"])


def ready(cluster: Cluster, node: str) -> str:
    obj = cluster.store.get("", "nodes", None, node)
    return next(c["status"] for c in obj["status"]["conditions"] if c["type"] == "Ready")


def pod_status(cluster: Cluster, name: str) -> dict:
    return cluster.store.get("", "pods", "default", name).get("status") or {}


def create_pod(cluster: Cluster, name: str, script: str, **container) -> None:
    spec = {
        "containers": [
            {"name": "main", "image": "busybox", "command": ["sh", "-c", script], **container}
        ]
    }
    cluster.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        },
    )


def test_an_idle_cluster_runs_no_full_tick_but_keeps_renewing_its_leases(idle) -> None:
    cluster, plane, clock = idle
    ticks = plane.ticks
    node_lease = renewed(cluster, "kube-node-lease", "node01")
    run(plane, clock, 60)
    assert plane.ticks == ticks
    # Node Leases every 10 s, leader Leases every 2 s, as upstream.
    assert (renewed(cluster, "kube-node-lease", "node01") - node_lease).total_seconds() >= 50
    for leader in ("kube-scheduler", "kube-controller-manager"):
        behind = clock.now() - renewed(cluster, "kube-system", leader)
        assert behind.total_seconds() <= 2.25
    assert all(ready(cluster, n) == "True" for n in ("controlplane", "node01", "node02"))


def heartbeat_of(cluster: Cluster, node: str) -> datetime:
    obj = cluster.store.get("", "nodes", None, node)
    ready_condition = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    return parse_time(ready_condition["lastHeartbeatTime"])


def test_periodic_node_status_reports_do_not_wake_full_ticks(idle) -> None:
    cluster, plane, clock = idle
    run(plane, clock, 300)  # past the first report, which posts the images pulled
    ticks = plane.ticks
    reported = heartbeat_of(cluster, "node01")
    run(plane, clock, 600)
    # The kubelet still posts its status every 5 min (nodeStatusReportFrequency)...
    assert (heartbeat_of(cluster, "node01") - reported).total_seconds() >= 300
    # ...but no full tick runs: neither a report alone (and its probes looked at
    # again) nor the controllers' 5-minute resync, which waits for a write.
    assert plane.ticks == ticks


def test_an_untouched_cluster_resyncs_every_half_hour_and_a_write_runs_due_resyncs(
    idle,
) -> None:
    cluster, plane, clock = idle
    gc_name = "garbage-collector-controller"
    ran_at = plane.manager._last_run[gc_name][1]
    run(plane, clock, 360)  # past the garbage collector's 5-minute resync
    assert plane.manager._last_run[gc_name][1] == ran_at
    # A write that gives the garbage collector nothing to do (a ConfigMap) still runs
    # it: its resync is due, so the first pass after it was due includes it.
    cluster.store.create(
        "",
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "n", "namespace": "default"},
        },
    )
    run(plane, clock, 0.5)
    assert plane.manager._last_run[gc_name][1] > ran_at + 300
    run(plane, clock, 15)  # the kubelets' second look at their probes after a change
    # Left alone, the cluster runs one full tick in the next half hour (its resync).
    ticks = plane.ticks
    run(plane, clock, 1800)
    assert plane.ticks - ticks == 1


def test_an_image_pulled_shows_in_the_node_status_within_a_status_check(idle) -> None:
    cluster, plane, clock = idle
    create_pod(cluster, "puller", "sleep 3600", image="redis:7.2")
    run(plane, clock, 20)  # well before the next 5-minute report
    node_name = cluster.store.get("", "pods", "default", "puller")["spec"]["nodeName"]
    images = cluster.store.get("", "nodes", None, node_name)["status"]["images"]
    assert any("redis:7.2" in name for image in images for name in image["names"])


def test_a_node_status_change_still_wakes_a_full_tick(idle) -> None:
    cluster, plane, clock = idle
    ticks = plane.ticks
    node = cluster.store.get("", "nodes", None, "node01")
    node["metadata"]["labels"]["disk"] = "ssd"
    plane._in_plane = True  # as a component of the control plane would write it
    try:
        cluster.store.update("", "nodes", node)
    finally:
        plane._in_plane = False
    run(plane, clock, 0.5)
    assert plane.ticks > ticks


def test_a_write_wakes_the_control_plane_and_the_pod_runs(idle) -> None:
    cluster, plane, clock = idle
    ticks = plane.ticks
    create_pod(cluster, "web", "sleep 3600")
    run(plane, clock, 10)
    assert plane.ticks > ticks
    assert pod_status(cluster, "web").get("phase") == "Running"
    assert cluster.store.get("", "pods", "default", "web")["spec"]["nodeName"]


def test_a_stopped_kubelet_turns_its_node_not_ready_after_the_grace_period(idle) -> None:
    cluster, plane, clock = idle
    assert cluster.node_access.shell("node01").run("systemctl stop kubelet").exit_code == 0
    stopped = renewed(cluster, "kube-node-lease", "node01")
    waited = 0
    while ready(cluster, "node01") == "True" and waited < 90:
        run(plane, clock, 1)
        waited += 1
    # kube-controller-manager's --node-monitor-grace-period (40 s) from the last
    # heartbeat, noticed on a later pass: the same as with `advance`.
    assert 40 <= waited <= 52
    assert ready(cluster, "node01") == "Unknown"
    assert renewed(cluster, "kube-node-lease", "node01") == stopped
    assert ready(cluster, "node02") == "True"


def test_logs_of_a_container_are_read_up_to_now_without_ticks(idle) -> None:
    cluster, plane, clock = idle
    create_pod(cluster, "talker", "while true; do echo tick; sleep 1; done")
    run(plane, clock, 15)
    assert pod_status(cluster, "talker").get("phase") == "Running"
    before = len(cluster.container_log("default", "talker", "main") or [])
    ticks = plane.ticks
    run(plane, clock, 20)
    assert plane.ticks == ticks  # the cluster slept ...
    lines = cluster.container_log("default", "talker", "main") or []
    assert len(lines) - before >= 19  # ... yet the log is up to date


def test_a_probe_that_starts_failing_with_time_restarts_the_container(idle) -> None:
    cluster, plane, clock = idle
    liveness = {
        "exec": {"command": ["cat", "/tmp/healthy"]},
        "periodSeconds": 5,
        "failureThreshold": 2,
    }
    script = "touch /tmp/healthy; sleep 20; rm -f /tmp/healthy; sleep 3600"
    create_pod(cluster, "flaky", script, livenessProbe=liveness)
    run(plane, clock, 15)
    statuses = pod_status(cluster, "flaky")["containerStatuses"]
    assert statuses[0]["restartCount"] == 0
    run(plane, clock, 30)
    statuses = pod_status(cluster, "flaky")["containerStatuses"]
    assert statuses[0]["restartCount"] >= 1


def test_heartbeat_renewals_reach_watchers_with_new_resource_versions(idle) -> None:
    cluster, plane, clock = idle
    events = []
    watch, start = cluster.store.watch(
        "coordination.k8s.io", "leases", events.append, resource_version=None
    )
    events.clear()  # the initial ADDED events
    ticks = plane.ticks
    run(plane, clock, 10)
    cluster.store.unwatch(watch)
    assert plane.ticks == ticks
    leaders = [e for e in events if e.name == "kube-scheduler"]
    nodes = [e for e in events if e.namespace == "kube-node-lease" and e.name == "node01"]
    # Every 2 s for the leader Lease, every 10 s for the node's (a MODIFIED each).
    assert 4 <= len(leaders) <= 6 and 1 <= len(nodes) <= 2
    assert all(e.type == "MODIFIED" for e in events)
    versions = [e.resource_version for e in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions[0] > start
    stored = cluster.store.get("coordination.k8s.io", "leases", "kube-system", "kube-scheduler")
    assert stored["metadata"]["resourceVersion"] == str(leaders[-1].resource_version)
    assert stored["spec"]["renewTime"] == leaders[-1].object()["spec"]["renewTime"]


def test_an_idle_control_plane_is_not_due_between_heartbeat_passes(idle) -> None:
    _, plane, clock = idle
    while not plane.due():
        clock.advance(POLL)
    plane.poll()
    assert not plane.due()
    clock.advance(1.0)
    assert not plane.due()
    clock.advance(1.0)
    assert plane.due()


def test_the_lease_fast_path_leaves_a_lease_held_by_another_identity_alone(idle) -> None:
    cluster, _, _ = idle
    before = cluster.store.get("coordination.k8s.io", "leases", "kube-system", "kube-scheduler")
    assert not cluster.store.renew_lease(
        "kube-system", "kube-scheduler", "someone-else", "2030-01-01T00:00:00.000000Z", 15
    )
    assert not cluster.store.renew_lease("kube-system", "missing", "x", "2030-01-01", 15)
    after = cluster.store.get("coordination.k8s.io", "leases", "kube-system", "kube-scheduler")
    assert after == before


def test_a_renewal_after_another_write_of_the_lease_keeps_that_write(idle) -> None:
    # The fast path reuses its last renewal's decoded Lease only while that is still
    # the stored version: a label written in between must survive the next renewal.
    cluster, _, _ = idle
    leases = ("coordination.k8s.io", "leases")
    lease = cluster.store.get(*leases, "kube-system", "kube-scheduler")
    holder = lease["spec"]["holderIdentity"]
    assert cluster.store.renew_lease(
        "kube-system", "kube-scheduler", holder, "2030-01-01T00:00:01.000000Z", 15
    )
    lease = cluster.store.get(*leases, "kube-system", "kube-scheduler")
    lease["metadata"].setdefault("labels", {})["audit"] = "yes"
    cluster.store.update(*leases, lease)
    assert cluster.store.renew_lease(
        "kube-system", "kube-scheduler", holder, "2030-01-01T00:00:03.000000Z", 15
    )
    renewed_lease = cluster.store.get(*leases, "kube-system", "kube-scheduler")
    assert renewed_lease["metadata"]["labels"]["audit"] == "yes"
    assert renewed_lease["spec"]["renewTime"] == "2030-01-01T00:00:03.000000Z"
    assert renewed_lease["metadata"]["resourceVersion"] == str(cluster.store.resource_version)


def test_the_server_runs_the_heartbeat_passes_of_idle_clusters_as_one_job() -> None:
    clock = ManualClock()
    server = SimServer(port=0, tls=False)
    clusters = [server.create_cluster(clock=clock) for _ in range(2)]
    planes = [c.control_plane for c in clusters]
    for cluster, plane in zip(clusters, planes, strict=True):
        cluster.loops = [plane.poll]  # as the server's loop drives a wall-clock cluster
    for _ in range(int(60 / POLL)):
        clock.advance(POLL)
        for plane in planes:
            plane.poll()
    while not all(p.due() for p in planes):
        clock.advance(POLL)
    assert {c.id for c in server.due_clusters()} == {c.id for c in clusters}
    assert [{c.id for c in job} for job in server._due_passes()] == [{c.id for c in clusters}]
    # A write gives the first cluster a full tick: a job of its own.
    create_pod(clusters[0], "web", "sleep 3600")
    jobs = server._due_passes()
    assert [[c.id for c in job] for job in jobs] == [[clusters[1].id], [clusters[0].id]]
    ticks = [p.ticks for p in planes]
    for job in jobs:
        server._run_passes(job)
    assert planes[0].ticks == ticks[0] + 1 and planes[1].ticks == ticks[1]
    assert not planes[1].due()
    behind = clock.now() - renewed(clusters[1], "kube-system", "kube-scheduler")
    assert behind.total_seconds() == 0


def test_the_server_loop_looks_at_idle_clusters_once_a_second_and_at_once_after_a_write() -> None:
    # A wall-clock cluster, driven here by hand: settled, its plane planned.
    server = SimServer(port=0, tls=False)
    cluster = server.create_cluster()
    plane = cluster.control_plane
    assert plane.on_change is not None  # the server listens to its control plane
    cluster.loops = [plane.poll]
    plane.settle()
    plane.poll()
    *_, server._next_wake = server._due_passes_and_wake()
    server._changed, server._scanned_at = False, time.monotonic()
    assert server._next_wake > time.time()  # its next full tick is planned ahead
    assert not server._scan_due()  # nothing announced, no wake reached
    server._scanned_at -= 1.0
    assert server._scan_due()  # the heartbeat passes: once a second
    server._scanned_at = time.monotonic()
    # A Lease renewal by the plane itself announces nothing ...
    plane._beat(plane.cluster.clock.now().timestamp() + 2.5)
    assert not server._scan_due()
    # ... a write from outside does, and so does a node access.
    create_pod(cluster, "web", "sleep 3600")
    assert server._scan_due()
    server._changed = False
    cluster.node_access.shell("node01").run("hostname")
    assert server._scan_due()
