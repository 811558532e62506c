"""Every static pod manifest runs: a second kube-scheduler manifest is a second
scheduler process that competes for the Lease kube-system/kube-scheduler; only the
holder schedules, and pods are placed while either healthy instance holds it."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim.machinery.clock import ManualClock
from app.sim.server import SimServer

MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"
SECOND = "/etc/kubernetes/manifests/kube-scheduler-2.yaml"


@pytest.fixture
def cluster() -> Any:
    return SimServer(port=0, tls=False).create_cluster(clock=ManualClock())


def sh(cluster: Any, line: str) -> str:
    result = cluster.control_plane.nodes.shell("controlplane").run(line)
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def copy_scheduler(cluster: Any, *extra_sed: str) -> None:
    """kube-scheduler-2.yaml: the kubeadm manifest under the pod name kube-scheduler-2."""
    edits = " ".join(["-e 's/^  name: kube-scheduler$/  name: kube-scheduler-2/'", *extra_sed])
    sh(cluster, f"sed {edits} {MANIFEST} > {SECOND}")


def pending_pod(cluster: Any, name: str) -> None:
    cluster.store.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        },
    )


def node_of(cluster: Any, name: str) -> str | None:
    return cluster.store.get("", "pods", "default", name)["spec"].get("nodeName")


def holder(cluster: Any) -> str:
    lease = cluster.store.get("coordination.k8s.io", "leases", "kube-system", "kube-scheduler")
    return str(lease["spec"]["holderIdentity"])


def phase(cluster: Any, pod: str) -> tuple[str, bool]:
    obj = cluster.store.get("", "pods", "kube-system", pod)
    statuses = obj["status"].get("containerStatuses") or [{}]
    return obj["status"].get("phase"), bool(statuses[0].get("ready"))


def test_a_copy_on_the_same_port_runs_as_its_own_pod_and_cannot_bind(cluster: Any) -> None:
    plane = cluster.control_plane
    copy_scheduler(cluster)
    plane.advance(30)
    mirror = cluster.store.get("", "pods", "kube-system", "kube-scheduler-2-controlplane")
    assert mirror is not None
    assert mirror["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
    logs = plane.nodes.logs("kube-system", "kube-scheduler-2-controlplane", previous=True)
    assert "bind: address already in use" in logs
    assert "failed to listen on 127.0.0.1:10259" in logs
    # The original keeps the port and the Lease; it alone schedules.
    assert phase(cluster, "kube-scheduler-controlplane") == ("Running", True)
    assert len(plane.schedulers) == 1
    pending_pod(cluster, "p1")
    plane.advance(3)
    assert node_of(cluster, "p1") in ("node01", "node02")


def test_a_healthy_copy_schedules_while_the_original_is_broken(cluster: Any) -> None:
    plane = cluster.control_plane
    first = holder(cluster)
    sh(cluster, f"sed -i 's/--kubeconfig=/--kubeconfigg=/' {MANIFEST}")
    copy_scheduler(cluster, "-e 's/--kubeconfigg=/--kubeconfig=/'")
    pending_pod(cluster, "p1")
    plane.advance(12)
    assert phase(cluster, "kube-scheduler-2-controlplane") == ("Running", True)
    assert phase(cluster, "kube-scheduler-controlplane")[1] is False
    # The old process's Lease has not expired yet (15 s): nobody schedules.
    assert node_of(cluster, "p1") is None
    assert holder(cluster) == first
    plane.advance(10)
    assert node_of(cluster, "p1") in ("node01", "node02")
    assert holder(cluster) != first and holder(cluster).startswith("controlplane_")
    logs = plane.nodes.logs("kube-system", "kube-scheduler-2-controlplane")
    assert "attempting to acquire leader lease kube-system/kube-scheduler..." in logs
    assert "successfully acquired lease kube-system/kube-scheduler" in logs
    events = [
        e for e in cluster.store.list("", "events", "default")[0] if e.get("reason") == "Scheduled"
    ]
    assert events and all(
        (e.get("reportingController") or e["source"]["component"]) == "default-scheduler"
        for e in events
    )


def test_two_healthy_schedulers_share_one_lease_and_fail_over(cluster: Any) -> None:
    plane = cluster.control_plane
    copy_scheduler(
        cluster,
        "-e 's/--bind-address=127.0.0.1/--bind-address=127.0.0.1\\n    - --secure-port=10269/'",
        "-e 's/port: 10259/port: 10269/'",
    )
    plane.advance(15)
    assert "--secure-port=10269" in sh(cluster, f"cat {SECOND}")
    assert phase(cluster, "kube-scheduler-2-controlplane") == ("Running", True)
    assert len(plane.schedulers) == 2
    leaders = [loop for _, _, loop in plane.schedulers.values() if loop.elector.is_leader]
    assert len(leaders) == 1
    standby_logs = plane.nodes.logs("kube-system", "kube-scheduler-2-controlplane")
    assert "successfully acquired lease" not in standby_logs
    ports = sh(cluster, "ss -tlnp")
    assert "127.0.0.1:10259" in ports and "127.0.0.1:10269" in ports
    first = holder(cluster)
    # The leader goes away: the standby takes over once the Lease expires.
    sh(cluster, f"mv {MANIFEST} /root/kube-scheduler.yaml")
    pending_pod(cluster, "p1")
    plane.advance(20)
    assert node_of(cluster, "p1") in ("node01", "node02")
    assert holder(cluster) != first
    assert "successfully acquired lease kube-system/kube-scheduler" in plane.nodes.logs(
        "kube-system", "kube-scheduler-2-controlplane"
    )
    lease = cluster.store.get("coordination.k8s.io", "leases", "kube-system", "kube-scheduler")
    assert lease["spec"]["leaseTransitions"] >= 1
