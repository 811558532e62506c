"""Quizzes over REST: listing, custom quizzes, starting attempts, the trainer views.

Also home of the quiz fixtures the other attempt test modules import: a sample bank with
one question of every type, `make_quiz(...)`, and a controllable `clock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.banks.validator import load_content
from app.clock import CLOCK_CONFIG_KEY
from app.models.quiz import Quiz, QuizSource
from app.services.banks import import_content

API = "/api/v1"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

SAMPLE_BANK = """\
spec: certprep/questions/v1
bank: sample
title: Sample bank
questions:
  - id: sample-single
    version: 1
    type: single
    difficulty: easy
    domain: Cluster Architecture
    section: etcd
    topic: etcd-quorum
    seed_section: "etcd / Raft"
    stem: Which member accepts writes in a Raft cluster?
    options:
      - {id: a, text: The leader, correct: true, why: SECRET-WHY-LEADER}
      - {id: b, text: Any follower, correct: false, why: SECRET-WHY-FOLLOWER}
      - {id: c, text: The oldest member, correct: false, why: SECRET-WHY-OLDEST}
    explanation: SECRET-EXPLANATION-SINGLE
  - id: sample-multiple
    version: 1
    type: multiple
    difficulty: medium
    domain: Cluster Architecture
    section: apiserver
    topic: admission
    seed_section: "API Server / Request flow"
    stem: Which stages run before a write reaches etcd?
    negative_marking: true
    options:
      - {id: a, text: Authentication, correct: true, why: SECRET-WHY-AUTHN}
      - {id: b, text: Scheduling, correct: false, why: SECRET-WHY-SCHED}
      - {id: c, text: Admission, correct: true, why: SECRET-WHY-ADMIT}
    explanation: SECRET-EXPLANATION-MULTIPLE
  - id: sample-true-false
    version: 1
    type: true_false
    difficulty: easy
    domain: Cluster Architecture
    section: etcd
    topic: etcd-access
    seed_section: "etcd / Access"
    stem: Only the API server talks to etcd.
    answer: true
    explanation: SECRET-EXPLANATION-TF
  - id: sample-ordering
    version: 1
    type: ordering
    difficulty: medium
    domain: Cluster Architecture
    section: apiserver
    topic: request-flow
    seed_section: "API Server / Request flow"
    stem: Put the request stages in order.
    items:
      - {id: authn, text: Authentication}
      - {id: authz, text: Authorization}
      - {id: admit, text: Admission}
      - {id: persist, text: Persist to etcd}
    explanation: SECRET-EXPLANATION-ORDERING
  - id: sample-matching
    version: 1
    type: matching
    difficulty: medium
    domain: Workloads & Scheduling
    section: scheduler
    topic: plugins
    seed_section: "Scheduler / Plugins"
    stem: Match each plugin to what it checks.
    prompts:
      - {id: p1, text: TaintToleration, match: c1}
      - {id: p2, text: NodeResourcesFit, match: c2}
    choices:
      - {id: c1, text: Taints on the node}
      - {id: c2, text: Free CPU and memory}
      - {id: c3, text: Image locality}
    explanation: SECRET-EXPLANATION-MATCHING
  - id: sample-short
    version: 1
    type: short_answer
    difficulty: easy
    domain: Workloads & Scheduling
    section: scheduler
    topic: binding
    seed_section: "Scheduler / Bind"
    stem: Which component sets spec.nodeName for a normal pod?
    accept: [kube-scheduler]
    accept_regex: ["(the )?kube-scheduler( process)?"]
    explanation: SECRET-EXPLANATION-SHORT
  - id: sample-numeric
    version: 1
    type: numeric
    difficulty: hard
    domain: Troubleshooting
    section: etcd
    topic: etcd-quorum
    seed_section: "etcd / Raft"
    stem: How many members of a 5-member etcd cluster may fail?
    answer: 2
    tolerance: 0
    unit: members
    explanation: SECRET-EXPLANATION-NUMERIC
"""

# A fully correct response per question.
CORRECT = {
    "sample-single": {"choice": "a"},
    "sample-multiple": {"choices": ["a", "c"]},
    "sample-true-false": {"value": True},
    "sample-ordering": {"order": ["authn", "authz", "admit", "persist"]},
    "sample-matching": {"matches": {"p1": "c1", "p2": "c2"}},
    "sample-short": {"text": "Kube-Scheduler"},
    "sample-numeric": {"value": 2},
}
WRONG = {
    "sample-single": {"choice": "b"},
    "sample-multiple": {"choices": ["b"]},
    "sample-true-false": {"value": False},
    "sample-ordering": {"order": ["persist", "admit", "authz", "authn"]},
    "sample-matching": {"matches": {"p1": "c3", "p2": "c3"}},
    "sample-short": {"text": "kubelet"},
    "sample-numeric": {"value": 3},
}

QUIZ_DEFAULTS: dict[str, Any] = {
    "title": "Sample quiz",
    "description": "",
    "time_limit_minutes": 20,
    "pass_mark": 60,
    "attempts_allowed": 3,
    "grading_method": "highest",
    "shuffle_questions": True,
    "shuffle_options": True,
    "expiry_policy": "autosubmit",
    "grace_minutes": 0,
    "review_policy": "explanations",
    "review_after": "submit",
    "close_at": None,
    "draw": [{"where": {"bank": ["sample"]}, "count": 7}],
}


class ManualClock:
    """A clock tests move by hand; the app reads it through `CERTPREP_CLOCK`."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def clock(app: Any) -> Iterator[ManualClock]:
    manual = ManualClock(START)
    app.config[CLOCK_CONFIG_KEY] = manual
    yield manual
    app.config.pop(CLOCK_CONFIG_KEY, None)


def import_bank(directory: Path, text: str = SAMPLE_BANK, name: str = "sample.yaml") -> Any:
    """Write `text` as a bank file under `directory` and import it; returns the report."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    content = load_content([directory / name])
    assert content.issues == [], content.issues
    return import_content(content)


@pytest.fixture
def sample_bank(db_session: Any, tmp_path: Path) -> Path:
    """The sample bank imported; returns its folder."""
    import_bank(tmp_path / "bank")
    return tmp_path / "bank"


@pytest.fixture
def make_quiz(sample_bank: Path) -> Callable[..., Quiz]:
    """Factory: `make_quiz(slug="sample-quiz", **settings)` adds a quiz over the sample bank."""
    from app.extensions import db

    def factory(slug: str = "sample-quiz", **overrides: Any) -> Quiz:
        quiz = Quiz(
            slug=slug,
            source=QuizSource.BLUEPRINT,
            **{**QUIZ_DEFAULTS, **overrides},
        )
        db.session.add(quiz)
        db.session.commit()
        return quiz

    return factory


@pytest.fixture
def learner(make_user: Callable[..., Any], auth_headers: Callable[[str], dict]) -> Any:
    """A learner account: `(user, headers)`."""
    user, token = make_user("learner")
    return user, auth_headers(token)


@pytest.fixture
def trainer(make_user: Callable[..., Any], auth_headers: Callable[[str], dict]) -> Any:
    user, token = make_user("trainer")
    return user, auth_headers(token)


def coach(client: Any, trainer_headers: dict, *emails: str, name: str = "Coached") -> int:
    """Put the learners `emails` in a new cohort of the trainer (trainers reach their
    cohorts' learners only); returns the cohort id."""
    cohort = client.post(f"{API}/cohorts", json={"name": name}, headers=trainer_headers)
    assert cohort.status_code == 201, cohort.get_json()
    cohort_id = cohort.get_json()["id"]
    added = client.post(
        f"{API}/cohorts/{cohort_id}/members", json={"emails": list(emails)}, headers=trainer_headers
    )
    assert sorted(added.get_json()["added"]) == sorted(e.lower() for e in emails)
    return cohort_id


def start(client: Any, headers: dict, slug: str = "sample-quiz", status: int = 201) -> dict:
    """POST an attempt start and check the status; returns the JSON body."""
    response = client.post(f"{API}/quizzes/{slug}/attempts", headers=headers)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def answer(client: Any, headers: dict, attempt_id: int, qid: str, response: Any) -> Any:
    return client.put(
        f"{API}/attempts/{attempt_id}/responses/{qid}", json={"response": response}, headers=headers
    )


def answer_all(client: Any, headers: dict, attempt: dict, key: dict[str, dict]) -> None:
    for item in attempt["items"]:
        saved = answer(
            client, headers, attempt["id"], item["question_id"], key[item["question_id"]]
        )
        assert saved.status_code == 200, saved.get_json()


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
