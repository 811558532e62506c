"""Running self-test scripts, judging their grades, and the `check` command."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.grading.__main__ import main
from app.grading.labfile import load_lab
from app.grading.result import GradeResult
from app.grading.selftest import run_script, run_selftest, verdict

EXAMPLE = Path(__file__).resolve().parents[3] / "labs" / "rbac-exact-permissions"


@pytest.fixture
def lab(tmp_path: Path):
    target = tmp_path / "rbac-exact-permissions"
    shutil.copytree(EXAMPLE, target)
    (target / "cheat-node").write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        'echo "kubeconfig=$KUBECONFIG dir=$(basename "$LAB_DIR") cwd=$(basename "$PWD")"\n'
        "lab-node node01 systemctl stop kubelet\n"
    )
    return load_lab(target)


def test_script_gets_kubeconfig_lab_dir_and_lab_node(lab, tmp_path: Path) -> None:
    done = run_script(lab, "cheat-node", tmp_path / "kc", node_command=["echo", "via-node"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"kubeconfig={tmp_path / 'kc'} dir=rbac-exact-permissions cwd=rbac-exact-permissions",
        "via-node node01 systemctl stop kubelet",
    ]


def test_lab_node_without_node_access_fails_the_script(lab, tmp_path: Path) -> None:
    done = run_script(lab, "cheat-node", tmp_path / "kc")
    assert done.returncode == 2
    assert "lab-node: this cluster offers no node access" in done.stderr


def test_missing_script(lab, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no script cheat-nothing"):
        run_script(lab, "cheat-nothing", tmp_path / "kc")


def _result(percentage: float) -> GradeResult:
    return GradeResult("g", [], 0, 10, percentage, percentage)


def test_verdict_bounds() -> None:
    assert verdict({"name": "solution", "min_percent": 100}, _result(100)) is None
    assert verdict({"name": "solution", "min_percent": 100}, _result(90)) == (
        "solution: scored 90%, expected at least 100%"
    )
    assert verdict({"name": "cheat", "max_percent": 20}, _result(20)) is None
    assert verdict({"name": "cheat", "max_percent": 20}, _result(25)) == (
        "cheat: scored 25%, expected at most 20%"
    )


def test_check_command(capsys, tmp_path: Path) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == "ok: 1 lab(s)\n"
    broken = tmp_path / "rbac-exact-permissions"
    shutil.copytree(EXAMPLE, broken)
    (broken / "solution.md").unlink()
    assert main(["check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{broken / 'lab.yaml'}:1: no solution.md beside lab.yaml" in err
    assert main(["lint"]) == 2


def test_a_failing_script_is_a_problem_without_a_grade(lab, tmp_path: Path) -> None:
    (lab.folder / "cheat-broken").write_text("#!/usr/bin/env bash\necho trying\nexit 3\n")
    outcome = run_selftest(
        lab,
        {"name": "cheat-broken", "script": "cheat-broken", "max_percent": 20},
        tmp_path / "kc",
        session_started_at=datetime.now(UTC),
    )
    assert not outcome.ok and outcome.result is None
    assert outcome.problem == "cheat-broken: script exited 3"
    assert outcome.output == "trying\n"
