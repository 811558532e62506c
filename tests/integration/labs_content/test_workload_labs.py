"""Self-tests of the Workloads & Scheduling labs (CronJobs and Jobs, rollouts) on the
simulator, with the real kubectl.

Every self-test a lab declares runs on a fresh manual-clock cluster of the lab's shape
with its setup restored from the test run's snapshot (`support.provisioner`); the grade
must lie within the self-test's bounds. Further tests prove what the broken setup
shows, and that the main cheats take effect yet stay capped by a named guard.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.labs_content import support
from tests.integration.labs_content.support import LabRun

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

SLUGS = (
    "ledger-report-schedule",
    "checkout-rollback",
    "team-deployment-no-replicas",
    "trainer-gpu-node",
)
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


def test_checkout_setup_has_four_revisions_and_a_stuck_rollout(
    provision: Callable[[str], LabRun],
) -> None:
    run = provision("checkout-rollback")
    history = run.kubectl("-n", "storefront", "rollout", "history", "deployment", "checkout")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
        "1",
        "2",
        "3",
        "4",
    ]
    pods = run.kubectl(
        "-n",
        "storefront",
        "get",
        "pods",
        "-l",
        "app=checkout",
        "-o",
        "jsonpath={range .items[*]}{.spec.containers[0].image} "
        "{.status.containerStatuses[0].ready} "
        "{.status.containerStatuses[0].lastState.terminated.reason}{'\\n'}{end}",
    ).splitlines()
    assert sorted(p.strip() for p in pods) == ["nginx:1.26 true"] * 3 + [
        "nginx:1.27 false StartError"
    ]


def test_quota_refusal_is_an_event_on_the_replicaset(provision: Callable[[str], LabRun]) -> None:
    run = provision("team-deployment-no-replicas")
    assert run.kubectl("-n", "team-a", "get", "pods", "-o", "name").strip() == ""
    support.check_symptom(
        run,
        "team-a",
        "FailedCreate",
        "failed quota: team-a-budget: must specify limits.memory for: api; "
        "requests.cpu for: api; requests.memory for: api",
    )


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
    ("trainer-gpu-node", "cheat-nodename", "trainers-on-node02", "trainers-scheduled-by-scheduler"),
    ("trainer-gpu-node", "cheat-cordon-node01", "trainers-on-node02", "node01-untouched"),
    ("team-deployment-no-replicas", "cheat-delete-quota", "api-available", "quota-unchanged"),
    (
        "ledger-report-schedule",
        "cheat-plain-job",
        "manual-run-completed",
        "manual-run-from-cronjob",
    ),
    ("ledger-report-schedule", "cheat-bare-pod", "cronjob-as-specified", "manual-run-from-cronjob"),
    (
        "checkout-rollback",
        "cheat-recreate",
        "template-of-revision-2",
        "revision-2-replicaset-reused",
    ),
    ("checkout-rollback", "cheat-undo-previous", "rollout-complete", "template-of-revision-2"),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    provision: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    support.check_effective_cheat(provision(slug), script, passing, guard)
