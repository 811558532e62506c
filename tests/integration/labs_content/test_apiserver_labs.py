"""Self-tests of the lab whose kube-apiserver static pod manifest is broken, on the
simulator with the real kubectl and `lab-node NODE COMMAND` reaching the node shells.

While the API server does not serve, the cluster's Kubernetes API closes every
connection: the untouched setup is graded through node access (the nodes answer, so
the grade is computed, not retried) and every check that reads the API fails. The
clusters are those of the control-plane labs (`test_control_plane_labs.LabRun`); each
self-test is checked as in `test_network_labs.check_selftest`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from app.grading.labfile import Lab
from tests.fixtures.sim import kubectl_binary
from tests.integration.labs_content.support import cases, check_lab_text, load, prose
from tests.integration.labs_content.test_control_plane_labs import LabRun
from tests.integration.labs_content.test_network_labs import check_selftest, lab_runner, on_node

pytestmark = pytest.mark.kubectl

SLUGS = ("kubectl-cannot-reach-the-cluster",)
LABS: dict[str, Lab] = load(SLUGS)
CASES = cases(LABS)
# Cluster seconds after a script: the kubelet starts the new API server, which answers
# 10 s later; the scheduler and the controller manager come back as new processes and
# take their Leases once the old ones expired; the API server's pod turns Ready.
AFTER_SCRIPT_SECONDS = 60

# The last line of every kubectl command while the API server is down.
REFUSED = (
    "Unable to connect to the server: net/http: HTTP/1.x transport connection broken: "
    'malformed HTTP response "connection-refused"'
)

lab_run = lab_runner(LABS)


@pytest.mark.parametrize(("slug", "selftest"), CASES)
def test_selftest_scores_within_its_bounds(
    lab_run: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    check_selftest(lab_run(slug), selftest, AFTER_SCRIPT_SECONDS)


def test_the_setup_shows_what_solution_md_explains(lab_run: Callable[[str], LabRun]) -> None:
    run = lab_run("kubectl-cannot-reach-the-cluster")
    assert run.cluster.api_down
    text = prose((run.lab.folder / "solution.md").read_text())
    listing = on_node(run, "controlplane", "crictl ps -a --name kube-apiserver")
    assert "Exited" in listing and "Running" not in listing, listing
    log = on_node(
        run, "controlplane", "crictl logs $(crictl ps -a --name kube-apiserver -q | head -n 1)"
    )
    words = 'authorization-mode \\"RABC\\" is not a valid mode'
    assert words in log and words in text, log
    # What the learner's kubectl says.
    failed = subprocess.run(
        [kubectl_binary(), "get", "nodes"],
        env={
            "KUBECONFIG": str(run.kubeconfig_path),
            "HOME": str(run.folder),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert failed.returncode == 1 and REFUSED in failed.stderr
    assert REFUSED in text
    journal = on_node(run, "controlplane", "journalctl -u kubelet -n 30")
    refused = "dial tcp 172.30.1.2:6443: connect: connection refused"
    assert refused in journal and refused in text


def test_untouched_grade_is_computed_with_the_api_down(lab_run: Callable[[str], LabRun]) -> None:
    # The grade is not an infrastructure failure: API checks fail saying why, node
    # checks are evaluated.
    run = lab_run("kubectl-cannot-reach-the-cluster")
    result = run.grade("untouched-detail")
    api = result.check("api-answers")
    assert not api.passed and not api.error
    assert "the API server did not answer" in (api.detail or "")
    manifest = result.check("manifest-settings-kept")
    assert not manifest.passed and "RABC" in (manifest.detail or ""), manifest.detail


@pytest.mark.parametrize("slug", SLUGS)
def test_lab_text_explains_itself(slug: str) -> None:
    check_lab_text(LABS[slug])
