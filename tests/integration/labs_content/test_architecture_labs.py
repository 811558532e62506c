"""Self-tests of the kubectl-only Cluster Architecture labs (RBAC, workload placement
by the platform team) on the simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. A further test proves that the main cheats
take effect yet stay capped by a named guard.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.labs_content import support
from tests.integration.labs_content.support import LabRun

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

SLUGS = ("scraper-sees-one-namespace", "backup-resource-type")
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


def test_scraper_starts_confined_to_its_namespace(provision: Callable[[str], LabRun]) -> None:
    run = provision("scraper-sees-one-namespace")
    sa = "system:serviceaccount:monitoring:scraper"

    def can(*args: str) -> str:
        return support.kubectl_any(run, "auth", "can-i", *args, "--as", sa).strip()

    assert can("list", "pods", "-n", "monitoring") == "yes"
    assert can("list", "pods", "-n", "shop") == "no"
    assert can("list", "nodes") == "no"


def test_backup_schema_refuses_a_string_retention(provision: Callable[[str], LabRun]) -> None:
    run = provision("backup-resource-type")
    assert "doesn't have a resource type" in support.kubectl_any_err(run, "get", "backups")
    run.script("solution")
    bad = "apiVersion: stable.example.com/v1\nkind: Backup\n"
    bad += "metadata: {name: bad, namespace: ops-db}\n"
    bad += "spec: {schedule: '0 1 * * *', retentionDays: seven}\n"
    (run.home / "bad.yaml").write_text(bad)
    assert "Error from server" in support.kubectl_any_err(
        run, "create", "-f", str(run.home / "bad.yaml")
    )
    assert run.kubectl("-n", "ops-db", "get", "bk", "-o", "name").split() == [
        "backup.stable.example.com/nightly"
    ]


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
    ("backup-resource-type", "cheat-open-schema", "nightly-backup", "schema-types-the-spec"),
    (
        "scraper-sees-one-namespace",
        "cheat-cluster-admin",
        "scraper-reads-cluster-wide",
        "scraper-nothing-more",
    ),
    (
        "scraper-sees-one-namespace",
        "cheat-view-role",
        "bound-with-cluster-scope",
        "scraper-nothing-more",
    ),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    support.check_effective_cheat(provision(slug), script, passing, guard)
