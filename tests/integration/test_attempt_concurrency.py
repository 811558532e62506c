"""Concurrent submits and submit-versus-autosave races, with real threads, on SQLite and
on PostgreSQL.

Each test runs twice, on its own SQLite file and on its own throw-away PostgreSQL
database, whatever `CERTPREP_TEST_DB` says: PostgreSQL serializes an attempt's writers
with row locks, SQLite (which has none) with `BEGIN IMMEDIATE`, and both are proved here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.models.attempt import Attempt, AttemptItem
from app.models.quiz import Quiz, QuizSource
from tests.builders import CORRECT, QUIZ_DEFAULTS, WRONG, import_bank
from tests.fixtures.app import bearer, delete_all_rows
from tests.fixtures.concurrency import run_together
from tests.fixtures.quizzes import API

pytestmark = pytest.mark.reliability

THREADS = 8
# The autosave-versus-submit race: 30 autosaves and a submit at once, this many times.
RACE_AUTOSAVES = 30
RACE_ROUNDS = 25
# Learners who each start the same quiz four times at once.
START_ROUNDS = 10


@pytest.fixture
def quiz_and_learner(race_app: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A clean database with the sample bank, a quiz over it and a learner's headers."""
    from app.extensions import db
    from app.services.auth import issue_token
    from app.services.users import create_user

    delete_all_rows(race_app)
    with race_app.app_context():
        import_bank(tmp_path)
        db.session.add(Quiz(slug="sample-quiz", source=QuizSource.BLUEPRINT, **QUIZ_DEFAULTS))
        race = {**QUIZ_DEFAULTS, "attempts_allowed": RACE_ROUNDS + 1}
        db.session.add(Quiz(slug="race-quiz", source=QuizSource.BLUEPRINT, **race))
        db.session.commit()
        user = create_user("racer@example.test", "learner", "correct-horse-battery", 1.0)
        token = issue_token(user, label="test").token
        db.session.remove()
    yield bearer(token)


def test_concurrent_submits_score_once(race_app: Any, quiz_and_learner: dict[str, str]) -> None:
    from app.extensions import db

    headers = quiz_and_learner
    client = race_app.test_client()
    attempt = client.post(f"{API}/quizzes/sample-quiz/attempts", headers=headers).get_json()
    for item in attempt["items"]:
        client.put(
            f"{API}/attempts/{attempt['id']}/responses/{item['question_id']}",
            json={"response": CORRECT[item["question_id"]]},
            headers=headers,
        )
    with race_app.app_context():
        version_before = db.session.get(Attempt, attempt["id"]).version

    def submit() -> tuple[int, Any]:
        response = race_app.test_client().post(
            f"{API}/attempts/{attempt['id']}/submit", headers=headers
        )
        return response.status_code, response.get_json()

    results = run_together([submit] * THREADS)
    assert {status for status, _ in results} == {200}
    assert len({(body["submitted_at"], body["result"]["score"]) for _, body in results}) == 1
    assert results[0][1]["result"]["score"] == 7.0
    with race_app.app_context():
        # Scored exactly once: one UPDATE of the attempt row bumped its version.
        assert db.session.get(Attempt, attempt["id"]).version == version_before + 1


def test_submit_racing_autosaves_never_loses_a_response(
    race_app: Any, quiz_and_learner: dict[str, str]
) -> None:
    from app.extensions import db

    headers = quiz_and_learner
    client = race_app.test_client()
    attempt = client.post(f"{API}/quizzes/sample-quiz/attempts", headers=headers).get_json()
    qids = [item["question_id"] for item in attempt["items"]]

    def save(qid: str) -> Callable[[], tuple[str, int]]:
        def call() -> tuple[str, int]:
            response = race_app.test_client().put(
                f"{API}/attempts/{attempt['id']}/responses/{qid}",
                json={"response": CORRECT[qid]},
                headers=headers,
            )
            return qid, response.status_code

        return call

    def submit() -> tuple[str, int]:
        response = race_app.test_client().post(
            f"{API}/attempts/{attempt['id']}/submit", headers=headers
        )
        return "submit", response.status_code

    results = run_together([save(qid) for qid in qids] + [submit])
    statuses = dict(results)
    assert statuses.pop("submit") == 200
    accepted = {qid for qid, status in statuses.items() if status == 200}
    assert set(statuses.values()) <= {200, 409}

    with race_app.app_context():
        row = db.session.get(Attempt, attempt["id"])
        items = {
            i.question_uid: i
            for i in db.session.scalars(
                select(AttemptItem).where(AttemptItem.attempt_id == attempt["id"])
            )
        }
        # Every accepted autosave was scored (each is worth one point when right) and no
        # refused one slipped in after scoring.
        assert row.score == float(len(accepted))
        assert {uid for uid, item in items.items() if item.response is not None} == accepted
        assert all(items[uid].score == 1.0 for uid in accepted)


def test_concurrent_starts_make_one_attempt(
    race_app: Any, quiz_and_learner: dict[str, str]
) -> None:
    """Four starts at once, by each of `START_ROUNDS` learners: one attempt each."""
    from app.extensions import db
    from app.services.auth import issue_token
    from app.services.users import create_user

    learners = [quiz_and_learner]
    with race_app.app_context():
        for n in range(START_ROUNDS - 1):
            user = create_user(f"starter{n}@example.test", "learner", "correct-horse-battery", 1.0)
            learners.append(bearer(issue_token(user, label="test").token))
        db.session.remove()

    for headers in learners:

        def begin(headers: dict[str, str] = headers) -> int:
            response = race_app.test_client().post(
                f"{API}/quizzes/sample-quiz/attempts", headers=headers
            )
            return response.status_code

        statuses = run_together([begin] * 4)
        assert set(statuses) <= {200, 201, 409}
        assert 201 in statuses
    with race_app.app_context():
        attempts = db.session.scalars(select(Attempt)).all()
        per_learner = Counter(attempt.user_id for attempt in attempts)
        assert sorted(per_learner.values()) == [1] * START_ROUNDS


def test_the_scored_response_is_the_stored_one_under_30_autosaves(
    race_app: Any, quiz_and_learner: dict[str, str]
) -> None:
    """30 autosaves (right and wrong answers alternating) race one submit, 25 times: in
    every round each item's stored response is exactly the one its score was computed
    from, and no autosave was accepted after scoring."""
    from app.extensions import db
    from app.services.scoring import score_response

    headers = quiz_and_learner
    client = race_app.test_client()
    mismatches = []
    for round_number in range(RACE_ROUNDS):
        attempt = client.post(f"{API}/quizzes/race-quiz/attempts", headers=headers).get_json()
        qids = [item["question_id"] for item in attempt["items"]]

        def save(index: int, attempt_id: int = attempt["id"], qids: list[str] = qids) -> Any:
            qid = qids[index % len(qids)]
            answer = (CORRECT if (index // len(qids)) % 2 == 0 else WRONG)[qid]
            response = race_app.test_client().put(
                f"{API}/attempts/{attempt_id}/responses/{qid}",
                json={"response": answer},
                headers=headers,
            )
            return response.status_code

        def submit(attempt_id: int = attempt["id"]) -> Any:
            response = race_app.test_client().post(
                f"{API}/attempts/{attempt_id}/submit", headers=headers
            )
            return response.status_code

        calls = [lambda i=i: save(i) for i in range(RACE_AUTOSAVES)]
        calls.insert(RACE_AUTOSAVES // 2, submit)
        statuses = run_together(calls)
        assert set(statuses) <= {200, 409}, statuses
        with race_app.app_context():
            row = db.session.get(Attempt, attempt["id"])
            assert row.status.value == "submitted"
            total = 0.0
            for item in db.session.scalars(
                select(AttemptItem).where(AttemptItem.attempt_id == attempt["id"])
            ):
                question = item.question
                expected = round(
                    score_response(question.type, question.body, item.response) * item.max_score,
                    4,
                )
                total += expected
                if item.score != expected:
                    mismatches.append((round_number, item.question_uid, item.score, expected))
            if abs(row.score - total) > 1e-6:
                mismatches.append((round_number, "total"))
            db.session.remove()
    assert mismatches == []
