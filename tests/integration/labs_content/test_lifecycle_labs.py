"""Self-tests of the cluster-lifecycle labs (kubeadm join, upgrade, certificates) on the
simulator, with the real kubectl and `lab-node NODE COMMAND` reaching the node shells.

The clusters are those of the control-plane labs (`test_control_plane_labs.LabRun`);
each self-test is checked as in `test_network_labs.check_selftest`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.grading.labfile import Lab
from tests.integration.labs_content.support import cases, load, prose
from tests.integration.labs_content.test_control_plane_labs import LabRun
from tests.integration.labs_content.test_network_labs import check_selftest, lab_runner, on_node

pytestmark = pytest.mark.kubectl

SLUGS = ("node03-joins-the-cluster", "finish-the-upgrade", "control-plane-to-v1-37")
LABS: dict[str, Lab] = load(SLUGS)
CASES = cases(LABS)
# Cluster seconds after a script: a joined kubelet registers, turns Ready, gets its
# DaemonSet pods, and the Ready condition outlasts the checks' stability window.
AFTER_SCRIPT_SECONDS = 60


lab_run = lab_runner(LABS)


@pytest.mark.parametrize(("slug", "selftest"), CASES)
def test_selftest_scores_within_its_bounds(
    lab_run: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    check_selftest(lab_run(slug), selftest, AFTER_SCRIPT_SECONDS)


def test_runbook_join_command_has_expired(lab_run: Callable[[str], LabRun]) -> None:
    # The saved command names the cluster's address and CA hash, but its token is gone
    # by the time the session starts: the error solution.md explains.
    run = lab_run("node03-joins-the-cluster")
    join = on_node(run, "controlplane", "cat /root/join-node03.sh").strip()
    assert join.startswith("kubeadm join 172.30.1.2:6443 --token "), join
    words = "could not find a JWS signature in the cluster-info ConfigMap for token ID"
    assert words in on_node(run, "node03", join)
    assert words in (run.lab.folder / "solution.md").read_text()
    nodes = run.cluster.store.list("", "nodes")[0]
    assert "node03" not in {n["metadata"]["name"] for n in nodes}


def test_control_plane_upgrade_needs_its_packages_first(
    lab_run: Callable[[str], LabRun],
) -> None:
    # Before the repository line and the kubeadm package change, apt and kubeadm refuse
    # with the words solution.md explains; the cluster stays at v1.36.2.
    run = lab_run("control-plane-to-v1-37")
    solution = prose((run.lab.folder / "solution.md").read_text())
    refusals = {
        "apt-get install -y kubeadm=1.37.1-1.1": (
            "E: Version '1.37.1-1.1' for 'kubeadm' was not found"
        ),
        "kubeadm upgrade apply v1.37.1 -y": (
            "is at least one minor release higher than the kubeadm minor release (37 > 36)."
            " Such an upgrade is not supported"
        ),
    }
    for command, words in refusals.items():
        assert words in on_node(run, "controlplane", command)
        assert words in solution, words
    pods = run.cluster.store.list("", "pods", "kube-system")[0]
    images = [p["spec"]["containers"][0]["image"] for p in pods]
    assert "registry.k8s.io/kube-apiserver:v1.36.2" in images, images
