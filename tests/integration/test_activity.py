"""The activity log: attempt events recorded in the attempt's transactions, and their
export as xAPI statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.models.activity import ActivityEvent
from tests.builders import CORRECT
from tests.fixtures.app import bearer
from tests.fixtures.quizzes import API, START, ManualClock, answer, start, take


def events(db_session: Any) -> list[tuple[str, str | None, float | None]]:
    db_session.expire_all()
    rows = db_session.scalars(select(ActivityEvent).order_by(ActivityEvent.id))
    return [(e.verb.value, (e.details or {}).get("question_id"), e.percent) for e in rows]


def test_attempt_events_are_recorded(
    client: Any, db_session: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    make_quiz()
    make_quiz("abandon-quiz", expiry_policy="abandon")
    _, token = make_user("learner")
    headers = bearer(token)
    attempt = start(client, headers)
    answer(client, headers, attempt["id"], "sample-single", CORRECT["sample-single"])
    # A refused answer records nothing.
    assert (
        answer(client, headers, attempt["id"], "sample-single", {"choice": "zz"}).status_code == 422
    )
    client.post(f"{API}/attempts/{attempt['id']}/submit", headers=headers)
    # Submitting again is idempotent and records nothing more.
    client.post(f"{API}/attempts/{attempt['id']}/submit", headers=headers)
    assert events(db_session) == [
        ("started", None, None),
        ("answered", "sample-single", None),
        ("submitted", None, None),
        ("graded", None, 14.29),
    ]

    expiring = start(client, headers, slug="abandon-quiz")
    clock.advance(minutes=21)
    client.get(f"{API}/attempts/{expiring['id']}", headers=headers)
    assert events(db_session)[-2:] == [("started", None, None), ("expired", None, None)]
    event = db_session.scalars(select(ActivityEvent).order_by(ActivityEvent.id.desc())).first()
    assert event.object_slug == "abandon-quiz" and event.subject_id == expiring["id"]


def test_autosubmit_at_deadline_records_expired_and_graded(
    client: Any, db_session: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    make_quiz()
    _, token = make_user("learner")
    attempt = start(client, bearer(token))
    clock.advance(minutes=25)
    client.get(f"{API}/attempts/{attempt['id']}", headers=bearer(token))
    assert events(db_session) == [
        ("started", None, None),
        ("expired", None, None),
        ("graded", None, 0.0),
    ]


def test_statements_export(
    client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    make_quiz()
    learner, token = make_user("learner", email="ada@example.test")
    _, outsider_token = make_user("learner")
    _, trainer_token = make_user("trainer")
    trainer = bearer(trainer_token)
    cohort = client.post(f"{API}/cohorts", json={"name": "Spring"}, headers=trainer).get_json()
    client.post(
        f"{API}/cohorts/{cohort['id']}/members", json={"emails": [learner.email]}, headers=trainer
    )
    take(client, bearer(token), CORRECT, clock, minutes=10)
    start(client, bearer(outsider_token))  # not a member: not exported

    url = f"{API}/cohorts/{cohort['id']}/statements"
    result = client.get(url, headers=trainer).get_json()
    statements = result["statements"]
    assert result["more"] == ""
    verbs = [s["verb"]["display"]["en-US"] for s in statements]
    assert verbs == ["attempted", *["answered"] * 7, "completed", "passed"]
    first, last = statements[0], statements[-1]
    assert first["actor"] == {"objectType": "Agent", "mbox": "mailto:ada@example.test"}
    assert first["verb"]["id"] == "http://adlnet.gov/expapi/verbs/attempted"
    assert first["object"]["id"] == "http://localhost/quizzes/sample-quiz"
    assert first["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/assessment"
    assert first["timestamp"] == START.isoformat()
    assert statements[1]["object"]["definition"]["type"] == (
        "http://adlnet.gov/expapi/activities/cmi.interaction"
    )
    assert last["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed"
    assert last["result"] == {
        "score": {"scaled": 1.0, "raw": 100.0, "min": 0, "max": 100},
        "success": True,
        "completion": True,
    }
    assert last["context"]["contextActivities"]["grouping"][0]["id"].endswith(
        f"/cohorts/{cohort['id']}"
    )
    # Same ids on every export; `since` filters.
    again = client.get(url, headers=trainer).get_json()["statements"]
    assert [s["id"] for s in again] == [s["id"] for s in statements]
    assert len({s["id"] for s in statements}) == len(statements)
    # Pages of three follow `more` to the same statements.
    paged, next_url = [], f"{url}?limit=3"
    while next_url:
        page = client.get(next_url, headers=trainer).get_json()
        assert len(page["statements"]) <= 3
        paged.extend(page["statements"])
        next_url = page["more"]
    assert [s["id"] for s in paged] == [s["id"] for s in statements]
    later = client.get(f"{url}?since=2026-03-02T09:05:00%2B00:00", headers=trainer)
    assert [s["verb"]["display"]["en-US"] for s in later.get_json()["statements"]] == [
        "completed",
        "passed",
    ]
