"""The per-cluster control plane in process: attach, settle, advance, restore, reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.sim.controlplane import ControlPlane
from app.sim.machinery.clock import ManualClock, WallClock
from app.sim.server import SimServer


@pytest.fixture
def server() -> SimServer:
    return SimServer(port=0, tls=False)  # never started: clusters only


def phases(cluster, namespace: str = "kube-system") -> dict[str, str]:
    pods = cluster.store.list("", "pods", namespace)[0]
    return {p["metadata"]["name"]: p["status"].get("phase") for p in pods}


def test_fresh_cluster_runs_its_system_pods(server: SimServer) -> None:
    cluster = server.create_cluster(clock=ManualClock())
    assert isinstance(cluster.control_plane, ControlPlane)
    assert cluster.node_access is cluster.control_plane.nodes
    running = phases(cluster)
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert running[f"{component}-controlplane"] == "Running"
    assert sum(name.startswith("kube-proxy-") for name in running) == 3
    assert sum(name.startswith("coredns-") for name in running) == 2
    assert set(running.values()) == {"Running"}
    # Manual clocks are not in the server's loop; deletes wait for the kubelets.
    assert cluster.loops == []
    assert cluster.graceful_pod_deletion


def test_wall_clock_clusters_are_ticked_by_the_server_loop(server: SimServer) -> None:
    cluster = server.create_cluster(clock=WallClock())
    assert cluster.loops == [cluster.control_plane.poll]
    before = cluster.control_plane.ticks
    server.run_loops()
    assert cluster.control_plane.ticks == before + 1
    with pytest.raises(TypeError):
        cluster.control_plane.advance(1)
    undriven = SimServer(port=0, tls=False, drive_wall_clock=False).create_cluster()
    assert undriven.loops == [] and not undriven.graceful_pod_deletion
    bare = SimServer(port=0, tls=False, control_plane=False).create_cluster()
    assert bare.control_plane is None


def test_advance_moves_the_clock_in_steps(server: SimServer) -> None:
    clock = ManualClock()
    cluster = server.create_cluster(clock=clock)
    start = clock.now()
    cluster.control_plane.advance(12.5)
    assert (clock.now() - start).total_seconds() == 12.5
    with pytest.raises(ValueError):
        cluster.control_plane.advance(-1)
    lease = cluster.store.get("coordination.k8s.io", "leases", "kube-node-lease", "node01")
    assert lease["spec"]["renewTime"] > start.isoformat()[:19]


def test_restore_rebuilds_state_and_moves_the_clock_forward(server: SimServer) -> None:
    source = server.create_cluster(clock=ManualClock())
    source.control_plane.advance(60)
    snapshot = source.snapshot()
    assert snapshot["clockKind"] == "manual"
    target = server.create_cluster(clock=ManualClock())
    old_scheduler = target.control_plane.scheduler
    target.restore(snapshot)
    assert target.clock.now() == source.clock.now()
    assert target.control_plane.scheduler is not old_scheduler
    target.control_plane.settle()
    assert set(phases(target).values()) == {"Running"}


def test_saved_manual_clusters_reload_with_their_clock(server: SimServer, tmp_path: Path) -> None:
    cluster = server.create_cluster(cluster_id="keep", clock=ManualClock())
    cluster.control_plane.advance(5)
    server.save_clusters(tmp_path)
    again = SimServer(port=0, tls=False)
    assert again.load_clusters(tmp_path) == ["keep"]
    reloaded = again.clusters["keep"]
    assert isinstance(reloaded.clock, ManualClock)
    assert reloaded.clock.now() == cluster.clock.now()
    assert isinstance(reloaded.control_plane, ControlPlane)


def test_controllers_flag_selects_the_controllers(server: SimServer) -> None:
    cluster = server.create_cluster(clock=ManualClock())
    plane = cluster.control_plane
    path = "/etc/kubernetes/manifests/kube-controller-manager.yaml"
    manifest = plane.nodes.read_file("controlplane", path)
    plane.nodes.write_file(
        "controlplane", path, manifest.replace("--controllers=*,", "--controllers=*,-deployment,")
    )
    plane.advance(20)
    assert plane.controllers_flag.startswith("*,-deployment")
    assert "deployment-controller" not in plane.manager.enabled
    assert "replicaset-controller" in plane.manager.enabled


def test_component_statuses_follow_the_static_pods(server: SimServer) -> None:
    cluster = server.create_cluster(clock=ManualClock())
    plane = cluster.control_plane
    path = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    manifest = plane.nodes.read_file("controlplane", path)
    plane.nodes.write_file("controlplane", path, manifest.replace("--leader-elect=", "--nope="))
    plane.advance(5)
    healthy, _, error = cluster.component_health["scheduler"]
    assert not healthy and "127.0.0.1:10259: connect: connection refused" in error
    assert cluster.component_health["controller-manager"][0]
    plane.nodes.write_file("controlplane", path, manifest)
    plane.advance(5)
    assert cluster.component_health["scheduler"] == (True, "ok", "")
