"""Self-tests of the labs on the newer simulator capabilities (workload configuration,
native sidecars, autoscaling) on the simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. Further tests prove that the broken setup shows
the symptom its solution quotes, and that the main cheats take effect yet stay capped by
a named guard.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.integration.labs_content import support
from tests.integration.labs_content.support import LabRun

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

SLUGS = (
    "billing-worker-crashing",
    "parcel-tracker-logs",
    "storefront-autoscaling",
    "reports-volume-too-small",
)
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


def test_billing_worker_says_why_it_exits(provision: Callable[[str], LabRun]) -> None:
    """The check-config init container's log names the missing variable, as solution.md
    shows, and the kubelet restarts it with a back-off."""
    run = provision("billing-worker-crashing")
    pod = run.kubectl(
        "-n",
        "billing",
        "get",
        "pods",
        "-l",
        "app=billing-worker",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    )
    log = support.kubectl_any(run, "-n", "billing", "logs", pod, "-c", "check-config")
    assert "DB_HOST is not set" in log
    assert "DB_HOST is not set" in (run.lab.folder / "solution.md").read_text()
    support.check_symptom(run, "billing", "BackOff", "Back-off restarting failed container")


def test_sidecar_streams_the_tracker_file(provision: Callable[[str], LabRun]) -> None:
    """After the reference solution, `kubectl logs POD -c log-shipper` shows the lines
    the tracker appends to its file, and the plain `kubectl logs` of the tracker stays
    empty (the untouched setup logs nothing either)."""
    run = provision("parcel-tracker-logs")
    before = run.kubectl("-n", "shipping", "logs", "deploy/tracker", "-c", "tracker")
    assert before.strip() == ""
    run.script("solution")
    run.control.run(support.SETTLE_SECONDS)
    pod = run.kubectl(
        "-n",
        "shipping",
        "get",
        "pods",
        "-l",
        "app=tracker",
        "--field-selector=status.phase=Running",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    )
    lines = run.kubectl("-n", "shipping", "logs", pod, "-c", "log-shipper").splitlines()
    assert len(lines) >= 5, lines
    assert all(re.search(r"UTC \d{4} parcel \d+ scanned$", line) for line in lines), lines
    assert run.kubectl("-n", "shipping", "logs", pod, "-c", "tracker").strip() == ""


def test_autoscaler_without_requests_says_why(provision: Callable[[str], LabRun]) -> None:
    """An autoscaler created before the pods have CPU requests reports the
    FailedGetResourceMetric event its solution.md quotes and shows <unknown> targets."""
    run = provision("storefront-autoscaling")
    run.script("cheat-scale-by-hand")
    run.control.run(support.SETTLE_SECONDS)
    assert "<unknown>/60%" in run.kubectl("-n", "storefront", "get", "hpa", "frontend")
    support.check_symptom(
        run,
        "storefront",
        "FailedGetResourceMetric",
        "missing request for cpu in container frontend of Pod",
    )


def test_solved_autoscaler_scales_up_under_load(provision: Callable[[str], LabRun]) -> None:
    """With the reference solution in place, pods that burn a core each (500 % of their
    200m request) make the autoscaler grow the Deployment to its maximum of 6."""
    run = provision("storefront-autoscaling")
    run.script("solution")
    run.control.run(support.SETTLE_SECONDS)
    run.kubectl(
        "-n",
        "storefront",
        "patch",
        "deployment",
        "frontend",
        "--type=json",
        "-p",
        '[{"op": "add", "path": "/spec/template/spec/containers/0/command",'
        ' "value": ["sh", "-c", "while true; do :; done"]}]',
    )
    run.control.run(3 * support.SETTLE_SECONDS)
    hpa = run.kubectl("-n", "storefront", "get", "hpa", "frontend")
    assert (
        run.kubectl(
            "-n", "storefront", "get", "deployment", "frontend", "-o", "jsonpath={.spec.replicas}"
        )
        == "6"
    ), hpa


def test_claim_of_the_class_cannot_grow(provision: Callable[[str], LabRun]) -> None:
    """The setup's claim is bound, and the API server refuses to grow it with the
    message its solution.md quotes."""
    run = provision("reports-volume-too-small")
    phase = run.kubectl(
        "-n", "analytics", "get", "pvc", "reports-data", "-o", "jsonpath={.status.phase}"
    )
    assert phase == "Bound"
    error = support.kubectl_any_err(
        run,
        "-n",
        "analytics",
        "patch",
        "pvc",
        "reports-data",
        "-p",
        '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}',
    )
    words = "only dynamically provisioned pvc can be resized and the storageclass"
    assert words in error
    assert words in support.prose((run.lab.folder / "solution.md").read_text())


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
    ("billing-worker-crashing", "cheat-literal-value", "worker-available", "host-from-configmap"),
    (
        "billing-worker-crashing",
        "cheat-drop-the-check",
        "worker-available",
        "command-and-config-kept",
    ),
    (
        "parcel-tracker-logs",
        "cheat-regular-container",
        "logs-volume-shared",
        "native-sidecar",
    ),
    ("parcel-tracker-logs", "cheat-log-to-stdout", "sidecars-running", "tracker-unchanged"),
    (
        "storefront-autoscaling",
        "cheat-average-value",
        "replicas-follow-autoscaler",
        "autoscaler-spec",
    ),
    (
        "storefront-autoscaling",
        "cheat-scale-by-hand",
        "replicas-follow-autoscaler",
        "autoscaler-computes",
    ),
    ("reports-volume-too-small", "cheat-recreate-claim", "claim-has-2gi", "same-volume-kept"),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    support.check_effective_cheat(provision(slug), script, passing, guard)
