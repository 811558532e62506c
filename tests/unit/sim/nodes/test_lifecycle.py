"""The pieces of the cluster lifecycle tools: kubeadm's upgrade version policy, token
TTLs, the package catalogue and state, port clashes of component copies, and the node
state a snapshot keeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.sim.nodes import packages
from app.sim.nodes.components.behaviour import _port_taken
from app.sim.nodes.kubeadm_join import _ttl
from app.sim.nodes.kubeadm_upgrade import _policy_errors, _targets
from app.sim.nodes.vfs import VirtualFS
from tests.unit.sim.nodes.conftest import SimNodes


@pytest.mark.parametrize(
    ("target", "kubeadm", "force", "expected"),
    [
        ("v1.37.1", "v1.37.1", False, None),
        ("v1.36.3", "v1.36.2", False, "Upgrade kubeadm first"),
        ("v1.36.3", "v1.36.2", True, None),
        ("v1.37.0", "v1.36.2", True, "at least one minor release higher than the kubeadm"),
        ("v1.38.0", "v1.38.0", False, "kubeadm can upgrade only 1 minor version at a time"),
        ("v1.36.1", "v1.37.1", False, "Downgrades are not supported"),
    ],
)
def test_upgrade_version_policy(
    target: str, kubeadm: str, force: bool, expected: str | None
) -> None:
    errors = "\n".join(_policy_errors(target, "v1.36.2", kubeadm, force))
    if expected is None:
        assert errors == ""
    else:
        assert expected in errors and "FATAL" in errors


def test_upgrade_targets_are_the_newest_patch_and_next_minor() -> None:
    assert [v for _, v in _targets("v1.36.2")] == ["v1.36.3", "v1.37.1"]
    assert [v for _, v in _targets("v1.37.1")] == []
    assert packages.RELEASES == {
        "1.36": ["1.36.0", "1.36.1", "1.36.2", "1.36.3"],
        "1.37": ["1.37.0", "1.37.1"],
    }


def test_token_ttls() -> None:
    assert _ttl(None) == timedelta(hours=24)
    assert _ttl("1h30m") == timedelta(minutes=90)
    assert _ttl("0") is None
    with pytest.raises(ValueError, match="invalid duration"):
        _ttl("soon")


def test_package_state_reads_back_from_the_dpkg_status_file() -> None:
    fs = VirtualFS()
    for path, text in packages.initial_files().items():
        fs.write(path, text)
    state = packages.installed(fs)
    assert state["kubeadm"] == ("1.36.2-1.1", True)
    assert state["kubernetes-cni"][1] is False
    assert packages.installed_version(fs, "kubelet") == "v1.36.2"
    listed = packages.available(fs)["kubeadm"]
    assert [v for v, _ in listed] == ["1.36.3-1.1", "1.36.2-1.1", "1.36.1-1.1", "1.36.0-1.1"]


def test_port_clashes() -> None:
    assert _port_taken("127.0.0.1:10259", ["127.0.0.1:10259"])
    assert _port_taken("127.0.0.1:10259", ["*:10259"])
    assert _port_taken("*:6443", ["172.30.1.2:6443"])
    assert not _port_taken("127.0.0.1:10269", ["127.0.0.1:10259"])
    assert not _port_taken("127.0.0.1:10259", ["172.30.1.2:10259"])


def test_package_and_kubelet_versions_survive_a_snapshot(sim: SimNodes) -> None:
    shell = sim.shell("node01")
    shell.run("sed -i 's#/v1.36/#/v1.37/#' /etc/apt/sources.list.d/kubernetes.list")
    assert shell.run("apt-get update").exit_code == 0
    done = shell.run("apt-get install -y --allow-change-held-packages kubelet=1.37.0-1.1")
    assert done.exit_code == 0, done.stderr
    assert shell.run("systemctl restart kubelet").exit_code == 0
    agent = sim.nodes.agent("node01")
    assert agent.kubelet_version == "v1.37.0"
    state = sim.nodes.dump()
    shell.run("apt-mark unhold kubelet")
    agent.kubelet_version = "v0.0.0"
    sim.nodes.load(state)
    assert agent.kubelet_version == "v1.37.0"
    assert shell.run("apt-mark showhold").stdout == "kubeadm\nkubectl\nkubelet\n"
    assert shell.run("kubelet --version").stdout == "Kubernetes v1.37.0\n"
