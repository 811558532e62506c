"""The CKA upgrade task end to end: packages through apt on the node shells, `kubeadm
upgrade plan|apply|node`, the kubelet restarted on its new release, and the real
kubectl seeing the new server version and the nodes' VERSION column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl

SOURCES = "/etc/apt/sources.list.d/kubernetes.list"


@pytest.fixture
def sim_cluster(sim_cluster_factory: Callable[..., SimCluster]) -> SimCluster:
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def run(sim: SimCluster, node: str, line: str, code: int = 0) -> str:
    result = sim.cluster.control_plane.nodes.shell(node).run(line)
    assert result.exit_code == code, (line, result.stdout, result.stderr)
    return str(result.stdout + result.stderr)


def upgrade_package(sim: SimCluster, node: str, *names: str) -> None:
    """The install guide's steps: the next minor's repository, then unhold, install,
    hold."""
    run(sim, node, f"sed -i 's#/v1.36/#/v1.37/#' {SOURCES}")
    run(sim, node, "apt-get update")
    joined = " ".join(names)
    run(sim, node, f"apt-mark unhold {joined}")
    run(sim, node, "apt-get install -y " + " ".join(f"{n}='1.37.1-*'" for n in names))
    run(sim, node, f"apt-mark hold {joined}")


def node_versions(kubectl: Callable[..., Any]) -> dict[str, str]:
    rows = kubectl("get", "nodes", "--no-headers").lines
    return {row.split()[0]: row.split()[-1] for row in rows}


def test_apt_catalogue_holds_and_unknown_versions(sim_cluster: SimCluster) -> None:
    madison = run(sim_cluster, "controlplane", "apt-cache madison kubeadm")
    assert "1.36.3-1.1 | https://pkgs.k8s.io/core:/stable:/v1.36/deb" in madison
    assert "1.37" not in madison
    missing = run(sim_cluster, "controlplane", "apt-get install -y kubeadm=1.37.1-1.1", code=100)
    assert "E: Version '1.37.1-1.1' for 'kubeadm' was not found" in missing
    run(sim_cluster, "controlplane", f"sed -i 's#/v1.36/#/v1.37/#' {SOURCES}")
    run(sim_cluster, "controlplane", "apt-get update")
    assert "1.37.1-1.1" in run(sim_cluster, "controlplane", "apt-cache madison kubeadm")
    held = run(sim_cluster, "controlplane", "apt-get install -y kubeadm=1.37.1-1.1", code=100)
    assert "The following held packages will be changed:" in held
    assert "E: Held packages were changed and -y was used without" in held
    assert run(sim_cluster, "controlplane", "apt-mark unhold kubeadm") == (
        "Canceled hold on kubeadm.\n"
    )
    run(sim_cluster, "controlplane", "apt-get install -y kubeadm=1.37.1-1.1")
    assert "v1.37.1" in run(sim_cluster, "controlplane", "kubeadm version -o short")
    assert run(sim_cluster, "controlplane", "apt-mark showhold") == "kubectl\nkubelet\n"
    run(sim_cluster, "controlplane", f"sed -i 's#/v1.37/#/v1.39/#' {SOURCES}")
    gone = run(sim_cluster, "controlplane", "apt-get update", code=100)
    assert "403  Forbidden" in gone


def test_control_plane_then_worker_upgrade(
    sim_cluster: SimCluster, kubectl: Callable[..., Any]
) -> None:
    plane = sim_cluster.cluster.control_plane
    plan = run(sim_cluster, "controlplane", "kubeadm upgrade plan")
    assert "[upgrade/versions] Cluster version: v1.36.2" in plan
    assert "kube-apiserver            controlplane   v1.36.2   v1.37.1" in plan
    assert "kubeadm upgrade apply v1.37.1" in plan
    # kubeadm is still 1.36: the next minor is refused.
    refused = run(sim_cluster, "controlplane", "kubeadm upgrade apply v1.37.1 -y", code=1)
    assert "at least one minor release higher than the kubeadm minor release" in refused
    # The worker cannot go first.
    upgrade_package(sim_cluster, "node01", "kubeadm")
    early = run(sim_cluster, "node01", "kubeadm upgrade node", code=1)
    assert "upgrade the control plane first" in early

    upgrade_package(sim_cluster, "controlplane", "kubeadm")
    too_far = run(sim_cluster, "controlplane", "kubeadm upgrade apply v1.38.0 -y", code=1)
    assert "kubeadm can upgrade only 1 minor version at a time" in too_far
    applied = run(sim_cluster, "controlplane", "kubeadm upgrade apply v1.37.1 -y")
    assert '[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "v1.37.1"' in (
        applied
    )
    plane.advance(60)
    version = kubectl("version", "-o", "json").json()
    assert version["serverVersion"]["gitVersion"] == "v1.37.1"
    image = kubectl(
        "-n",
        "kube-system",
        "get",
        "pod",
        "kube-apiserver-controlplane",
        "-o",
        "jsonpath={.spec.containers[0].image}",
    ).stdout
    assert image == "registry.k8s.io/kube-apiserver:v1.37.1"
    proxies = kubectl(
        "-n",
        "kube-system",
        "get",
        "pods",
        "-l",
        "k8s-app=kube-proxy",
        "-o",
        "jsonpath={.items[*].spec.containers[0].image}",
    ).stdout.split()
    assert proxies == ["registry.k8s.io/kube-proxy:v1.37.1"] * 2
    assert node_versions(kubectl) == {"controlplane": "v1.36.2", "node01": "v1.36.2"}

    # The kubelet runs its new release only once restarted.
    upgrade_package(sim_cluster, "controlplane", "kubelet", "kubectl")
    plane.advance(20)
    assert node_versions(kubectl)["controlplane"] == "v1.36.2"
    run(sim_cluster, "controlplane", "systemctl daemon-reload && systemctl restart kubelet")
    plane.advance(20)
    assert node_versions(kubectl)["controlplane"] == "v1.37.1"
    journal = run(sim_cluster, "controlplane", "journalctl -u kubelet")
    assert 'kubeletVersion="v1.37.1"' in journal

    # The worker: kubeadm upgrade node, drain, the kubelet package, restart, uncordon.
    upgraded = run(sim_cluster, "node01", "kubeadm upgrade node")
    assert "[upgrade] The configuration for this node was successfully upgraded!" in upgraded
    kubectl("drain", "node01", "--ignore-daemonsets", "--delete-emptydir-data")
    upgrade_package(sim_cluster, "node01", "kubelet")
    run(sim_cluster, "node01", "systemctl daemon-reload && systemctl restart kubelet")
    kubectl("uncordon", "node01")
    plane.advance(20)
    assert node_versions(kubectl) == {"controlplane": "v1.37.1", "node01": "v1.37.1"}
    assert "Awesome, you're up-to-date!" in run(sim_cluster, "controlplane", "kubeadm upgrade plan")
