"""The timed attempt engine over REST with a controllable clock: autosave, resume,
deadlines with accommodations, expiry policies, scoring, idempotent submit, review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.models.attempt import Attempt
from app.models.job import Job
from app.services import attempts as attempts_service
from tests.builders import CORRECT, WRONG
from tests.fixtures.quizzes import API, START, ManualClock, answer, answer_all, coach, start


def submit(client: Any, headers: dict, attempt_id: int, status: int = 200) -> dict:
    response = client.post(f"{API}/attempts/{attempt_id}/submit", headers=headers)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_autosave_and_resume(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    clock.advance(minutes=5)
    saved = answer(client, headers, attempt["id"], "sample-numeric", {"value": 2})
    assert saved.status_code == 200
    assert saved.get_json()["remaining_seconds"] == 15 * 60
    # Overwrite, as autosave does on every change.
    answer(client, headers, attempt["id"], "sample-single", {"choice": "b"})
    answer(client, headers, attempt["id"], "sample-single", {"choice": "a"})
    clock.advance(minutes=2)
    resumed = client.get(f"{API}/attempts/{attempt['id']}", headers=headers).get_json()
    responses = {i["question_id"]: i["response"] for i in resumed["items"]}
    assert responses["sample-numeric"] == {"value": 2}
    assert responses["sample-single"] == {"choice": "a"}
    assert responses["sample-ordering"] is None
    assert resumed["remaining_seconds"] == 13 * 60 and resumed["accepting_responses"] is True


@pytest.mark.parametrize(
    ("qid", "response"),
    [
        ("sample-single", {"choice": "zz"}),
        ("sample-single", {"choices": ["a"]}),
        ("sample-numeric", {"value": "2"}),
        ("sample-true-false", {"value": "yes"}),
        ("sample-matching", {"matches": {"p1": "nope"}}),
        ("sample-ordering", {"order": ["authn", "authn"]}),
        ("sample-short", {"text": 5}),
    ],
)
def test_response_shape_is_validated(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock, qid: str, response: dict
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    refused = answer(client, headers, attempt["id"], qid, response)
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["errors"]


def test_unknown_question_and_body_shape(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    assert answer(client, headers, attempt["id"], "not-in-it", {"value": 1}).status_code == 404
    raw = client.put(
        f"{API}/attempts/{attempt['id']}/responses/sample-single",
        json={"choice": "a"},
        headers=headers,
    )
    assert raw.status_code == 422


def test_learner_cannot_see_another_learners_attempt(
    client: Any, make_quiz: Callable, make_user: Callable, auth_headers: Callable, clock: Any
) -> None:
    make_quiz()
    _, own = make_user("learner")
    _, other = make_user("learner")
    attempt = start(client, auth_headers(own))
    headers = auth_headers(other)
    aid = attempt["id"]
    assert client.get(f"{API}/attempts/{aid}", headers=headers).status_code == 404
    assert client.get(f"{API}/attempts/{aid}/review", headers=headers).status_code == 404
    assert client.post(f"{API}/attempts/{aid}/submit", headers=headers).status_code == 404
    assert answer(client, headers, aid, "sample-single", {"choice": "a"}).status_code == 404
    assert client.get(f"{API}/attempts", headers=headers).get_json() == []
    assert client.get(f"{API}/attempts/999999", headers=headers).status_code == 404


def test_scoring_every_type_and_breakdown(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz(pass_mark=50)
    _, headers = learner
    attempt = start(client, headers)
    half = {**CORRECT, **{k: WRONG[k] for k in ("sample-single", "sample-numeric")}}
    half["sample-multiple"] = {"choices": ["a", "b"]}  # 1/2 right - 1/1 wrong -> 0
    half["sample-ordering"] = {"order": ["authz", "authn", "admit", "persist"]}  # 2 of 3 pairs
    answer_all(client, headers, attempt, half)
    result = submit(client, headers, attempt["id"])
    assert result["status"] == "submitted" and result["close_reason"] == "submitted"
    expected = 0 + 0 + 1 + 2 / 3 + 1 + 1 + 0
    assert result["result"]["score"] == pytest.approx(expected, abs=1e-3)
    assert result["result"]["max_score"] == 7
    assert result["result"]["passed"] is True
    review = client.get(f"{API}/attempts/{attempt['id']}/review", headers=headers).get_json()
    assert review["domains"]["Troubleshooting"] == {"score": 0.0, "max_score": 1.0, "percent": 0.0}
    assert review["topics"]["request-flow"]["percent"] == pytest.approx(66.67)
    by_id = {i["question_id"]: i for i in review["items"]}
    assert by_id["sample-true-false"]["correct"] is True
    assert by_id["sample-ordering"]["correct"] is False
    # The review cites the documentation a question rests on, where the bank names it.
    assert by_id["sample-single"]["source"] == "https://etcd.io/docs/v3.5/faq/"
    assert "source" not in by_id["sample-multiple"]


def test_submit_is_idempotent(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    answer_all(client, headers, attempt, CORRECT)
    first = submit(client, headers, attempt["id"])
    clock.advance(minutes=1)
    second = submit(client, headers, attempt["id"])
    assert first["result"] == second["result"] and first["submitted_at"] == second["submitted_at"]
    late = answer(client, headers, attempt["id"], "sample-single", {"choice": "b"})
    assert late.status_code == 409 and late.get_json()["errors"]["reason"] == ["closed"]


def test_deadline_refuses_responses_with_the_reason(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz(expiry_policy="grace", grace_minutes=5)
    _, headers = learner
    attempt = start(client, headers)
    clock.advance(minutes=19, seconds=59)
    assert answer(client, headers, attempt["id"], "sample-single", {"choice": "a"}).status_code == (
        200
    )
    clock.advance(seconds=1)
    late = answer(client, headers, attempt["id"], "sample-numeric", {"value": 2})
    assert late.status_code == 409
    body = late.get_json()
    assert body["errors"]["reason"] == ["deadline_passed"]
    assert "deadline" in body["message"]
    # Grace: no more answers, but the learner may still submit.
    clock.advance(minutes=4)
    result = submit(client, headers, attempt["id"])
    assert result["status"] == "submitted" and result["result"]["score"] == 1.0


def test_accommodation_extends_the_deadline(
    client: Any, make_quiz: Callable, learner: Any, trainer: Any, clock: ManualClock
) -> None:
    make_quiz()
    user, headers = learner
    _, trainer_headers = trainer
    coach(client, trainer_headers, user.email)
    set_it = client.put(
        f"{API}/users/{user.id}/accommodation", json={"accommodation": 1.5}, headers=trainer_headers
    )
    assert set_it.status_code == 200 and set_it.get_json()["accommodation"] == 1.5
    assert (
        client.put(
            f"{API}/users/{user.id}/accommodation", json={"accommodation": 2}, headers=headers
        ).status_code
        == 403
    )
    attempt = start(client, headers)
    assert attempt["deadline_at"] == (START + timedelta(minutes=30)).isoformat()
    clock.advance(minutes=25)
    assert answer(client, headers, attempt["id"], "sample-single", {"choice": "a"}).status_code == (
        200
    )
    clock.advance(minutes=5)
    assert answer(client, headers, attempt["id"], "sample-single", {"choice": "a"}).status_code == (
        409
    )


def test_accommodation_set_mid_attempt_re_times_it(
    client: Any, make_quiz: Callable, learner: Any, trainer: Any, clock: ManualClock
) -> None:
    make_quiz()
    user, headers = learner
    coach(client, trainer[1], user.email)
    attempt = start(client, headers)
    clock.advance(minutes=10)
    client.put(
        f"{API}/users/{user.id}/accommodation", json={"accommodation": 2}, headers=trainer[1]
    )
    resumed = client.get(f"{API}/attempts/{attempt['id']}", headers=headers).get_json()
    assert resumed["deadline_at"] == (START + timedelta(minutes=40)).isoformat()
    assert resumed["remaining_seconds"] == 30 * 60


def test_quiz_close_time_caps_the_deadline(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz(close_at=START + timedelta(minutes=8))
    _, headers = learner
    attempt = start(client, headers)
    assert attempt["deadline_at"] == (START + timedelta(minutes=8)).isoformat()
    assert attempt["remaining_seconds"] == 8 * 60


def test_autosubmit_policy_scores_saved_responses_at_the_deadline(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz(expiry_policy="autosubmit")
    _, headers = learner
    attempt = start(client, headers)
    answer(client, headers, attempt["id"], "sample-true-false", {"value": True})
    answer(client, headers, attempt["id"], "sample-numeric", {"value": 2})
    clock.advance(minutes=21)
    # The sweeper closes it (the expiry job would do the same, see below).
    assert attempts_service.sweep_expired_attempts() == [attempt["id"]]
    closed = client.get(f"{API}/attempts/{attempt['id']}", headers=headers).get_json()
    assert closed["status"] == "submitted" and closed["close_reason"] == "deadline"
    assert closed["submitted_at"] == closed["deadline_at"]
    assert closed["result"]["score"] == 2.0
    # Submitting afterwards returns the same result.
    assert submit(client, headers, attempt["id"])["result"] == closed["result"]


def test_abandon_policy(client: Any, make_quiz: Callable, learner: Any, clock: ManualClock) -> None:
    make_quiz(expiry_policy="abandon")
    _, headers = learner
    attempt = start(client, headers)
    answer_all(client, headers, attempt, CORRECT)
    clock.advance(minutes=20)
    refused = submit(client, headers, attempt["id"], status=409)
    assert refused["errors"]["reason"] == ["abandoned"]
    closed = client.get(f"{API}/attempts/{attempt['id']}", headers=headers).get_json()
    assert closed["status"] == "abandoned" and closed["result"] is None
    standing = client.get(f"{API}/quizzes/sample-quiz", headers=headers).get_json()["standing"]
    assert standing == {
        "attempts_used": 1,
        "attempts_left": 2,
        "result_percent": None,
        "passed": None,
    }
    assert client.get(f"{API}/attempts/{attempt['id']}/review", headers=headers).status_code == 409


def test_grace_policy_abandons_after_the_grace_period(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock
) -> None:
    make_quiz(expiry_policy="grace", grace_minutes=3)
    _, headers = learner
    attempt = start(client, headers)
    clock.advance(minutes=22)
    assert attempts_service.sweep_expired_attempts() == []  # still in grace
    clock.advance(minutes=1)
    assert attempts_service.sweep_expired_attempts() == [attempt["id"]]
    assert submit(client, headers, attempt["id"], status=409)["errors"]["reason"] == ["abandoned"]


def test_expiry_job_is_enqueued_and_closes_when_due(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock, db_session: Any
) -> None:
    from app.tasks.quizzes import expire_attempt

    make_quiz()
    _, headers = learner
    attempt = start(client, headers)
    row = db_session.get(Attempt, attempt["id"])
    job = db_session.get(Job, int(row.expiry_job_id))
    assert job.task_name == attempts_service.EXPIRE_TASK and job.args == [attempt["id"]]
    with pytest.raises(attempts_service.AttemptNotDue):
        expire_attempt.body(attempt["id"])
    clock.advance(minutes=20)
    assert expire_attempt.body(attempt["id"]) == {
        "attempt_id": attempt["id"],
        "status": "submitted",
    }
    # A second delivery changes nothing.
    assert expire_attempt.body(attempt["id"])["status"] == "submitted"


@pytest.mark.parametrize(
    ("policy", "after", "level_fields"),
    [
        ("score_only", "submit", None),
        ("correctness", "submit", {"correct", "score"}),
        ("answers", "submit", {"correct", "answer"}),
        ("explanations", "submit", {"correct", "answer", "explanation"}),
    ],
)
def test_review_policies(
    client: Any,
    make_quiz: Callable,
    learner: Any,
    clock: ManualClock,
    policy: str,
    after: str,
    level_fields: set[str] | None,
) -> None:
    make_quiz(review_policy=policy, review_after=after)
    _, headers = learner
    attempt = start(client, headers)
    assert client.get(f"{API}/attempts/{attempt['id']}/review", headers=headers).status_code == 409
    submit(client, headers, attempt["id"])
    review = client.get(f"{API}/attempts/{attempt['id']}/review", headers=headers).get_json()
    assert review["level"] == policy and review["max_score"] == 7
    if level_fields is None:
        assert review["items"] == []
    else:
        item = review["items"][0]
        assert level_fields <= set(item)
        hidden = {"answer", "explanation"} - level_fields
        if "explanation" not in level_fields:
            hidden.add("option_feedback")
        assert not hidden & set(item)


def test_review_after_close_shows_the_score_until_the_quiz_closes(
    client: Any, make_quiz: Callable, learner: Any, trainer: Any, clock: ManualClock
) -> None:
    make_quiz(review_after="close", close_at=START + timedelta(hours=2))
    user, headers = learner
    coach(client, trainer[1], user.email)
    attempt = start(client, headers)
    answer_all(client, headers, attempt, CORRECT)
    submit(client, headers, attempt["id"])
    url = f"{API}/attempts/{attempt['id']}/review"
    early = client.get(url, headers=headers).get_json()
    assert early["level"] == "score_only" and early["items"] == [] and early["percent"] == 100.0
    # Trainers always see everything.
    assert client.get(url, headers=trainer[1]).get_json()["level"] == "explanations"
    clock.advance(hours=2)
    late = client.get(url, headers=headers).get_json()
    assert late["level"] == "explanations" and late["items"][0]["explanation"].startswith("SECRET")


def test_trainer_lists_attempts_by_quiz_and_user(
    client: Any,
    make_quiz: Callable,
    make_user: Callable,
    auth_headers: Callable,
    trainer: Any,
    clock: ManualClock,
    db_session: Any,
) -> None:
    make_quiz()
    make_quiz("other-quiz")
    one, one_token = make_user("learner")
    two, two_token = make_user("learner")
    a1 = start(client, auth_headers(one_token))
    start(client, auth_headers(one_token), slug="other-quiz")
    a3 = start(client, auth_headers(two_token))
    headers = trainer[1]
    # A trainer lists their cohorts' learners only: `three` is in nobody's cohort.
    _, three_token = make_user("learner")
    start(client, auth_headers(three_token))
    coach(client, headers, one.email, two.email)
    by_quiz = client.get(f"{API}/attempts?quiz=sample-quiz", headers=headers).get_json()
    assert {a["id"] for a in by_quiz} == {a1["id"], a3["id"]}
    by_user = client.get(f"{API}/attempts?user={two.id}", headers=headers).get_json()
    assert [a["id"] for a in by_user] == [a3["id"]]
    own = client.get(f"{API}/attempts", headers=auth_headers(one_token)).get_json()
    assert {a["user_id"] for a in own} == {one.id}
    assert db_session.scalar(select(Attempt).where(Attempt.id == a1["id"])).number == 1


@pytest.mark.redis
def test_real_worker_closes_the_attempt_when_it_expires(celery_worker: Any, tmp_path: Any) -> None:
    from app.clock import CLOCK_CONFIG_KEY
    from app.extensions import db
    from app.models.quiz import Quiz, QuizSource
    from app.services.users import create_user
    from tests.builders import QUIZ_DEFAULTS, import_bank
    from tests.fixtures.worker import wait_for_job

    worker_clock = ManualClock(START)
    celery_worker.app.config[CLOCK_CONFIG_KEY] = worker_clock
    import_bank(tmp_path)
    db.session.add(Quiz(slug="sample-quiz", source=QuizSource.BLUEPRINT, **QUIZ_DEFAULTS))
    db.session.commit()
    user = create_user("worker-learner@example.test", "learner", "correct-horse-battery", 1.0)
    attempt, _ = attempts_service.start_attempt(user, "sample-quiz")
    job_id = int(attempt.expiry_job_id)
    # The job was published at start; once the clock passes the deadline, its next check
    # closes the attempt by the autosubmit policy.
    worker_clock.advance(minutes=21)
    job = wait_for_job(job_id)
    assert job.status.value == "done", job.last_error
    assert job.result == {"attempt_id": attempt.id, "status": "submitted"}
    db.session.rollback()
    closed = db.session.get(Attempt, attempt.id, populate_existing=True)
    assert closed.close_reason.value == "deadline" and closed.score == 0.0
