"""What real kubectl shows of the node agents' work through the simulator's API."""

from __future__ import annotations

import subprocess

import pytest

from app.sim.nodes import ClusterNodes
from tests.fixtures.sim import kubectl_binary

pytestmark = pytest.mark.kubectl


def test_kubectl_sees_control_plane_pods_a_crash_loop_and_its_log(sim_cluster, kubectl):
    # The node agents the server attached (their mirror pods and logs are published).
    nodes = sim_cluster.cluster.node_access
    assert isinstance(nodes, ClusterNodes)
    nodes.sync()
    listing = kubectl("get", "pods", "-n", "kube-system", "-o", "wide")
    rows = {line.split()[0]: line.split() for line in listing.lines[1:]}
    # Running, not yet ready: kubeadm's startup probe waits 10 s before its first try.
    assert rows["kube-scheduler-controlplane"][1:3] == ["0/1", "Running"]
    assert rows["etcd-controlplane"][5] == "172.30.1.2"

    shell = nodes.shell("controlplane")
    manifest = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    shell.run(f"sed -i 's/--leader-elect=true/--leader-elects=true/' {manifest}")
    nodes.sync()
    listing = kubectl("get", "pods", "-n", "kube-system")
    row = next(line.split() for line in listing.lines if line.startswith("kube-scheduler-"))
    assert row[1:3] == ["0/1", "CrashLoopBackOff"]
    log = kubectl("logs", "-n", "kube-system", "kube-scheduler-controlplane")
    assert log.stdout.startswith("Error: unknown flag: --leader-elects\n")
    described = kubectl("describe", "pod", "-n", "kube-system", "kube-scheduler-controlplane")
    assert "Back-off restarting failed container kube-scheduler" in described.stdout


def test_node_shell_kubectl_runs_through_the_given_runner(sim_cluster):
    def run(args: list[str], stdin: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(sim_cluster.kubeconfig_path), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, done.stdout, done.stderr

    nodes = ClusterNodes(sim_cluster.cluster, kubectl=run)
    nodes.sync()
    result = nodes.shell("controlplane").run("kubectl get nodes | grep -c Ready")
    assert result.stdout == "3\n"
    assert nodes.shell("node01").run("kubectl get nodes").exit_code == 127
