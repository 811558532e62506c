"""Self-tests of the Troubleshooting labs (workloads that fail to start or stay
unhealthy) on the simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. Further tests prove that the broken setup shows
the event its solution quotes, and that the main cheats take effect yet stay capped by
a named guard.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.labs_content import support
from tests.integration.labs_content.support import LabRun

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

SLUGS = ("orders-pods-not-starting", "queue-consumer-restarting", "catalog-pods-restarting")
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


# What the broken setup shows (namespace, event reason, words of its message); each
# lab's solution.md quotes the same words.
SYMPTOMS = {
    "orders-pods-not-starting": (
        "orders",
        "Failed",
        "Error: couldn't find key db-password in Secret orders/orders-db",
    ),
    "queue-consumer-restarting": (
        "queue",
        "Failed",
        'exec: "/bin/shh": executable file not found in $PATH',
    ),
    "catalog-pods-restarting": (
        "catalog",
        "Unhealthy",
        "Liveness probe failed: HTTP probe failed with statuscode: 404",
    ),
}


@pytest.mark.parametrize("slug", SLUGS)
def test_setup_shows_the_symptom_its_solution_teaches(
    provision: Callable[[str], LabRun], slug: str
) -> None:
    support.check_symptom(provision(slug), *SYMPTOMS[slug])


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
    (
        "queue-consumer-restarting",
        "cheat-other-image",
        "consumer-available",
        "runs-the-consumer-loop",
    ),
    (
        "queue-consumer-restarting",
        "cheat-sleep-forever",
        "consumers-not-restarting",
        "runs-the-consumer-loop",
    ),
    (
        "catalog-pods-restarting",
        "cheat-remove-probe",
        "catalog-pods-stable",
        "liveness-probe-checks-served-page",
    ),
    (
        "catalog-pods-restarting",
        "cheat-tolerate-failures",
        "catalog-pods-stable",
        "probe-timing-kept",
    ),
    ("orders-pods-not-starting", "cheat-add-key-to-secret", "orders-available", "secret-unchanged"),
    (
        "orders-pods-not-starting",
        "cheat-optional-reference",
        "orders-available",
        "password-from-secret",
    ),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    support.check_effective_cheat(provision(slug), script, passing, guard)
