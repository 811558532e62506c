"""Self-tests of the Storage labs on the simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. Further tests prove that the broken setup shows
the event its solution quotes, and that the main cheats take effect yet stay capped by
a named guard. (`reports-volume-too-small` is self-tested with the newer capabilities,
in test_curriculum_labs_more.py.)
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
    "uploads-claim-pending",
    "notes-db-loses-data",
    "invoices-db-pending",
)
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


# What a broken setup shows (namespace, event reason, words of its message); the lab's
# solution.md quotes the same words.
SYMPTOMS = {
    "ledger-db-claims-pending": (
        "ledger",
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "fast-ssd" not found',
    ),
    "inventory-db-pending": (
        "inventory",
        "FailedScheduling",
        "pod has unbound immediate PersistentVolumeClaims.",
    ),
    "uploads-claim-pending": (
        "media",
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
    ),
    "invoices-db-pending": (
        "billing",
        "FailedScheduling",
        "2 node(s) didn't find available persistent volumes to bind.",
    ),
}


@pytest.mark.parametrize("slug", sorted(SYMPTOMS))
def test_setup_shows_the_symptom_its_solution_teaches(
    provision: Callable[[str], LabRun], slug: str
) -> None:
    support.check_symptom(provision(slug), *SYMPTOMS[slug])


def test_archive_volume_is_released_and_its_object_deleted_at_once(
    provision: Callable[[str], LabRun],
) -> None:
    """The archive volume starts Released with the deleted claim's uid; a Released
    volume's object goes in the delete request (pv-protection holds Bound volumes only),
    with no control-plane time passing."""
    run = provision("archive-claim-pending")
    phase = run.kubectl("get", "pv", "archive-pv", "-o", "jsonpath={.status.phase}")
    assert phase == "Released"
    old = run.kubectl("get", "pv", "archive-pv", "-o", "jsonpath={.spec.claimRef.uid}")
    new = run.kubectl(
        "-n", "records", "get", "pvc", "archive-data", "-o", "jsonpath={.metadata.uid}"
    )
    assert old and new and old != new
    run.kubectl("delete", "pv", "archive-pv", "--timeout=30s")
    assert "archive-pv" not in support.kubectl_any(run, "get", "pv", "-o", "name")


def test_claim_only_a_pending_pod_waits_for_is_deleted_at_once(
    provision: Callable[[str], LabRun],
) -> None:
    """The inventory pod is Pending on its unbound claim, never scheduled: it does not
    hold the claim, which goes in the delete request (no control-plane time passes)."""
    run = provision("inventory-db-pending")
    node = run.kubectl(
        "-n",
        "inventory",
        "get",
        "pods",
        "-l",
        "app=inventory-db",
        "-o",
        "jsonpath={.items[0].status.phase}/{.items[0].spec.nodeName}",
    )
    assert node == "Pending/"
    run.kubectl("-n", "inventory", "delete", "pvc", "inventory-data", "--timeout=30s")
    assert support.kubectl_any(run, "-n", "inventory", "get", "pvc", "-o", "name") == ""


def test_notes_data_outlives_the_pod_once_solved(provision: Callable[[str], LabRun]) -> None:
    """What the notes lab promises: before the fix a re-created pod starts on an empty
    /data (the `cat` error solution.md quotes); after the reference solution a file
    written into notes-db-0's /data is still there when the StatefulSet has re-created
    the pod."""

    def write_and_restart(run: LabRun) -> list[str]:
        run.kubectl("-n", "notes", "exec", "notes-db-0", "--", "sh", "-c", "echo kept > /data/m")
        run.kubectl("-n", "notes", "delete", "pod", "notes-db-0", "--wait=false")
        run.control.run(support.SETTLE_SECONDS)
        return ["-n", "notes", "exec", "notes-db-0", "--", "cat", "/data/m"]

    run = provision("notes-db-loses-data")
    read = write_and_restart(run)
    assert support.kubectl_any(run, *read) == ""
    words = "cat: /data/m: No such file or directory"
    assert words in support.kubectl_any_err(run, *read)
    assert words in (run.lab.folder / "solution.md").read_text()
    run.script("solution")
    run.control.run(support.SETTLE_SECONDS)
    assert run.kubectl(*write_and_restart(run)).strip() == "kept"


# (lab, cheat, a check the shortcut makes pass, the guard that still fails); the other
# cheats are held under the cap by their self-tests.
EFFECTIVE_CHEATS = [
    (
        "ledger-db-claims-pending",
        "cheat-create-class",
        "statefulset-ready",
        "no-storage-by-hand",
    ),
    (
        "archive-claim-pending",
        "cheat-empty-volume",
        "claim-bound-to-archive",
        "archive-storage-kept",
    ),
    ("inventory-db-pending", "cheat-widen-volume", "database-available", "volume-unchanged"),
    (
        "reports-persistent-storage",
        "cheat-hostpath-pod",
        "claim-bound-to-volume",
        "writer-mounts-claim",
    ),
    ("uploads-claim-pending", "cheat-recreate-claim", "uploader-available", "same-claim-kept"),
    (
        "uploads-claim-pending",
        "cheat-new-default-class",
        "uploader-available",
        "classless-claims-get-local-path",
    ),
    ("notes-db-loses-data", "cheat-default-class", "statefulset-ready", "claims-provisioned"),
    (
        "invoices-db-pending",
        "cheat-small-claim",
        "store-available",
        "claim-bound-to-invoices-volume",
    ),
    ("invoices-db-pending", "cheat-grow-volume", "store-available", "volumes-unchanged"),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    support.check_effective_cheat(provision(slug), script, passing, guard)
