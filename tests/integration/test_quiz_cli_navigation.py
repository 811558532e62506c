"""`certprep quiz take` navigation (n, p, g N, f, s), resume at the first unanswered
question, what it says when the time ran out, against a live HTTP server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from app.cli.quiz import quiz
from tests.fixtures.app import bearer
from tests.fixtures.quiz_cli import typed_answers
from tests.fixtures.quizzes import ManualClock


def test_navigation_flags_summary_and_resume(
    live_api: str,
    config_dir: Path,
    make_quiz: Callable,
    make_user: Callable,
    clock: ManualClock,
    app: Any,
) -> None:
    make_quiz()
    _, token = make_user("learner")
    options = ["--api", live_api, "--token", token]
    with app.test_client() as http:
        items = http.post("/api/v1/quizzes/sample-quiz/attempts", headers=bearer(token)).get_json()[
            "items"
        ]
    runner = CliRunner()
    keys = "f\nn\np\ng 3\n" + typed_answers(items[2:3]) + "s\nn\ny\nq\n"
    first = runner.invoke(quiz, ["take", "sample-quiz", *options], input=keys)
    assert first.exit_code == 0, first.output
    out = first.output
    assert "resuming at question 1 (the first unanswered)" in out
    assert "flagged for review" in out
    assert "Question 2/7" in out and "Question 3/7" in out and "Question 4/7" in out
    assert "[flagged]" in out
    assert "Summary: 1 of 7 answered, 6 unanswered, 1 flagged" in out
    assert "6 question(s) unanswered (they score zero). Submit now?" in out
    assert out.rstrip().endswith("Saved. Resume with: certprep quiz take sample-quiz")
    # The answer is shown as text on a later visit; flags survive between runs.
    again = runner.invoke(quiz, ["take", "sample-quiz", *options], input="g 3\nq\n")
    assert "saved: " in again.output and "{" not in again.output.split("saved: ")[1].split("\n")[0]
    assert "Question 1/7 (" in again.output and "[flagged]" in again.output


def test_time_ran_out_in_the_grace_period_then_submit(
    live_api: str,
    config_dir: Path,
    make_quiz: Callable,
    make_user: Callable,
    clock: ManualClock,
    app: Any,
) -> None:
    make_quiz(expiry_policy="grace", grace_minutes=5)
    _, token = make_user("learner")
    with app.test_client() as http:
        http.post("/api/v1/quizzes/sample-quiz/attempts", headers=bearer(token))
    clock.advance(minutes=21)
    runner = CliRunner()
    taken = runner.invoke(
        quiz, ["take", "sample-quiz", "--api", live_api, "--token", token], input="y\nn\n"
    )
    assert taken.exit_code == 0, taken.output
    assert "Time ran out." in taken.output
    assert "you can still submit during the grace period" in taken.output
    assert "attempt 1: 0/7 (0 %) not passed" in taken.output


def test_result_says_the_deadline_submitted_the_attempt(
    live_api: str,
    config_dir: Path,
    make_quiz: Callable,
    make_user: Callable,
    clock: ManualClock,
    app: Any,
) -> None:
    make_quiz()
    _, token = make_user("learner")
    with app.test_client() as http:
        attempt = http.post("/api/v1/quizzes/sample-quiz/attempts", headers=bearer(token))
        attempt_id = attempt.get_json()["id"]
    clock.advance(minutes=21)
    runner = CliRunner()
    shown = runner.invoke(quiz, ["result", str(attempt_id), "--api", live_api, "--token", token])
    assert shown.exit_code == 0, shown.output
    assert f"attempt {attempt_id}: 0/7 (0 %) not passed" in shown.output
    assert "Time ran out: the saved answers were submitted automatically." in shown.output


def test_take_submits_after_the_summary_and_shows_the_review(
    live_api: str,
    config_dir: Path,
    make_quiz: Callable,
    make_user: Callable,
    clock: ManualClock,
    app: Any,
) -> None:
    make_quiz()
    _, token = make_user("learner")
    with app.test_client() as http:
        items = http.post("/api/v1/quizzes/sample-quiz/attempts", headers=bearer(token)).get_json()[
            "items"
        ]
    keys = typed_answers(items) + "y\n\n"  # submit at the summary, then the review
    taken = CliRunner().invoke(
        quiz, ["take", "sample-quiz", "--api", live_api, "--token", token], input=keys
    )
    assert taken.exit_code == 0, taken.output
    out = taken.output
    assert "Summary: 7 of 7 answered, 0 unanswered, 0 flagged" in out
    assert "7/7 (100 %) PASSED" in out
    assert "- The leader (correct)" in out and "why: SECRET-WHY-OLDEST" in out
    assert "right answer: 1. Authentication; 2. Authorization" in out
    assert "source section: etcd / Raft" in out
