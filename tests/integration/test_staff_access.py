"""Every staff route checks cohort ownership: a trainer reaches their own cohorts'
learners (attempts, reviews, lab sessions, kubeconfigs, node files and exec, grades,
accommodations, statistics rows) and gets 404 for everyone else's; admins reach all.

`LEARNER_ROUTES` is the table of API routes that touch one learner's work or account;
`NOT_LEARNER_SCOPED` lists the rest. A new route in neither makes
`test_every_api_route_is_classified` fail, so no route can be left unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from tests.builders import CORRECT
from tests.fixtures.app import assert_json_error, bearer
from tests.fixtures.quizzes import ManualClock, take
from tests.fixtures.web import Side, _ended_session

API = "/api/v1"


def _side(client: Any, make_user: Callable, clock: ManualClock, name: str) -> Side:
    _, trainer_token = make_user("trainer", email=f"coach-{name}@example.test")
    trainer = bearer(trainer_token)
    learner, learner_token = make_user("learner", email=f"{name}@example.test")
    cohort = client.post(f"{API}/cohorts", json={"name": name}, headers=trainer).get_json()
    client.post(
        f"{API}/cohorts/{cohort['id']}/members", json={"emails": [learner.email]}, headers=trainer
    )
    attempt = take(client, bearer(learner_token), CORRECT, clock)
    session_id, grade_id = _ended_session(learner.id)
    return Side(
        trainer,
        cohort["id"],
        learner.id,
        bearer(learner_token),
        attempt["id"],
        session_id,
        grade_id,
    )


@pytest.fixture
def sides(client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock) -> Any:
    make_quiz()
    return _side(client, make_user, clock, "ada"), _side(client, make_user, clock, "bob")


# (method, rule, path from a Side, JSON body, statuses the owning trainer may get)
LEARNER_ROUTES: list[tuple[str, str, Callable[[Side], str], Any, set[int]]] = [
    ("GET", "/attempts/<int:attempt_id>", lambda s: f"/attempts/{s.attempt_id}", None, {200}),
    (
        "GET",
        "/attempts/<int:attempt_id>/review",
        lambda s: f"/attempts/{s.attempt_id}/review",
        None,
        {200},
    ),
    (
        "PUT",
        "/users/<int:user_id>/accommodation",
        lambda s: f"/users/{s.learner_id}/accommodation",
        {"accommodation": 1.25},
        {200},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>",
        lambda s: f"/lab-sessions/{s.session_id}",
        None,
        {200},
    ),
    (
        "DELETE",
        "/lab-sessions/<int:session_id>",
        lambda s: f"/lab-sessions/{s.session_id}",
        None,
        {200},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>/kubeconfig",
        lambda s: f"/lab-sessions/{s.session_id}/kubeconfig",
        None,
        {409},
    ),
    (
        # The browser terminal's WebSocket URL, opened here without the upgrade.
        "GET",
        "/lab-sessions/<int:session_id>/terminal",
        lambda s: f"/lab-sessions/{s.session_id}/terminal",
        None,
        {409},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>/nodes",
        lambda s: f"/lab-sessions/{s.session_id}/nodes",
        None,
        {200},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>/nodes/<node>/files",
        lambda s: f"/lab-sessions/{s.session_id}/nodes/controlplane/files?path=/etc/hosts",
        None,
        {409},
    ),
    (
        "PUT",
        "/lab-sessions/<int:session_id>/nodes/<node>/files",
        lambda s: f"/lab-sessions/{s.session_id}/nodes/controlplane/files?path=/tmp/x",
        {"content": "x"},
        {409},
    ),
    (
        "POST",
        "/lab-sessions/<int:session_id>/nodes/<node>/exec",
        lambda s: f"/lab-sessions/{s.session_id}/nodes/controlplane/exec",
        {"command": "crictl ps"},
        {409},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>/grades",
        lambda s: f"/lab-sessions/{s.session_id}/grades",
        None,
        {200},
    ),
    (
        "POST",
        "/lab-sessions/<int:session_id>/grades",
        lambda s: f"/lab-sessions/{s.session_id}/grades",
        None,
        {409},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>/grades/<int:grade_id>",
        lambda s: f"/lab-sessions/{s.session_id}/grades/{s.grade_id}",
        None,
        {200},
    ),
    (
        "GET",
        "/lab-sessions/<int:session_id>/grades/<int:grade_id>/events",
        lambda s: f"/lab-sessions/{s.session_id}/grades/{s.grade_id}/events",
        None,
        {200},
    ),
    ("GET", "/cohorts/<int:cohort_id>", lambda s: f"/cohorts/{s.cohort_id}", None, {200}),
    (
        "PATCH",
        "/cohorts/<int:cohort_id>",
        lambda s: f"/cohorts/{s.cohort_id}",
        {"name": "Renamed"},
        {200},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/members",
        lambda s: f"/cohorts/{s.cohort_id}/members",
        {"emails": ["nobody@example.test"]},
        {200},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/members/csv",
        lambda s: f"/cohorts/{s.cohort_id}/members/csv",
        "csv:email\nnobody@example.test\n",
        {200},
    ),
    (
        "DELETE",
        "/cohorts/<int:cohort_id>/members/<int:user_id>",
        lambda s: f"/cohorts/{s.cohort_id}/members/{s.learner_id}",
        None,
        {204},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/learners",
        lambda s: f"/cohorts/{s.cohort_id}/learners",
        {"email": "new-learner@example.test"},
        {201},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/assignments",
        lambda s: f"/cohorts/{s.cohort_id}/assignments",
        {"kind": "quiz", "slug": "sample-quiz"},
        {201},
    ),
    (
        "DELETE",
        "/cohorts/<int:cohort_id>/assignments/<int:assignment_id>",
        lambda s: f"/cohorts/{s.cohort_id}/assignments/999999",
        None,
        {404},  # no such assignment: the owner is told so, a stranger the same
    ),
    (
        "GET",
        "/cohorts/<int:cohort_id>/progress",
        lambda s: f"/cohorts/{s.cohort_id}/progress",
        None,
        {200},
    ),
    (
        "GET",
        "/cohorts/<int:cohort_id>/gradebook",
        lambda s: f"/cohorts/{s.cohort_id}/gradebook",
        None,
        {200},
    ),
    (
        "GET",
        "/cohorts/<int:cohort_id>/statements",
        lambda s: f"/cohorts/{s.cohort_id}/statements",
        None,
        {200},
    ),
    (
        "PUT",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>/due-dates/<int:assignment_id>",
        lambda s: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}/due-dates/999999",
        {"due_at": "2026-04-01T00:00:00+00:00"},
        {404},  # no such assignment: the owner is told so, a stranger the same
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>/extra-attempts",
        lambda s: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}/extra-attempts",
        {"quiz": "sample-quiz", "extra": 1},
        {200},
    ),
]

# Routes that read or change no learner's work, or that only admins reach.
NOT_LEARNER_SCOPED = {
    ("POST", "/auth/token"),
    ("DELETE", "/auth/token"),
    ("GET", "/me"),
    ("GET", "/me/progress"),
    ("GET", "/me/assignments"),
    ("GET", "/banks"),
    ("GET", "/questions"),
    ("GET", "/quizzes"),
    ("POST", "/quizzes"),
    ("GET", "/quizzes/<slug>"),
    ("POST", "/quizzes/<slug>/attempts"),
    ("PUT", "/attempts/<int:attempt_id>/responses/<question_id>"),  # the learner's own only
    ("POST", "/attempts/<int:attempt_id>/submit"),  # the learner's own only
    ("GET", "/labs"),
    ("GET", "/labs/<slug>"),
    ("POST", "/labs/<slug>/sessions"),
    ("GET", "/cohorts"),
    ("POST", "/cohorts"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/<int:user_id>"),
    ("PATCH", "/users/<int:user_id>"),
    ("DELETE", "/users/<int:user_id>/tokens"),
    ("GET", "/exams"),
    ("GET", "/exams/<slug>"),
    ("POST", "/exams/<slug>/attempts"),  # starts the caller's own attempt
}
# A learner's mock-exam attempts: owner only, their trainer may read and grade within
# the cohort; each route's access (other learner 404, foreign trainer 404, owner only for
# the terminal and exec) is tested in tests/integration/exams/.
EXAM_ATTEMPT_ROUTES = {
    ("GET", "/exam-attempts"),
    ("GET", "/exam-attempts/<int:attempt_id>"),
    ("GET", "/exam-attempts/<int:attempt_id>/grades/<int:grade_id>"),
    ("GET", "/exam-attempts/<int:attempt_id>/kubeconfig"),
    ("GET", "/exam-attempts/<int:attempt_id>/result"),
    ("GET", "/exam-attempts/<int:attempt_id>/terminal"),
    ("POST", "/exam-attempts/<int:attempt_id>/exec"),
    ("POST", "/exam-attempts/<int:attempt_id>/grades"),
    ("POST", "/exam-attempts/<int:attempt_id>/submit"),
}
# Listings and aggregates: filtered to the caller's learners (tested below).
FILTERED = {
    ("GET", "/attempts"),
    ("GET", "/lab-sessions"),
    ("GET", "/quizzes/<slug>/statistics"),
    ("GET", "/labs/<slug>/statistics"),
}


def _api_rules(app: Any) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method, rule.rule[len(API) :]))
    return found


def test_every_api_route_is_classified(app: Any) -> None:
    table = {(method, rule) for method, rule, *_ in LEARNER_ROUTES}
    classified = table | NOT_LEARNER_SCOPED | FILTERED | EXAM_ATTEMPT_ROUTES
    assert not table & NOT_LEARNER_SCOPED
    unclassified = _api_rules(app) - classified
    assert not unclassified, f"staff access not decided for {sorted(unclassified)}"
    assert not classified - _api_rules(app), "the table names routes that do not exist"


def _call(client: Any, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if isinstance(body, str) and body.startswith("csv:"):
        return client.open(
            API + path,
            method=method,
            data=body[4:],
            headers={**headers, "Content-Type": "text/csv"},
        )
    return client.open(API + path, method=method, json=body, headers=headers)


@pytest.mark.parametrize(
    ("method", "rule", "path", "body", "allowed"),
    LEARNER_ROUTES,
    ids=[f"{m} {r}" for m, r, *_ in LEARNER_ROUTES],
)
def test_trainer_of_another_cohort_gets_404(
    client: Any, sides: Any, method: str, rule: str, path: Callable, body: Any, allowed: set[int]
) -> None:
    mine, theirs = sides
    stranger = _call(client, method, path(theirs), body, mine.trainer)
    assert_json_error(stranger, 404)
    own = _call(client, method, path(mine), body, mine.trainer)
    assert own.status_code in allowed, own.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "rule", "path", "body", "allowed"),
    LEARNER_ROUTES,
    ids=[f"{m} {r}" for m, r, *_ in LEARNER_ROUTES],
)
def test_admin_reaches_every_cohort(
    client: Any,
    sides: Any,
    make_user: Callable,
    method: str,
    rule: str,
    path: Callable,
    body: Any,
    allowed: set[int],
) -> None:
    _, token = make_user("admin")
    _, theirs = sides
    response = _call(client, method, path(theirs), body, bearer(token))
    assert response.status_code in allowed, response.get_data(as_text=True)


def test_listings_and_statistics_hold_only_the_trainers_learners(
    client: Any, sides: Any, make_user: Callable
) -> None:
    mine, theirs = sides
    attempts = client.get(f"{API}/attempts", headers=mine.trainer).get_json()
    assert [a["id"] for a in attempts] == [mine.attempt_id]
    assert client.get(f"{API}/attempts?user={theirs.learner_id}", headers=mine.trainer).json == []
    sessions = client.get(f"{API}/lab-sessions", headers=mine.trainer).get_json()
    assert [s["id"] for s in sessions] == [mine.session_id]
    stats = client.get(f"{API}/quizzes/sample-quiz/statistics", headers=mine.trainer).get_json()
    assert stats["attempts"] == 1
    labs = client.get(f"{API}/labs/fix-scheduler/statistics", headers=mine.trainer).get_json()
    assert labs["learners"] == 1 and labs["grades"] == 1
    # An admin counts both cohorts.
    _, admin_token = make_user("admin")
    admin = bearer(admin_token)
    assert client.get(f"{API}/quizzes/sample-quiz/statistics", headers=admin).json["attempts"] == 2
    assert len(client.get(f"{API}/attempts", headers=admin).get_json()) == 2


def test_a_learner_removed_from_the_cohort_is_out_of_reach(client: Any, sides: Any) -> None:
    mine, _ = sides
    removed = client.delete(
        f"{API}/cohorts/{mine.cohort_id}/members/{mine.learner_id}", headers=mine.trainer
    )
    assert removed.status_code == 204
    assert_json_error(client.get(f"{API}/attempts/{mine.attempt_id}", headers=mine.trainer), 404)
    assert_json_error(
        client.delete(f"{API}/lab-sessions/{mine.session_id}", headers=mine.trainer), 404
    )


def test_trainer_cannot_set_a_trainers_or_admins_accommodation(
    client: Any, sides: Any, make_user: Callable
) -> None:
    mine, _ = sides
    admin, _ = make_user("admin")
    other_trainer, _ = make_user("trainer", email="another-coach@example.test")
    # Even added to the trainer's cohort, staff accounts are not the trainer's learners.
    report = client.post(
        f"{API}/cohorts/{mine.cohort_id}/members",
        json={"emails": [admin.email, other_trainer.email]},
        headers=mine.trainer,
    ).get_json()
    assert report["added"] == [] and sorted(report["refused"]) == sorted(
        [admin.email, other_trainer.email]
    )
    for account in (admin, other_trainer):
        assert_json_error(
            client.put(
                f"{API}/users/{account.id}/accommodation",
                json={"accommodation": 3},
                headers=mine.trainer,
            ),
            404,
        )
    db.session.expire_all()
    assert db.session.get(type(admin), admin.id).accommodation == 1.0
    # The refused changes left no trace in the staff action log.
    from app.models.staff import StaffAction

    logged = db.session.scalars(
        db.select(StaffAction).where(StaffAction.action == "set accommodation")
    ).all()
    assert logged == []
    done = client.put(
        f"{API}/users/{mine.learner_id}/accommodation",
        json={"accommodation": 1.5},
        headers=mine.trainer,
    )
    assert done.status_code == 200
    logged = db.session.scalars(
        db.select(StaffAction).where(StaffAction.action == "set accommodation")
    ).all()
    assert [(a.learner_id, a.details) for a in logged] == [
        (mine.learner_id, {"accommodation": 1.5})
    ]


def test_learner_still_reaches_only_their_own(client: Any, sides: Any) -> None:
    mine, theirs = sides
    assert client.get(f"{API}/attempts/{mine.attempt_id}", headers=mine.learner).status_code == 200
    assert_json_error(client.get(f"{API}/attempts/{theirs.attempt_id}", headers=mine.learner), 404)
    assert_json_error(
        client.get(f"{API}/lab-sessions/{theirs.session_id}", headers=mine.learner), 404
    )


def test_admin_password_reset_revokes_live_tokens(client: Any, make_user: Callable) -> None:
    _, admin_token = make_user("admin")
    user, token = make_user("learner")
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
    reset = client.patch(
        f"{API}/users/{user.id}",
        json={"password": "a-brand-new-secret"},
        headers=bearer(admin_token),
    )
    assert reset.status_code == 200
    assert_json_error(client.get(f"{API}/me", headers=bearer(token)), 401)
    login = client.post(
        f"{API}/auth/token", json={"email": user.email, "password": "a-brand-new-secret"}
    )
    assert login.status_code in (200, 201), login.get_data(as_text=True)
