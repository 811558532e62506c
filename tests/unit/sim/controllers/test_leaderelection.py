"""Leader election through Leases in kube-system."""

from __future__ import annotations

import re

from app.sim.bootstrap import create_cluster
from app.sim.client import LeaderElector
from app.sim.controllers import ControllerManager
from app.sim.machinery.clock import ManualClock
from tests.builders import deployment
from tests.fixtures.controllers import Lab


def lease(lab: Lab, name: str) -> dict:
    return lab.store.get("coordination.k8s.io", "leases", "kube-system", name)["spec"]


def test_first_tick_acquires_the_lease(lab: Lab) -> None:
    elector = LeaderElector(lab.store, lab.clock, "kube-scheduler")
    assert elector.tick(running=True)
    spec = lease(lab, "kube-scheduler")
    assert re.fullmatch(r"controlplane_[0-9a-f-]{36}", spec["holderIdentity"])
    assert spec["leaseDurationSeconds"] == 15
    assert spec["acquireTime"] == spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["leaseTransitions"] == 0
    assert elector.is_leader


def test_lease_is_renewed_only_while_running(lab: Lab) -> None:
    elector = LeaderElector(lab.store, lab.clock, "kube-controller-manager")
    elector.tick(True)
    lab.advance(5)
    elector.tick(True)
    assert lease(lab, "kube-controller-manager")["renewTime"] == "2026-01-01T00:00:05.000000Z"
    lab.advance(60)
    assert not elector.tick(False)  # broken component: nothing is written
    assert lease(lab, "kube-controller-manager")["renewTime"] == "2026-01-01T00:00:05.000000Z"
    assert not elector.is_leader


def test_a_new_instance_waits_for_expiry_then_takes_over(lab: Lab) -> None:
    old = LeaderElector(lab.store, lab.clock, "kube-controller-manager", "controlplane_old")
    new = LeaderElector(lab.store, lab.clock, "kube-controller-manager", "controlplane_new")
    assert old.tick(True)
    lab.advance(10)
    assert not new.tick(True)  # 10 s < 15 s lease duration
    lab.advance(6)
    assert new.tick(True)
    spec = lease(lab, "kube-controller-manager")
    assert spec["holderIdentity"] == "controlplane_new"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == "2026-01-01T00:00:16.000000Z"
    assert not old.tick(True)  # the old holder lost the lease


def test_restart_gets_a_new_identity(lab: Lab) -> None:
    elector = LeaderElector(lab.store, lab.clock, "kube-scheduler")
    first = elector.identity
    elector.tick(True)
    elector.restart()
    assert elector.identity != first
    assert not elector.tick(True)


def test_manager_runs_controllers_only_while_leading() -> None:
    clock = ManualClock()
    cluster = create_cluster("le", clock=clock, addons=False)
    manager = ControllerManager.for_cluster(cluster, controllers=("deployment", "replicaset"))
    try:
        from app.sim.controllers.client import ApiClient

        ApiClient(cluster.store, cluster).create("apps", "deployments", deployment())
        assert not manager.tick(running=False)
        assert cluster.store.list("apps", "replicasets")[0] == []
        assert (
            cluster.store.get(
                "coordination.k8s.io", "leases", "kube-system", "kube-controller-manager"
            )
            is None
        )
        assert manager.tick(running=True)
        assert len(cluster.store.list("apps", "replicasets")[0]) == 1
        [event] = [
            e for e in cluster.store.list("", "events")[0] if e["reason"] == "LeaderElection"
        ]
        assert event["message"] == f"{manager.elector.identity} became leader"
        assert event["involvedObject"]["kind"] == "Lease"
        assert event["metadata"]["namespace"] == "kube-system"
    finally:
        manager.close()
