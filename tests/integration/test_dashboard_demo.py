"""`certprep demo seed`: a realistic cohort, idempotent, on the sample bank and (slow)
on the project's own banks through the command line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import cli
from app.cli.demo import CHECKPOINT_SLUG, DEMO_TRAINER, demo_group, seed_demo
from app.config import PROJECT_ROOT
from app.models.activity import ActivityEvent
from app.models.cohort import Cohort
from app.services.progress import cohort_progress
from app.services.statistics import lab_statistics, quiz_statistics

DEMO_LAB = "rbac-exact-permissions"


def test_seed_on_the_sample_bank(db_session: Any, make_quiz: Any, tmp_path: Path) -> None:
    make_quiz(attempts_allowed=0)
    # One of the project's labs, copied so that edits elsewhere in labs/ do not matter.
    shutil.copytree(PROJECT_ROOT / "labs" / DEMO_LAB, tmp_path / "labs" / DEMO_LAB)
    result = seed_demo(
        ["sample-quiz", "missing-quiz"], learners=12, seed=3, labs_root=tmp_path / "labs"
    )
    assert result["created"] is True and result["learners"] == 12
    cohort = db_session.get(Cohort, result["cohort_id"])
    assert cohort.owner.email == DEMO_TRAINER
    assert [(a.kind.value, a.slug) for a in cohort.assignments] == [
        ("quiz", "sample-quiz"),
        ("lab", DEMO_LAB),
    ]
    assert result["lab_grades"] > 6
    report = cohort_progress(cohort)
    rows = report["learners"]
    assert len(rows) == 12
    # Learners take 1 to 3 attempts; one more is left in progress and does not count.
    assert (
        sum(r["attempts"] for r in rows) == result["attempts"] == sum(1 + i % 3 for i in range(12))
    )
    assert sum(r["attempts_in_progress"] for r in rows) == 1
    readiness = [r["readiness_percent"] for r in rows]
    # Varied ability, spread over several buckets; the sample bank covers three of the
    # five CKA domains, so nobody is called ready on it.
    assert report["aggregate"]["ready"] == 0
    assert {r["readiness_status"] for r in rows} == {"not enough evidence"}
    assert all("Storage" in r["missing_domains"] for r in rows)
    assert sum(1 for b in report["aggregate"]["distribution"] if b["count"]) >= 3
    assert max(readiness) - min(readiness) > 30
    stats = quiz_statistics("sample-quiz")
    assert stats["attempts"] == result["attempts"] and stats["alpha"] is not None
    assert db_session.scalar(select(func.count()).select_from(ActivityEvent)) > 100
    assert sum(r["labs_completed"] for r in rows) == result["lab_grades"]
    lab_stats = lab_statistics(DEMO_LAB, [m.user_id for m in cohort.members])
    assert lab_stats["learners"] > 6 and all(
        0 <= c["passed_share"] <= 1 for c in lab_stats["checks"]
    )

    again = seed_demo(["sample-quiz"])
    assert again["created"] is False and again["cohort_id"] == cohort.id


@pytest.mark.slow
def test_demo_seed_command_on_the_project_banks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTPREP_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    monkeypatch.setenv("CERTPREP_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("CERTPREP_BROKER_URL", "memory://")
    monkeypatch.setenv("CERTPREP_TESTING", "true")
    if "demo" not in cli.commands:
        cli.add_command(demo_group)
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "seed", "--learners", "6"])
    assert first.exit_code == 0, first.output
    assert "6 learners" in first.output and DEMO_TRAINER in first.output
    second = runner.invoke(cli, ["demo", "seed"])
    assert second.exit_code == 0 and "nothing changed" in second.output

    from app import create_app
    from app.extensions import db

    app = create_app()
    with app.app_context():
        cohort = db.session.scalar(select(Cohort))
        assert [a.slug for a in cohort.assignments][:3] == [
            "cka-architecture-mock-exam",
            CHECKPOINT_SLUG,
            "scheduler-essentials",
        ]
        checkpoint = quiz_statistics(CHECKPOINT_SLUG)
        # A fixed form: every attempt drew the same questions, so alpha is defined.
        assert checkpoint["attempts"] >= 6 and checkpoint["alpha"] is not None
        assert checkpoint["alpha_questions"] == len(checkpoint["questions"])
        db.session.remove()
        db.engine.dispose()
