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
