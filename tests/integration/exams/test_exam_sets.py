"""The mock exam sets under exams/: valid, weighted like the CKA, and self-tested on the
simulator with the real kubectl: the untouched clusters score below 10 %, the reference
solutions 100 %.

Each set runs on manual-clock clusters provisioned by the simulator provider as an
attempt's are (`tests.fixtures.exams.ExamRun`); the same clusters are graded untouched,
then solved and graded again. The end-to-end run through the REST API and a real Celery
worker is in test_exam_attempts.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.banks.validator import load_content
from app.grading.examfile import (
    CKA_DOMAIN_WEIGHTS,
    ExamFile,
    check_exam,
    load_exam,
    register_bank_checker,
)
from tests.fixtures.exams import ExamRun, failed_checks

pytestmark = pytest.mark.kubectl

EXAMS_ROOT = Path(__file__).resolve().parents[3] / "exams"
SLUGS = sorted(p.stem for p in EXAMS_ROOT.glob("*.yaml"))
EXAMS = {slug: load_exam(EXAMS_ROOT / f"{slug}.yaml") for slug in SLUGS}
UNTOUCHED_MAX_PERCENT = 10


def test_there_are_two_distinct_sets() -> None:
    assert len(SLUGS) >= 2
    task_ids = [{t.id for t in exam.tasks} for exam in EXAMS.values()]
    texts = [{t.text for t in exam.tasks} for exam in EXAMS.values()]
    assert not set.intersection(*texts), "no task text appears in two sets"
    assert all(15 <= len(ids) <= 20 for ids in task_ids)


@pytest.mark.parametrize("slug", SLUGS)
def test_set_is_weighted_like_the_cka_and_spans_contexts(slug: str) -> None:
    exam = EXAMS[slug]
    weights: dict[str, float] = {}
    for task in exam.tasks:
        weights[task.domain] = weights.get(task.domain, 0) + task.weight
    assert weights == CKA_DOMAIN_WEIGHTS
    assert 2 <= len({t.context for t in exam.tasks}) <= 3
    assert exam.data["time_limit_minutes"] == 120 and exam.data["pass_percent"] == 66
    for task in exam.tasks:
        # The candidate reads which context to use, as on the real exam.
        assert f"use-context {task.context}" in task.text, task.id
        assert "seed" not in task.text.lower() and "seed" not in task.title.lower()


@pytest.mark.parametrize("slug", SLUGS)
def test_untouched_scores_below_ten_and_solutions_score_full(
    exam_run: Callable[[ExamFile], ExamRun], slug: str
) -> None:
    run = exam_run(EXAMS[slug])
    untouched = run.grade("untouched")
    assert untouched["score"] < UNTOUCHED_MAX_PERCENT, [
        (t["id"], t["score"]) for t in untouched["tasks"] if t["score"]
    ]
    assert untouched["passed"] is False
    run.solve_all()
    solved = run.grade("solved")
    assert solved["score"] == 100, failed_checks(solved)
    assert solved["passed"] is True
    assert all(t["score"] == t["weight"] for t in solved["tasks"])


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    source = (EXAMS_ROOT / f"{SLUGS[0]}.yaml").read_text()
    broken = source.replace("weight: 6\n", "weight: 7\n", 1).replace(
        "context: k8s-b\n    domain", "context: k8s-z\n    domain", 1
    )
    path = tmp_path / f"{SLUGS[0]}.yaml"
    path.write_text(broken)
    exam, issues = check_exam(path)
    assert exam is None
    messages = [str(i) for i in issues]
    z_line = broken.splitlines().index("    context: k8s-z") + 1
    assert f"{path}:{z_line}: unknown context 'k8s-z'" in messages, messages
    assert any("weights add up to 101" in m for m in messages), messages
    assert any("Cluster Architecture tasks weigh 26 %" in m for m in messages), messages


def test_bank_check_validates_exam_files(tmp_path: Path) -> None:
    register_bank_checker()
    good = load_content([EXAMS_ROOT / f"{SLUGS[0]}.yaml"])
    assert good.issues == []
    path = tmp_path / f"{SLUGS[0]}.yaml"
    path.write_text(
        (EXAMS_ROOT / f"{SLUGS[0]}.yaml").read_text().replace("weight: 5\n", "weight: 4\n", 1)
    )
    bad = load_content([path])
    assert any("weights add up to 99" in str(i) for i in bad.issues), bad.issues
