"""Self-tests of the Troubleshooting labs (workloads that fail to start or stay
unhealthy) on the simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. Further tests prove that the broken setup shows
the event its solution quotes, and that the main cheats take effect yet stay capped by
a named guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.clusters.simulator import _SnapshotCache
from app.sim.server import SimServer
from tests.integration.labs_content import support
from tests.integration.labs_content.support import LabRun

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

SLUGS = ("orders-pods-not-starting", "queue-consumer-restarting", "catalog-pods-restarting")
LABS = support.load(SLUGS)


@pytest.fixture
def provision(
    sim_server: SimServer, tmp_path: Path, setup_snapshots: _SnapshotCache
) -> Iterator[Callable[[str], LabRun]]:
    make, close = support.provisioner(LABS, sim_server, tmp_path, setup_snapshots)
    yield make
    close()


@pytest.mark.parametrize(("slug", "selftest"), support.cases(LABS))
def test_selftest_scores_within_its_bounds(
    provision: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    support.check_selftest(provision(slug), selftest)


@pytest.mark.parametrize("slug", SLUGS)
def test_lab_text_explains_itself(slug: str) -> None:
    support.check_lab_text(LABS[slug])


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
