"""Quizzes over REST: listing, custom quizzes, starting attempts, the trainer views.

Also home of the quiz fixtures the other attempt test modules import: a sample bank with
one question of every type, `make_quiz(...)`, and a controllable `clock`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.banks.validator import load_content
from app.models.quiz import Quiz
from app.services.banks import import_content
from tests.builders import CORRECT, QUIZ_DEFAULTS, WRONG
from tests.fixtures.quizzes import API, START, answer, answer_all, coach, start

# A fully correct response per question.


# ----------------------------------------------------------------------------- tests


def test_list_and_read_quizzes(client: Any, make_quiz: Callable, learner: Any, clock: Any) -> None:
    make_quiz("b-quiz", title="B quiz")
    make_quiz("a-quiz", title="A quiz")
    _, headers = learner
    listed = client.get(f"{API}/quizzes?page_size=1", headers=headers)
    assert listed.status_code == 200
    assert [q["slug"] for q in listed.get_json()] == ["a-quiz"]
    assert '"total": 2' in listed.headers["X-Pagination"]
    detail = client.get(f"{API}/quizzes/a-quiz", headers=headers).get_json()
    assert detail["question_count"] == 7
    assert detail["standing"] == {
        "attempts_used": 0,
        "attempts_left": 3,
        "result_percent": None,
        "passed": None,
    }
    assert client.get(f"{API}/quizzes/nope", headers=headers).status_code == 404
    assert client.get(f"{API}/quizzes").status_code == 401


def test_start_draws_pins_and_shuffles(
    client: Any, make_quiz: Callable, learner: Any, clock: Any
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    assert attempt["status"] == "in_progress"
    assert {i["question_id"] for i in attempt["items"]} == set(CORRECT)
    assert attempt["deadline_at"] == (START + timedelta(minutes=20)).isoformat()
    assert attempt["remaining_seconds"] == 20 * 60
    ordering = next(i for i in attempt["items"] if i["type"] == "ordering")
    assert [i["id"] for i in ordering["items"]] != ["authn", "authz", "admit", "persist"]
    # Starting again returns the attempt in progress rather than a second one.
    again = start(client, headers, status=200)
    assert again["id"] == attempt["id"]
    assert [i["question_id"] for i in again["items"]] == [
        i["question_id"] for i in attempt["items"]
    ]


def test_least_seen_questions_are_drawn_first(
    client: Any, make_quiz: Callable, learner: Any, clock: Any
) -> None:
    make_quiz(draw=[{"where": {"bank": ["sample"]}, "count": 3}], attempts_allowed=0)
    _, headers = learner
    seen: list[set[str]] = []
    for _ in range(2):
        attempt = start(client, headers)
        seen.append({i["question_id"] for i in attempt["items"]})
        client.post(f"{API}/attempts/{attempt['id']}/submit", headers=headers)
    # 7 questions, 3 per attempt: the second attempt repeats none of the first.
    assert not seen[0] & seen[1]
    third = {i["question_id"] for i in start(client, headers)["items"]}
    unseen = set(CORRECT) - seen[0] - seen[1]
    assert unseen <= third


def test_attempts_allowed_is_enforced(
    client: Any, make_quiz: Callable, learner: Any, clock: Any
) -> None:
    make_quiz(attempts_allowed=1)
    _, headers = learner
    attempt = start(client, headers)
    client.post(f"{API}/attempts/{attempt['id']}/submit", headers=headers)
    refused = start(client, headers, status=409)
    assert "attempt(s)" in refused["message"]
    standing = client.get(f"{API}/quizzes/sample-quiz", headers=headers).get_json()["standing"]
    assert standing["attempts_used"] == 1 and standing["attempts_left"] == 0


def test_closed_quiz_takes_no_attempts(
    client: Any, make_quiz: Callable, learner: Any, clock: Any
) -> None:
    make_quiz(close_at=START - timedelta(minutes=1))
    _, headers = learner
    assert "closed" in start(client, headers, status=409)["message"]


def test_grading_method_decides_the_quiz_result(
    client: Any, make_quiz: Callable, learner: Any, clock: Any
) -> None:
    make_quiz(grading_method="last", attempts_allowed=0, shuffle_questions=False)
    _, headers = learner
    for key in (CORRECT, WRONG):
        attempt = start(client, headers)
        answer_all(client, headers, attempt, key)
        client.post(f"{API}/attempts/{attempt['id']}/submit", headers=headers)
    standing = client.get(f"{API}/quizzes/sample-quiz", headers=headers).get_json()["standing"]
    assert standing["result_percent"] == 0.0 and standing["passed"] is False


def test_trainer_creates_a_custom_quiz(
    client: Any, sample_bank: Path, trainer: Any, learner: Any
) -> None:
    _, headers = trainer
    body = {
        **{k: v for k, v in QUIZ_DEFAULTS.items() if k != "close_at"},
        "slug": "etcd-drill",
        "title": "etcd drill",
        "draw": [{"where": {"section": "etcd", "difficulty": ["easy", "hard"]}, "count": 3}],
    }
    created = client.post(f"{API}/quizzes", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["source"] == "custom"
    assert client.post(f"{API}/quizzes", json=body, headers=headers).status_code == 409
    too_many = {
        **body,
        "slug": "etcd-drill-2",
        "draw": [{"where": {"section": "etcd"}, "count": 9}],
    }
    refused = client.post(f"{API}/quizzes", json=too_many, headers=headers)
    assert refused.status_code == 422 and "only 3 match" in str(refused.get_json())
    unknown = client.post(f"{API}/quizzes", json={**body, "colour": "red"}, headers=headers)
    assert unknown.status_code == 422
    assert client.post(f"{API}/quizzes", json=body, headers=learner[1]).status_code == 403


def test_trainer_reads_questions_banks_and_attempts(
    client: Any, make_quiz: Callable, trainer: Any, learner: Any, clock: Any
) -> None:
    make_quiz()
    learner_user, learner_headers = learner
    _, headers = trainer
    coach(client, headers, learner_user.email)
    attempt = start(client, learner_headers)
    questions = client.get(f"{API}/questions?section=etcd", headers=headers)
    assert questions.status_code == 200
    bodies = {q["id"]: q["body"] for q in questions.get_json()}
    assert set(bodies) == {"sample-single", "sample-true-false", "sample-numeric"}
    assert bodies["sample-numeric"]["answer"] == 2
    assert client.get(f"{API}/questions", headers=learner_headers).status_code == 403
    banks = client.get(f"{API}/banks", headers=headers).get_json()
    assert banks[0]["slug"] == "sample" and banks[0]["question_count"] == 7
    assert client.get(f"{API}/banks", headers=learner_headers).status_code == 403
    listed = client.get(
        f"{API}/attempts?quiz=sample-quiz&user={learner_user.id}", headers=headers
    ).get_json()
    assert [a["id"] for a in listed] == [attempt["id"]]
    # A trainer may read the learner's attempt but not answer for them.
    assert client.get(f"{API}/attempts/{attempt['id']}", headers=headers).status_code == 200
    assert answer(client, headers, attempt["id"], "sample-single", {"choice": "a"}).status_code == (
        404
    )


def test_blueprints_in_the_repository_import(db_session: Any) -> None:
    from app.cli.bank import default_content_paths

    content = load_content(default_content_paths())
    assert content.issues == []
    report = import_content(content)
    slugs = set(db_session.scalars(select(Quiz.slug)))
    assert "cka-architecture-mock-exam" in slugs
    assert {f"{s}-essentials" for s in ("etcd", "scheduler", "kubelet", "tips")} <= slugs
    assert report.counts["questions_added"] == len(content.questions)
    mock = db_session.scalar(select(Quiz).where(Quiz.slug == "cka-architecture-mock-exam"))
    assert mock.time_limit_minutes == 60 and sum(r["count"] for r in mock.draw) == 40
