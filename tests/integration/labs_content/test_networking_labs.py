"""Self-tests of the Services & Networking labs on the simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. Further tests prove that the broken setup
shows the symptom the lab's solution teaches, and that the main cheats take effect yet
stay capped by a named guard.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.integration.labs_content import support
from tests.integration.labs_content.support import LabRun

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

SLUGS = ("invoice-api-unreachable", "dashboard-node-port", "payments-service-no-endpoints")
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


def test_invoice_api_service_starts_without_endpoints(provision: Callable[[str], LabRun]) -> None:
    run = provision("invoice-api-unreachable")
    ready = run.kubectl(
        "-n",
        "billing",
        "get",
        "pods",
        "-l",
        "app=invoice-api",
        "-o",
        "jsonpath={.items[*].status.containerStatuses[0].ready}",
    )
    assert ready.split() == ["true", "true"]
    endpoints = run.kubectl(
        "-n",
        "billing",
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=invoice-api",
        "-o",
        "jsonpath={.items[*].endpoints}",
    )
    assert endpoints.strip() in ("", "[]", "null")


def test_gateway_slice_starts_with_addresses_but_no_port(
    provision: Callable[[str], LabRun],
) -> None:
    run = provision("payments-service-no-endpoints")
    found = json.loads(
        run.kubectl(
            "-n",
            "payments",
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=gateway",
            "-o",
            "json",
        )
    )["items"]
    assert [len(s.get("endpoints") or []) for s in found] == [2]
    assert [s.get("ports") or [] for s in found] == [[]]


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
    (
        "payments-service-no-endpoints",
        "cheat-rename-container-port",
        "endpoints-on-served-port",
        "deployment-unchanged",
    ),
    (
        "dashboard-node-port",
        "cheat-select-team",
        "node-port-service",
        "external-endpoints-are-dashboard-pods",
    ),
    (
        "invoice-api-unreachable",
        "cheat-relabel-pods",
        "endpoints-are-api-pods",
        "pods-keep-their-labels",
    ),
    (
        "invoice-api-unreachable",
        "cheat-change-deployment",
        "endpoints-are-api-pods",
        "deployment-unchanged",
    ),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    run = provision(slug)
    run.script(script)
    run.control.run(support.SETTLE_SECONDS)
    result = run.grade(f"cheat-{script}")
    assert result.check(passing).passed, support.report(result)
    assert result.check(guard).guard and not result.check(guard).passed
    assert result.percentage <= LABS[slug].policy.cheat_cap_percent
