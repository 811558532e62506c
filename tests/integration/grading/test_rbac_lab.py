"""The example lab `rbac-exact-permissions` end to end on the simulator: its manifests
applied with the real kubectl, its self-test scripts run, each grade within the bounds
lab.yaml declares."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config

from app.grading.context import GradeContext
from app.grading.engine import grade
from app.grading.labfile import load_lab
from app.grading.node_access import NoNodeAccess
from app.grading.reader import ClusterReader
from app.grading.result import GradeResult
from app.grading.selftest import run_script, run_selftest
from tests.fixtures.sim import kubectl_binary

pytestmark = pytest.mark.kubectl

LAB = load_lab(Path(__file__).resolve().parents[3] / "labs" / "rbac-exact-permissions")
FIX_CHECKS = ["role-exact-rules", "binding-to-jane", "jane-reads-pods"]


@pytest.fixture
def lab_cluster(sim_cluster_factory, tmp_path: Path) -> Callable[..., Any]:
    """A fresh cluster with the lab's setup applied by kubectl; returns (cluster, grader)."""

    def make(*, script: str | None = None) -> tuple[Any, Callable[..., GradeResult]]:
        sim = sim_cluster_factory()
        started = sim.cluster.clock.now()
        env = {"HOME": str(tmp_path)}
        apply_setup(sim.kubeconfig_path, tmp_path)
        if script:
            done = run_script(LAB, script, sim.kubeconfig_path, extra_env=env)
            assert done.returncode == 0, done.stdout + done.stderr

        def grader(**context: Any) -> GradeResult:
            client = config.new_client_from_config(config_file=str(sim.kubeconfig_path))
            try:
                ctx = GradeContext(
                    grade_id=context.pop("grade_id", "g-1"),
                    session_started_at=started,
                    grade_requested_at=sim.cluster.clock.now(),
                    clock=sim.cluster.clock,
                    hint_policy=LAB.hint_policy,
                    **context,
                )
                return grade(LAB.checks, ClusterReader(client), NoNodeAccess(), ctx, LAB.policy)
            finally:
                client.close()

        return sim, grader

    return make


def apply_setup(kubeconfig: Path, home: Path) -> None:
    """Apply the lab's manifests in order with the real kubectl, as a learner would."""
    for manifest in LAB.manifest_paths():
        done = subprocess.run(
            [kubectl_binary(), "apply", "-f", str(manifest)],
            env={"KUBECONFIG": str(kubeconfig), "HOME": str(home), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("selftest", LAB.data["selftests"], ids=lambda t: t["name"])
def test_selftests_score_within_their_bounds(
    sim_cluster_factory, tmp_path: Path, selftest: dict[str, Any]
) -> None:
    sim = sim_cluster_factory()
    started = sim.cluster.clock.now()
    apply_setup(sim.kubeconfig_path, tmp_path)
    outcome = run_selftest(
        LAB,
        selftest,
        sim.kubeconfig_path,
        session_started_at=started,
        clock=sim.cluster.clock,
        extra_env={"HOME": str(tmp_path)},
    )
    assert outcome.ok, (outcome.problem, outcome.output)
    assert outcome.result is not None
    assert outcome.result.grade_id == f"selftest-{selftest['name']}"


def test_untouched_setup_fails_every_fix_check(lab_cluster) -> None:
    _, grader = lab_cluster()
    result = grader()
    assert [c.id for c in result.checks if c.passed] == ["jane-nothing-more"]
    assert result.check("role-exact-rules").detail == (
        'Role dev/pod-reader: sort(rules[0].verbs): expected ["get", "list", "watch"],'
        ' found ["get"]'
    )
    assert result.percentage == 0


def test_solution_passes_every_check_with_evidence(lab_cluster) -> None:
    _, grader = lab_cluster(script="solution")
    result = grader()
    assert all(c.passed for c in result.checks) and result.percentage == 100
    binding = result.check("binding-to-jane").evidence[0]
    assert binding["kind"] == "RoleBinding" and binding["resourceVersion"]
    assert binding["fields"]["roleRef.name"] == "pod-reader"
    cases = result.check("jane-reads-pods").evidence
    assert [c["case"] for c in cases] == [
        "jane: get pods -n dev",
        "jane: list pods -n dev",
        "jane: watch pods -n dev",
    ]


def test_cluster_admin_cheat_is_capped(lab_cluster) -> None:
    _, grader = lab_cluster(script="cheat-cluster-admin")
    result = grader()
    assert all(result.check(c).passed for c in FIX_CHECKS)
    assert result.raw_percentage == 100
    assert result.capped and result.percentage == LAB.policy.cheat_cap_percent
    guard = result.check("jane-nothing-more")
    assert guard.detail.endswith("(and 7 more)")
    secret = next(e for e in guard.evidence if e["case"] == "jane: get secrets/payments-db -n dev")
    assert (secret["expected"], secret["found"]) == ("denied", "allowed")
    assert 'ClusterRoleBinding "jane-admin"' in secret["reason"]


def test_wildcard_role_cheat_fails_the_exact_rules(lab_cluster) -> None:
    _, grader = lab_cluster(script="cheat-wildcard-role")
    result = grader()
    assert not result.check("role-exact-rules").passed
    assert result.check("jane-reads-pods").passed
    assert result.capped


def test_hints_after_the_first_grade_and_their_penalty(lab_cluster) -> None:
    sim, grader = lab_cluster()
    first = grader(previous_grades=0)
    assert all(c.hint is None for c in first.checks)
    second = grader(previous_grades=1)
    assert second.hints_revealed == [
        "binding-to-jane",
        "jane-reads-pods",
        "role-exact-rules",
    ]
    done = run_script(LAB, "solution", sim.kubeconfig_path, extra_env={"HOME": str(sim.workdir)})
    assert done.returncode == 0, done.stderr
    third = grader(previous_grades=2, hints_revealed=frozenset(second.hints_revealed))
    # 3 + 3 + 4 points, minus the penalties of the two hints that carry one (1 + 1).
    assert third.earned == 8 and third.percentage == 80.0


def test_regrade_gives_the_same_result(lab_cluster) -> None:
    _, grader = lab_cluster(script="cheat-cluster-admin")
    first, second = grader().to_dict(), grader().to_dict()
    first.pop("graded_at"), second.pop("graded_at")
    assert first == second


def test_grade_command_for_lab_authors(lab_cluster, capsys) -> None:
    from app.grading.__main__ import main

    sim, _ = lab_cluster()
    args = ["grade", str(LAB.folder), "--kubeconfig", str(sim.kubeconfig_path)]
    assert main(args) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL  0/3 role-exact-rules: Role dev/pod-reader: sort(rules[0]")
    assert out[-1] == "0/10 = 0%"
    home = {"HOME": str(sim.workdir)}
    done = run_script(LAB, "cheat-cluster-admin", sim.kubeconfig_path, extra_env=home)
    assert done.returncode == 0, done.stderr
    assert main(args) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "10/10 = 20% (capped from 100%)"
    assert main([*args, "--json"]) == 1
    assert '"capped": true' in capsys.readouterr().out
