"""`certprep bank check`: each kind of content error is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.banks.validator import load_content
from app.cli.bank import bank
from tests.fixtures.bank_files import (
    GOOD_NUMERIC,
    HEADER,
    issues_for,
    line_of,
    question,
    write,
)

GOOD_SINGLE = question(
    "etcd-leader",
    "single",
    """\
    options:
      - {id: a, text: The leader, correct: true, why: Raft writes go through the leader.}
      - {id: b, text: Any member, correct: false, why: Followers forward to the leader.}
    """,
)


def test_valid_bank_has_no_issues(tmp_path: Path) -> None:
    path = write(tmp_path, "etcd.yaml", HEADER + GOOD_NUMERIC + GOOD_SINGLE)
    content = load_content([path])
    assert content.issues == []
    assert [q.data["id"] for q in content.questions] == ["etcd-quorum-five", "etcd-leader"]


def test_bad_yaml_reports_the_parser_line(tmp_path: Path) -> None:
    text = HEADER + GOOD_NUMERIC + "  - id: [unclosed\n    type: single\n"
    path = write(tmp_path, "broken.yaml", text)
    [(name, line, message)] = issues_for(path)
    assert name == "broken.yaml"
    assert message.startswith("invalid YAML")
    assert line == line_of(text, "type: single")


def test_unknown_type(tmp_path: Path) -> None:
    text = HEADER + question("etcd-essay", "essay", "answer: 2\n")
    path = write(tmp_path, "etcd.yaml", text)
    [(_, line, message)] = issues_for(path)
    assert line == line_of(text, "type: essay")
    assert "unknown question type 'essay'" in message


def test_missing_field_points_at_the_question(tmp_path: Path) -> None:
    text = HEADER + GOOD_NUMERIC.replace("    explanation: Quorum is 3 of 5, so 2 may fail.\n", "")
    path = write(tmp_path, "etcd.yaml", text)
    [(_, line, message)] = issues_for(path)
    assert line == line_of(text, "- id: etcd-quorum-five")
    assert message == "questions[0].explanation: missing required field"


def test_invalid_and_unknown_fields(tmp_path: Path) -> None:
    text = (
        HEADER
        + GOOD_NUMERIC.replace("difficulty: easy", "difficulty: trivial")
        + (GOOD_SINGLE.replace("    stem:", "    colour: red\n    stem:"))
    )
    path = write(tmp_path, "etcd.yaml", text)
    issues = issues_for(path)
    assert (
        "etcd.yaml",
        line_of(text, "difficulty: trivial"),
        "questions[0].difficulty: must be one of: easy, medium, hard; got 'trivial'",
    ) in issues
    assert ("etcd.yaml", line_of(text, "colour: red"), "questions[1].colour: unknown field") in (
        issues
    )


def test_duplicate_id_names_both_locations(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", HEADER + GOOD_NUMERIC)
    other = HEADER.replace("bank: etcd", "bank: etcd-two") + GOOD_NUMERIC
    second = write(tmp_path, "b.yaml", other)
    [(name, line, message)] = issues_for(first, second)
    assert name == "b.yaml"
    assert line == line_of(other, "- id: etcd-quorum-five")
    assert message.startswith("duplicate question id 'etcd-quorum-five': also at ")
    assert message.endswith(f"a.yaml:{line_of(HEADER + GOOD_NUMERIC, '- id: etcd-quorum')}")


def test_single_with_two_correct(tmp_path: Path) -> None:
    text = HEADER + GOOD_SINGLE.replace("correct: false", "correct: true")
    path = write(tmp_path, "etcd.yaml", text)
    [(_, line, message)] = issues_for(path)
    assert line == line_of(text, "options:")
    assert "exactly one correct option; found 2 (a, b)" in message


def test_single_with_no_correct(tmp_path: Path) -> None:
    text = HEADER + GOOD_SINGLE.replace("correct: true", "correct: false")
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "options:")
    assert "found 0" in message


def test_matching_prompt_with_unknown_choice(tmp_path: Path) -> None:
    text = HEADER + question(
        "component-jobs",
        "matching",
        """\
        prompts:
          - {id: p1, text: kube-scheduler, match: c1}
          - {id: p2, text: kubelet, match: c9}
        choices:
          - {id: c1, text: binds pods}
          - {id: c2, text: runs pods}
        """,
    )
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "match: c9")
    assert "questions[0].prompts[1].match: matches unknown choice 'c9'" in message


def test_ordering_with_duplicate_ids(tmp_path: Path) -> None:
    text = HEADER + question(
        "request-flow",
        "ordering",
        """\
        items:
          - {id: authn, text: Authentication}
          - {id: authz, text: Authorization}
          - {id: authn, text: Admission}
        """,
    )
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "id: authn", 2)
    assert "duplicate id 'authn'" in message


def test_numeric_without_a_number(tmp_path: Path) -> None:
    text = HEADER + question("etcd-quorum-five", "numeric", 'answer: "two"\n')
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "answer:")
    assert message == "questions[0].answer: must be a number"


def test_regex_that_does_not_compile(tmp_path: Path) -> None:
    text = HEADER + question(
        "scheduler-name",
        "short_answer",
        "accept: [kube-scheduler]\naccept_regex: ['kube-(sched']\n",
    )
    [(_, line, message)] = issues_for(write(tmp_path, "etcd.yaml", text))
    assert line == line_of(text, "accept_regex")
    assert "regular expression does not compile" in message


QUIZ = """\
spec: certprep/quizzes/v1
quizzes:
  - slug: etcd-essentials
    title: etcd essentials
    time_limit_minutes: 20
    pass_mark: 66
    attempts_allowed: 3
    grading_method: highest
    expiry_policy: autosubmit
    review_policy: explanations
    draw:
      - where: {section: etcd}
        count: 2
      - where: {section: etcd, difficulty: hard}
        count: 1
"""


def test_blueprint_drawing_more_than_match(tmp_path: Path) -> None:
    bank_file = write(tmp_path, "etcd.yaml", HEADER + GOOD_NUMERIC + GOOD_SINGLE)
    quiz_file = write(tmp_path, "quizzes/etcd.yaml", QUIZ)
    [(name, line, message)] = issues_for(bank_file, quiz_file)
    assert name == "etcd.yaml" and line == line_of(QUIZ, "difficulty: hard")
    assert "draw rule 2 draws 1 question(s) matching section=etcd, difficulty=hard" in message
    assert "only 0 match" in message


def test_blueprint_alone_is_checked_against_sibling_banks(tmp_path: Path) -> None:
    write(tmp_path, "etcd.yaml", HEADER + GOOD_NUMERIC + GOOD_SINGLE)
    quiz_file = write(
        tmp_path,
        "quizzes/etcd.yaml",
        QUIZ.replace("difficulty: hard", "type: single").replace("count: 2", "count: 1"),
    )
    assert issues_for(quiz_file) == []


def test_blueprint_policy_rules(tmp_path: Path) -> None:
    text = QUIZ.replace("expiry_policy: autosubmit", "expiry_policy: grace").replace(
        "    draw:", "    review_after: close\n    draw:"
    )
    write(tmp_path, "etcd.yaml", HEADER + GOOD_NUMERIC + GOOD_SINGLE)
    issues = issues_for(write(tmp_path, "quizzes/etcd.yaml", text))
    messages = [m for _, _, m in issues]
    assert any("grace_minutes" in m for m in messages)
    assert any("close_at" in m for m in messages)


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = HEADER + GOOD_NUMERIC.replace("    tolerance: 0\n", "    tolerance: 0\n    answer: 3\n")
    issues = issues_for(write(tmp_path, "etcd.yaml", text))
    assert (
        "etcd.yaml",
        line_of(text, "answer: 3"),
        f"duplicate key 'answer' (first at line {line_of(text, 'answer: 2')})",
    ) in issues


def test_unknown_spec(tmp_path: Path) -> None:
    [(_, line, message)] = issues_for(write(tmp_path, "x.yaml", "spec: certprep/other/v9\n"))
    assert line == 1 and message.startswith("unknown spec 'certprep/other/v9'")


@pytest.mark.parametrize(
    ("files", "exit_code"),
    [({"etcd.yaml": HEADER + GOOD_NUMERIC}, 0), ({"etcd.yaml": HEADER + "  - 3\n"}, 1)],
)
def test_cli_exit_code(tmp_path: Path, files: dict[str, str], exit_code: int) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    result = CliRunner().invoke(bank, ["check", str(tmp_path)])
    assert result.exit_code == exit_code, result.output
    if exit_code:
        assert "etcd.yaml:5: questions[0]: a question must be a mapping" in result.output
    else:
        assert "ok: 1 file(s), 1 bank(s), 1 question(s)" in result.output
