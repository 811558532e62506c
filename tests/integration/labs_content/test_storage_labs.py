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

SLUGS = ("reports-persistent-storage",)
LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
    support.standard_tests(SLUGS)
)


# (lab, cheat, a check the shortcut makes pass, the guard that still fails)
EFFECTIVE_CHEATS = [
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
