"""Self-tests of the Storage labs on the simulator, with the real kubectl.

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

SLUGS = (
    "inventory-db-pending",
    "reports-persistent-storage",
    "archive-claim-pending",
    "ledger-db-claims-pending",
)
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


# What a broken setup shows (namespace, event reason, words of its message); the lab's
# solution.md quotes the same words.
SYMPTOMS = {
    "ledger-db-claims-pending": (
        "ledger",
        "",
        'storageclass.storage.k8s.io "fast-ssd" not found',
    ),
    "inventory-db-pending": (
        "inventory",
        "FailedScheduling",
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    ),
}


def test_archive_volume_starts_released_with_the_old_claims_uid(
    provision: Callable[[str], LabRun],
) -> None:
    run = provision("archive-claim-pending")
    phase = run.kubectl("get", "pv", "archive-pv", "-o", "jsonpath={.status.phase}")
    assert phase == "Released"
    old = run.kubectl("get", "pv", "archive-pv", "-o", "jsonpath={.spec.claimRef.uid}")
    new = run.kubectl(
        "-n", "records", "get", "pvc", "archive-data", "-o", "jsonpath={.metadata.uid}"
    )
    assert old and new and old != new


@pytest.mark.parametrize("slug", sorted(SYMPTOMS))
def test_setup_shows_the_symptom_its_solution_teaches(
    provision: Callable[[str], LabRun], slug: str
) -> None:
    support.check_symptom(provision(slug), *SYMPTOMS[slug])


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
    ("ledger-db-claims-pending", "cheat-create-class", "statefulset-ready", "no-storage-by-hand"),
    (
        "archive-claim-pending",
        "cheat-empty-volume",
        "claim-bound-to-archive",
        "archive-storage-kept",
    ),
    ("inventory-db-pending", "cheat-widen-volume", "database-available", "volume-unchanged"),
    ("inventory-db-pending", "cheat-emptydir", "database-available", "database-mounts-the-claim"),
    (
        "inventory-db-pending",
        "cheat-second-volume",
        "database-available",
        "claim-bound-to-prepared-volume",
    ),
    (
        "reports-persistent-storage",
        "cheat-hostpath-pod",
        "claim-bound-to-volume",
        "writer-mounts-claim",
    ),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    support.check_effective_cheat(provision(slug), script, passing, guard)
