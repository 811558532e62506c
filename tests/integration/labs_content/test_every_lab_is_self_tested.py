"""Every lab under `labs/` has its self-tests run by the suite (so by CI), and every lab
proves at least one valid fix besides its reference `solution`.

The self-tests themselves run in the modules listed here, each sharing a lab's setup
snapshot between its self-tests; a lab added to `labs/` without joining one of them
fails this test instead of going untested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.grading.labfile import load_labs
from tests.integration.grading import test_rbac_lab
from tests.integration.labs_content import (
    test_apiserver_labs,
    test_architecture_labs,
    test_control_plane_labs,
    test_curriculum_labs_more,
    test_lifecycle_labs,
    test_network_labs,
    test_networking_labs,
    test_ops_labs,
    test_scheduling_labs,
    test_storage_labs,
    test_troubleshooting_labs,
    test_workload_labs,
)

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
_LOADED, ISSUES = load_labs(LABS_ROOT)
LABS = {lab.slug: lab for lab in _LOADED}
SELF_TESTED = {
    *test_control_plane_labs.SLUGS,
    *test_scheduling_labs.SLUGS,
    *test_networking_labs.SLUGS,
    *test_troubleshooting_labs.SLUGS,
    *test_storage_labs.SLUGS,
    *test_architecture_labs.SLUGS,
    *test_workload_labs.SLUGS,
    *test_network_labs.SLUGS,
    *test_lifecycle_labs.SLUGS,
    *test_curriculum_labs_more.SLUGS,
    *test_ops_labs.SLUGS,
    *test_apiserver_labs.SLUGS,
    test_rbac_lab.LAB.slug,
}


def test_every_lab_folder_is_in_a_self_test_module() -> None:
    assert ISSUES == []
    on_disk = {p.parent.name for p in LABS_ROOT.glob("*/lab.yaml")}
    assert on_disk == set(LABS)
    assert sorted(on_disk - SELF_TESTED) == []
    assert sorted(SELF_TESTED - on_disk) == [], "a self-test module names a lab that is gone"


@pytest.mark.parametrize("slug", sorted(LABS))
def test_every_lab_has_an_alternative_solution(slug: str) -> None:
    lab = LABS[slug]
    names = [t["name"] for t in lab.data["selftests"]]
    assert "untouched" in names and "solution" in names
    alternatives = [t for t in lab.data["selftests"] if t["name"].startswith("solution-")]
    assert alternatives, f"{slug}: no solution-* self-test"
    for test in alternatives:
        assert test.get("min_percent") == 100, test
        assert lab.script_path(test["script"]).is_file()
    cheats = [t for t in lab.data["selftests"] if t["name"].startswith("cheat-")]
    assert cheats and all(t["max_percent"] <= lab.policy.cheat_cap_percent for t in cheats)
