"""A container that allocates more than its memory limit is OOM-killed: terminated with
reason OOMKilled and exit code 137, restarted with back-off (CrashLoopBackOff), as the
documentation's "Exceed a Container's memory limit" example shows; the same container
under a sufficient limit (or none) keeps running. Seen through the real kubectl."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl


def stress_pod(name: str, limit: str | None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "memory-demo",
        "image": "polinux/stress",
        "command": ["stress"],
        "args": ["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"],
    }
    if limit is not None:
        container["resources"] = {"requests": {"memory": "50Mi"}, "limits": {"memory": limit}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [container]},
    }


@pytest.fixture
def sim_cluster(sim_cluster_factory: Callable[..., SimCluster]) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def test_memory_over_the_limit_is_oom_killed_and_restarted(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    for name, limit in (("over", "100Mi"), ("enough", "300Mi"), ("unlimited", None)):
        kubectl("apply", "-f", "-", input=json.dumps(stress_pod(name, limit)))
    sim_cluster.cluster.control_plane.advance(40, step=1)
    pods = {p["metadata"]["name"]: p for p in kubectl("get", "pods", "-o", "json").json()["items"]}
    over = pods["over"]["status"]["containerStatuses"][0]
    assert over["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert over["lastState"]["terminated"]["exitCode"] == 137
    assert over["restartCount"] >= 2
    assert over["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    for name in ("enough", "unlimited"):
        status = pods[name]["status"]["containerStatuses"][0]
        assert "running" in status["state"] and status["restartCount"] == 0, name
    described = kubectl("describe", "pod", "over").stdout
    assert "Last State:     Terminated" in described
    assert "Reason:       OOMKilled" in described
    assert "Exit Code:    137" in described
    assert "Back-off restarting failed container memory-demo" in described
    logs = kubectl("logs", "over", "--previous").stdout
    assert "stress: info: [1] dispatching hogs: 0 cpu, 0 io, 1 vm, 0 hdd" in logs
    table = kubectl("get", "pod", "over", "--no-headers").stdout
    assert "CrashLoopBackOff" in table or "OOMKilled" in table
