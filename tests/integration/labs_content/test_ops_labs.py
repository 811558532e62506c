"""Self-tests of the operations labs: an application OOM-killed for its memory limit,
control-plane certificates renewed with kubeadm, and a worker whose kubelet client
certificate expired. On the simulator, with the real kubectl and `lab-node NODE
COMMAND` reaching the node shells (the clusters of `test_control_plane_labs.LabRun`,
each self-test checked as in `test_network_labs.check_selftest`), plus the symptom each
setup shows and its solution.md explains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.labs_content import support
from tests.integration.labs_content.test_control_plane_labs import LabRun
from tests.integration.labs_content.test_network_labs import check_selftest, lab_runner, on_node

pytestmark = pytest.mark.kubectl

SLUGS = ("report-builder-restarts", "pending-pods-after-a-year", "node02-notready-overnight")
LABS = support.load(SLUGS)
# Cluster seconds after a script: a rolled-out Deployment's pods run past the moment an
# over-limit container is killed, restarted components lead again, a kubelet reports.
AFTER_SCRIPT_SECONDS = 60

lab_run = lab_runner(LABS)


@pytest.mark.parametrize(("slug", "selftest"), support.cases(LABS))
def test_selftest_scores_within_its_bounds(
    lab_run: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    check_selftest(lab_run(slug), selftest, AFTER_SCRIPT_SECONDS)


@pytest.mark.parametrize("slug", SLUGS)
def test_lab_text_explains_itself(slug: str) -> None:
    support.check_lab_text(LABS[slug])


def kubectl_out(run: LabRun, *args: str) -> str:
    import subprocess

    from tests.fixtures.sim import kubectl_binary

    done = subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(run.kubeconfig_path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"HOME": str(run.folder), "PATH": "/usr/bin:/bin"},
    )
    return done.stdout + done.stderr


def solution_text(run: LabRun) -> str:
    return support.prose((run.lab.folder / "solution.md").read_text())


def test_oom_killed_builder_shows_its_last_state(lab_run: Callable[[str], LabRun]) -> None:
    run = lab_run("report-builder-restarts")
    described = kubectl_out(run, "-n", "analytics", "describe", "pod", "-l", "app=report-builder")
    for words in ("Reason:       OOMKilled", "Exit Code:    137", "memory:  128Mi"):
        assert words in described
        assert words.split()[-1] in solution_text(run)
    assert "CrashLoopBackOff" in kubectl_out(run, "-n", "analytics", "get", "pods")


def test_expired_control_plane_certificates_show_where_the_solution_says(
    lab_run: Callable[[str], LabRun],
) -> None:
    run = lab_run("pending-pods-after-a-year")
    table = on_node(run, "controlplane", "kubeadm certs check-expiration")
    leaves, authorities = table.split("CERTIFICATE AUTHORITY   EXPIRES")
    rows = [line for line in leaves.splitlines() if line[:1].islower()]
    assert len(rows) == 11 and all("<invalid>" in row for row in rows), table
    # The CAs keep their ten years.
    assert authorities.count(" 9y ") == 3, table
    words = "error retrieving resource lock kube-system/kube-scheduler: Unauthorized"
    assert words in kubectl_out(run, "-n", "kube-system", "logs", "kube-scheduler-controlplane")
    assert words in solution_text(run)
    journal = on_node(run, "node01", "journalctl -u kubelet")
    words = "x509: certificate has expired or is not yet valid: current time"
    assert words in journal and words in solution_text(run)
    assert kubectl_out(run, "-n", "inventory", "get", "replicasets").startswith("No resources")


def test_expired_kubelet_certificate_shows_where_the_solution_says(
    lab_run: Callable[[str], LabRun],
) -> None:
    run = lab_run("node02-notready-overnight")
    nodes = kubectl_out(run, "get", "nodes", "--no-headers").splitlines()
    assert [line.split()[1] for line in nodes if line.startswith("node02")] == ["NotReady"]
    journal = on_node(run, "node02", "journalctl -u kubelet")
    words = 'err="error getting node \\"node02\\": Unauthorized"'
    assert words in journal and words in (run.lab.folder / "solution.md").read_text()
    pem = "/var/lib/kubelet/pki/kubelet-client-current.pem"
    assert "Certificate will expire" in on_node(
        run, "node02", f"openssl x509 -in {pem} -checkend 0"
    )
    # A restart alone does not help, as solution.md says.
    on_node(run, "node02", "systemctl restart kubelet")
    status = on_node(run, "node02", "systemctl status kubelet")
    words = "part of the existing bootstrap client certificate in /etc/kubernetes/kubelet.conf"
    assert words in status and words in solution_text(run)
