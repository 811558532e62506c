"""Self-tests of the cluster-lifecycle labs (kubeadm join, upgrade, certificates) on the
simulator, with the real kubectl and `lab-node NODE COMMAND` reaching the node shells.

The clusters are those of the control-plane labs (`test_control_plane_labs.LabRun`);
each self-test is checked as in `test_network_labs.check_selftest`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.grading.labfile import Lab, load_lab
from tests.integration.labs_content.test_control_plane_labs import LabRun
from tests.integration.labs_content.test_network_labs import check_selftest, lab_runner, on_node

pytestmark = pytest.mark.kubectl

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
SLUGS = ("node03-joins-the-cluster", "finish-the-upgrade")
LABS: dict[str, Lab] = {slug: load_lab(LABS_ROOT / slug) for slug in SLUGS}
CASES = [
    pytest.param(slug, test, id=f"{slug}-{test['name']}")
    for slug, lab in LABS.items()
    for test in lab.data["selftests"]
]
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
