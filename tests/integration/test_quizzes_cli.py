"""`certprep login` and `certprep quiz list|take|result` against a live HTTP server."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli.login import login, logout
from app.cli.quiz import parse_answer, quiz
from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.quiz_cli import typed_answers
from tests.fixtures.quizzes import ManualClock


def test_login_saves_a_private_token_and_quiz_commands_use_it(
    live_api: str,
    config_dir: Path,
    make_quiz: Callable,
    make_user: Callable,
    clock: ManualClock,
    app: Any,
) -> None:
    make_quiz()
    make_user("learner", email="cli@example.test")
    runner = CliRunner()
    logged_in = runner.invoke(
        login, ["--api", live_api, "--email", "cli@example.test", "--password", DEFAULT_PASSWORD]
    )
    assert logged_in.exit_code == 0, logged_in.output
    saved = config_dir / "login.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    listed = runner.invoke(quiz, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "sample-quiz" in listed.output and "7 questions" in listed.output

    # Answer the first two questions, then stop without submitting.
    with app.test_client() as http:
        token = saved.read_text().split('"token": "')[1].split('"')[0]
        attempt = http.post(
            "/api/v1/quizzes/sample-quiz/attempts", headers={"Authorization": f"Bearer {token}"}
        ).get_json()
    items = attempt["items"]
    first_two = typed_answers(items[:2]) + "\n" * 20 + "n\n"
    partial = runner.invoke(quiz, ["take", "sample-quiz"], input=first_two)
    assert partial.exit_code == 0, partial.output
    assert "resuming attempt" in partial.output and "Resume with" in partial.output

    # Resume at the first unanswered question: the rest answered right, then submit.
    done = runner.invoke(quiz, ["take", "sample-quiz", "--submit"], input=typed_answers(items[2:]))
    assert done.exit_code == 0, done.output
    assert "resuming at question 3 (the first unanswered)" in done.output
    assert "Summary: 7 of 7 answered, 0 unanswered" in done.output
    assert "7/7 (100 %) PASSED" in done.output

    result = runner.invoke(quiz, ["result", str(attempt["id"])])
    assert result.exit_code == 0, result.output
    assert "right answer:" in result.output and "explanation: SECRET-EXPLANATION" in result.output
    # Option texts and each option's why, never Python dicts.
    assert "- The leader (correct)" in result.output
    assert "why: SECRET-WHY-FOLLOWER" in result.output
    assert "TaintToleration → Taints on the node" in result.output
    assert "{" not in result.output

    assert runner.invoke(logout).exit_code == 0 and not saved.exists()
    assert runner.invoke(quiz, ["list"]).exit_code == 2


def test_explicit_api_and_token_and_errors(
    live_api: str, config_dir: Path, make_quiz: Callable, make_user: Callable, clock: Any
) -> None:
    make_quiz()
    _, token = make_user("learner")
    runner = CliRunner()
    listed = runner.invoke(quiz, ["list", "--api", live_api, "--token", token])
    assert listed.exit_code == 0 and "sample-quiz" in listed.output
    bad = runner.invoke(quiz, ["list", "--api", live_api, "--token", "nope"])
    assert bad.exit_code == 1 and "401" in bad.output
    missing = runner.invoke(quiz, ["result", "999", "--api", live_api, "--token", token])
    assert missing.exit_code == 1 and "404" in missing.output


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("single", " b ", {"choice": "b"}),
        ("multiple", "a, c", {"choices": ["a", "c"]}),
        ("ordering", "c a b", {"order": ["c", "a", "b"]}),
        ("true_false", "Yes", {"value": True}),
        ("numeric", "2", {"value": 2}),
        ("numeric", "2.5", {"value": 2.5}),
        ("short_answer", "kube-scheduler", {"text": "kube-scheduler"}),
    ],
)
def test_parse_answer(kind: str, text: str, expected: dict) -> None:
    assert parse_answer({"type": kind}, text) == expected


def test_login_accepts_the_api_url_the_banner_prints(
    live_api: str, config_dir: Path, make_quiz: Callable, make_user: Callable
) -> None:
    make_quiz()
    make_user("learner", email="banner@example.test")
    runner = CliRunner()
    logged_in = runner.invoke(
        login,
        ["--api", f"{live_api}/api/v1/", "--email", "banner@example.test"],
        input=f"{DEFAULT_PASSWORD}\n",
    )
    assert logged_in.exit_code == 0, logged_in.output
    # Saved as the base URL, so later commands (and `--api BASE`) match it.
    assert f'"api": "{live_api}"' in (config_dir / "login.json").read_text()
    listed = runner.invoke(quiz, ["list", "--api", f"{live_api}/api/v1"])
    assert listed.exit_code == 0, listed.output
    assert "sample-quiz" in listed.output
