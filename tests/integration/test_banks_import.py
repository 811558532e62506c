"""`certprep bank import`: idempotent, versioned, retiring instead of deleting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.models.attempt import AttemptItem
from app.models.question import Question
from app.models.quiz import Quiz
from app.services.errors import ValidationFailed
from tests.builders import SAMPLE_BANK, import_bank
from tests.fixtures.quizzes import API, ManualClock, answer, start

QUIZ_FILE = """\
spec: certprep/quizzes/v1
quizzes:
  - slug: sample-blueprint
    title: Sample blueprint
    time_limit_minutes: 10
    pass_mark: 50
    attempts_allowed: 2
    grading_method: highest
    expiry_policy: autosubmit
    review_policy: answers
    draw:
      - where: {bank: sample}
        count: 4
"""


def rows(db_session: Any, uid: str) -> list[Question]:
    return list(
        db_session.scalars(select(Question).where(Question.uid == uid).order_by(Question.revision))
    )


def test_reimport_changes_nothing(db_session: Any, tmp_path: Path) -> None:
    first = import_bank(tmp_path)
    assert first.counts["questions_added"] == 7
    second = import_bank(tmp_path)
    assert not second.changed
    assert second.counts["questions_unchanged"] == 7
    assert db_session.scalar(select(func.count()).select_from(Question)) == 7


def test_edited_question_becomes_a_new_version(db_session: Any, tmp_path: Path) -> None:
    import_bank(tmp_path)
    edited = SAMPLE_BANK.replace(
        "How many members of a 5-member etcd cluster may fail?",
        "How many members of a 7-member etcd cluster may fail?",
    ).replace("    answer: 2\n", "    answer: 3\n")
    report = import_bank(tmp_path, edited)
    assert report.counts["questions_revised"] == 1 and report.counts["questions_unchanged"] == 6
    old, new = rows(db_session, "sample-numeric")
    assert (old.revision, old.is_current, old.body["answer"]) == (1, False, 2)
    assert (new.revision, new.is_current, new.body["answer"]) == (2, True, 3)
    assert not import_bank(tmp_path, edited).changed


def test_attempt_keeps_the_version_it_pinned(
    client: Any,
    make_quiz: Callable,
    learner: Any,
    clock: ManualClock,
    db_session: Any,
    tmp_path: Path,
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    # The answer changes after the attempt started; the attempt still scores against 2.
    import_bank(tmp_path / "bank", SAMPLE_BANK.replace("    answer: 2\n", "    answer: 3\n"))
    answer(client, headers, attempt["id"], "sample-numeric", {"value": 2})
    result = client.post(f"{API}/attempts/{attempt['id']}/submit", headers=headers).get_json()
    assert result["result"]["score"] == 1.0
    pinned = db_session.scalar(
        select(AttemptItem).where(AttemptItem.question_uid == "sample-numeric")
    )
    assert pinned.question.revision == 1 and not pinned.question.is_current


def test_removed_question_is_retired_and_restored(db_session: Any, tmp_path: Path) -> None:
    import_bank(tmp_path)
    start_of_item = SAMPLE_BANK.index("  - id: sample-numeric")
    without = SAMPLE_BANK[:start_of_item]
    report = import_bank(tmp_path, without)
    assert report.counts["questions_retired"] == 1
    [row] = rows(db_session, "sample-numeric")
    assert row.retired_at is not None and row.is_current
    back = import_bank(tmp_path)
    assert back.counts["questions_restored"] == 1
    db_session.refresh(row)
    assert row.retired_at is None


def test_retired_question_is_not_drawn(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock, tmp_path: Path
) -> None:
    make_quiz(draw=[{"where": {"section": "etcd"}, "count": 2}])
    start_of_item = SAMPLE_BANK.index("  - id: sample-numeric")
    import_bank(tmp_path / "bank", SAMPLE_BANK[:start_of_item])
    _, headers = learner
    attempt = start(client, headers)
    assert {i["question_id"] for i in attempt["items"]} == {"sample-single", "sample-true-false"}


def test_blueprints_import_update_and_retire(db_session: Any, tmp_path: Path) -> None:
    from app.banks.validator import load_content
    from app.services.banks import import_content

    import_bank(tmp_path)
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    (quizzes / "q.yaml").write_text(QUIZ_FILE)
    report = import_content(load_content([tmp_path]))
    assert report.counts["quizzes_added"] == 1
    assert not import_content(load_content([tmp_path])).changed
    (quizzes / "q.yaml").write_text(QUIZ_FILE.replace("pass_mark: 50", "pass_mark: 70"))
    assert import_content(load_content([tmp_path])).counts["quizzes_updated"] == 1
    quiz = db_session.scalar(select(Quiz).where(Quiz.slug == "sample-blueprint"))
    assert quiz.pass_mark == 70
    (quizzes / "q.yaml").write_text(QUIZ_FILE.replace("sample-blueprint", "renamed-blueprint"))
    report = import_content(load_content([tmp_path]))
    assert report.counts["quizzes_retired"] == 1 and report.counts["quizzes_added"] == 1
    db_session.refresh(quiz)
    assert quiz.retired_at is not None


def test_import_refuses_content_with_errors(db_session: Any, tmp_path: Path) -> None:
    from app.banks.validator import load_content
    from app.services.banks import import_content

    (tmp_path / "bad.yaml").write_text(SAMPLE_BANK.replace("type: numeric", "type: essay"))
    with pytest.raises(ValidationFailed):
        import_content(load_content([tmp_path]))
    assert db_session.scalar(select(func.count()).select_from(Question)) == 0


def test_cli_import(db_session: Any, tmp_path: Path, app: Any, monkeypatch: Any) -> None:
    from app.cli import bank as bank_cli

    (tmp_path / "sample.yaml").write_text(SAMPLE_BANK)
    # The command builds its own app: point it at the test database.
    monkeypatch.setattr(bank_cli, "_command_app", lambda: app)
    runner = CliRunner()
    first = runner.invoke(bank_cli.bank, ["import", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "questions added: 7" in first.output
    again = runner.invoke(bank_cli.bank, ["import", str(tmp_path)])
    assert again.exit_code == 0 and "questions unchanged: 7" in again.output
    (tmp_path / "sample.yaml").write_text(SAMPLE_BANK.replace("type: numeric", "type: essay"))
    broken = runner.invoke(bank_cli.bank, ["import", str(tmp_path)])
    assert broken.exit_code == 1 and "unknown question type 'essay'" in broken.output


@pytest.mark.reliability
def test_only_a_pruning_import_retires_missing_banks_and_quizzes(
    db_session: Any, tmp_path: Path
) -> None:
    from app.banks.validator import load_content
    from app.models.question import Bank
    from app.services.banks import import_content

    folder = tmp_path / "questions"
    folder.mkdir()
    (folder / "sample.yaml").write_text(SAMPLE_BANK)
    (folder / "quizzes").mkdir()
    (folder / "quizzes" / "q.yaml").write_text(QUIZ_FILE)
    import_content(load_content([folder]), prune=True)
    other = SAMPLE_BANK.replace("bank: sample", "bank: other").replace("id: sample-", "id: other-")
    (folder / "sample.yaml").unlink()
    (folder / "quizzes" / "q.yaml").unlink()
    (folder / "other.yaml").write_text(other)
    # A partial import (named files) retires nothing outside what it names...
    assert import_content(load_content([folder / "other.yaml"])).counts["banks_retired"] == 0
    # ...neither does a whole-folder import without `prune`: it lists what it kept...
    kept = import_content(load_content([folder]))
    assert kept.counts["banks_retired"] == kept.counts["quizzes_retired"] == 0
    assert kept.absent == ["bank sample", "quiz sample-blueprint"] and kept.retired == []
    # ...a pruning one retires the bank that is gone, its questions, and the quiz.
    report = import_content(load_content([folder]), prune=True)
    assert report.retired == ["bank sample", "quiz sample-blueprint"]
    assert report.counts["banks_retired"] == 1
    assert report.counts["questions_retired"] == 7
    assert report.counts["quizzes_retired"] == 1
    sample = db_session.scalar(select(Bank).where(Bank.slug == "sample"))
    assert sample.retired_at is not None
    assert all(q.retired_at is not None for q in rows(db_session, "sample-single"))


def test_cli_checks_and_imports_labs_beside_questions(
    db_session: Any, tmp_path: Path, app: Any, monkeypatch: Any
) -> None:
    from app.cli import bank as bank_cli
    from app.models.lab import Lab
    from tests.fixtures.labs import make_lab_folder

    questions = tmp_path / "questions"
    questions.mkdir()
    (questions / "sample.yaml").write_text(SAMPLE_BANK)
    labs = tmp_path / "labs"
    labs.mkdir()
    make_lab_folder(labs, "lab-one", checks=2)
    make_lab_folder(labs, "lab-two", checks=3)
    monkeypatch.setattr(bank_cli, "_command_app", lambda: app)
    runner = CliRunner()

    checked = runner.invoke(bank_cli.bank, ["check", str(questions), str(labs)])
    assert checked.exit_code == 0, checked.output
    assert "7 question(s)" in checked.output and "2 lab(s)" in checked.output

    imported = runner.invoke(bank_cli.bank, ["import", str(questions), str(labs)])
    assert imported.exit_code == 0, imported.output
    assert "added: 2" in imported.output
    db_session.expire_all()
    assert sorted(db_session.scalars(select(Lab.slug))) == ["lab-one", "lab-two"]
    # Naming one lab folder imports that lab only and retires nothing.
    again = runner.invoke(bank_cli.bank, ["import", str(labs / "lab-one")])
    assert again.exit_code == 0, again.output
    assert "unchanged: 1" in again.output and "retired" not in again.output
    assert "kept (--prune retires them): lab lab-two" in again.output

    # A broken lab file fails the check with its file and line, and imports nothing.
    lab_file = labs / "lab-two" / "lab.yaml"
    lines = lab_file.read_text().splitlines()
    line_no = next(i for i, line in enumerate(lines, 1) if line.startswith("difficulty:"))
    lab_file.write_text(lab_file.read_text().replace("difficulty: easy", "difficulty: trivial"))
    broken = runner.invoke(bank_cli.bank, ["check", str(labs)])
    assert broken.exit_code == 1
    assert f"lab-two/lab.yaml:{line_no}:" in broken.output


@pytest.mark.reliability
def test_cli_import_retires_only_with_prune_and_prints_each(
    db_session: Any, tmp_path: Path, app: Any, monkeypatch: Any
) -> None:
    from app.cli import bank as bank_cli
    from app.models.question import Bank

    (tmp_path / "sample.yaml").write_text(SAMPLE_BANK)
    other = tmp_path / "other"
    other.mkdir()
    (other / "other.yaml").write_text(
        SAMPLE_BANK.replace("bank: sample", "bank: other").replace("id: sample-", "id: other-")
    )
    monkeypatch.setattr(bank_cli, "_command_app", lambda: app)
    runner = CliRunner()
    assert runner.invoke(bank_cli.bank, ["import", str(tmp_path / "sample.yaml")]).exit_code == 0

    subset = runner.invoke(bank_cli.bank, ["import", str(other)])
    assert subset.exit_code == 0, subset.output
    assert "banks retired" not in subset.output
    assert "kept (--prune retires them): bank sample" in subset.output
    db_session.expire_all()
    assert db_session.scalar(select(Bank).where(Bank.slug == "sample")).retired_at is None

    pruned = runner.invoke(bank_cli.bank, ["import", "--prune", str(other)])
    assert pruned.exit_code == 0, pruned.output
    assert "retired: bank sample" in pruned.output and "banks retired: 1" in pruned.output
    db_session.expire_all()
    assert db_session.scalar(select(Bank).where(Bank.slug == "sample")).retired_at is not None


def test_track_and_source_survive_import_and_a_cka_draw_skips_openshift(
    client: Any,
    db_session: Any,
    make_quiz: Callable,
    learner: Any,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    # Every sample question but one becomes OpenShift-track; the one left cites a source URL.
    text = SAMPLE_BANK.replace("    section: etcd\n", "    section: etcd\n    track: openshift\n")
    text = text.replace(
        "    section: apiserver\n", "    section: apiserver\n    track: openshift\n"
    )
    text = text.replace(
        "    section: scheduler\n", "    section: scheduler\n    track: openshift\n"
    )
    cka_start = text.index("  - id: sample-true-false")
    cka_end = text.index("  - id: sample-ordering")
    cka = (
        text[cka_start:cka_end]
        .replace("    track: openshift\n", "")
        .replace(
            '    seed_section: "etcd / Access"\n',
            "    source: https://kubernetes.io/docs/concepts/overview/components/\n",
        )
    )
    import_bank(tmp_path / "bank", text[:cka_start] + cka + text[cka_end:])
    current = db_session.scalars(select(Question).where(Question.is_current))
    rows_by_uid = {q.uid: q for q in current}
    tracks = {uid: row.attributes["track"] for uid, row in rows_by_uid.items()}
    assert tracks["sample-true-false"] == "cka"
    assert {t for uid, t in tracks.items() if uid != "sample-true-false"} == {"openshift"}
    assert rows_by_uid["sample-true-false"].body["source"].endswith("/components/")
    assert rows_by_uid["sample-true-false"].seed_section == ""
    make_quiz(draw=[{"where": {"track": "cka"}, "count": 1}])
    _, headers = learner
    attempt = start(client, headers)
    assert [i["question_id"] for i in attempt["items"]] == ["sample-true-false"]
