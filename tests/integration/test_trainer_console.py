"""The trainer console over the test client: every dashboard route answers 404 to a
trainer of another cohort (a table over the blueprint's routes, so a new route cannot
be left unchecked), the forms need CSRF and confirmation, each action lands in the
staff action log; invitations, extra attempts and the readiness rule."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from app.models.staff import StaffAction
from app.services import progress
from tests.builders import CORRECT
from tests.fixtures.app import DEFAULT_PASSWORD, assert_json_error, bearer
from tests.fixtures.quizzes import API, ManualClock, start, take
from tests.fixtures.web import Side, _ended_session, csrf_of, log_in

FORM_OK = (200, 302)


@pytest.fixture
def two_cohorts(app: Any, client: Any, make_user: Callable, make_quiz: Callable, clock: Any):
    """Two trainers, each with a cohort of one learner who took the quiz and did a lab;
    returns (mine, theirs, my logged-in browser)."""
    make_quiz(attempts_allowed=1)
    sides = []
    for name in ("ada", "bob"):
        _, trainer_token = make_user("trainer", email=f"coach-{name}@example.test")
        trainer = bearer(trainer_token)
        learner, learner_token = make_user("learner", email=f"{name}@example.test")
        cohort = client.post(f"{API}/cohorts", json={"name": name}, headers=trainer).get_json()
        client.post(
            f"{API}/cohorts/{cohort['id']}/members",
            json={"emails": [learner.email]},
            headers=trainer,
        )
        client.post(
            f"{API}/cohorts/{cohort['id']}/assignments",
            json={"kind": "quiz", "slug": "sample-quiz"},
            headers=trainer,
        )
        attempt = take(client, bearer(learner_token), CORRECT, clock)
        session_id, grade_id = _ended_session(learner.id)
        sides.append(
            Side(
                trainer,
                cohort["id"],
                learner.id,
                bearer(learner_token),
                attempt["id"],
                session_id,
                grade_id,
            )
        )
    browser = app.test_client()
    assert log_in(browser, "coach-ada@example.test").status_code == 302
    return sides[0], sides[1], browser


def _assignment_id(client: Any, side: Side) -> int:
    cohort = client.get(f"{API}/cohorts/{side.cohort_id}", headers=side.trainer).get_json()
    return cohort["assignments"][0]["id"]


# (method, rule, path from a Side and its assignment id, form)
PAGES: list[tuple[str, str, Callable[[Side, int], str], dict[str, str]]] = [
    ("GET", "/cohorts/<int:cohort_id>", lambda s, a: f"/cohorts/{s.cohort_id}", {}),
    (
        "GET",
        "/cohorts/<int:cohort_id>/gradebook.csv",
        lambda s, a: f"/cohorts/{s.cohort_id}/gradebook.csv",
        {},
    ),
    (
        "GET",
        "/cohorts/<int:cohort_id>/progress.csv",
        lambda s, a: f"/cohorts/{s.cohort_id}/progress.csv",
        {},
    ),
    ("GET", "/cohorts/<int:cohort_id>/manage", lambda s, a: f"/cohorts/{s.cohort_id}/manage", {}),
    (
        "POST",
        "/cohorts/<int:cohort_id>/assignments",
        lambda s, a: f"/cohorts/{s.cohort_id}/assignments",
        {"work": "quiz:sample-quiz", "due_at": "2026-04-01T12:00"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/assignments/<int:assignment_id>/due",
        lambda s, a: f"/cohorts/{s.cohort_id}/assignments/{a}/due",
        {"due_at": "2026-04-02T12:00"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/assignments/<int:assignment_id>/delete",
        lambda s, a: f"/cohorts/{s.cohort_id}/assignments/{a}/delete",
        {"confirm": "yes"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/members",
        lambda s, a: f"/cohorts/{s.cohort_id}/members",
        {"emails": "nobody@example.test"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/members/<int:member_id>/delete",
        lambda s, a: f"/cohorts/{s.cohort_id}/members/{s.learner_id}/delete",
        {"confirm": "yes"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/learners",
        lambda s, a: f"/cohorts/{s.cohort_id}/learners",
        {"email": "fresh@example.test"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/rename",
        lambda s, a: f"/cohorts/{s.cohort_id}/rename",
        {"name": "Renamed"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/archive",
        lambda s, a: f"/cohorts/{s.cohort_id}/archive",
        {"archived": "yes", "confirm": "yes"},
    ),
    (
        "GET",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>",
        lambda s, a: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}",
        {},
    ),
    (
        "GET",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>/attempts/<int:attempt_id>",
        lambda s, a: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}/attempts/{s.attempt_id}",
        {},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>/accommodation",
        lambda s, a: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}/accommodation",
        {"accommodation": "1.5"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>/due-date",
        lambda s, a: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}/due-date",
        {"assignment": "{a}", "due_at": "2026-04-09T10:00"},
    ),
    (
        "POST",
        "/cohorts/<int:cohort_id>/learners/<int:user_id>/extra-attempts",
        lambda s, a: f"/cohorts/{s.cohort_id}/learners/{s.learner_id}/extra-attempts",
        {"quiz": "sample-quiz", "extra": "1"},
    ),
    (
        "GET",
        "/quizzes/<slug>/statistics",
        lambda s, a: f"/quizzes/sample-quiz/statistics?cohort_id={s.cohort_id}",
        {},
    ),
    (
        "GET",
        "/quizzes/<slug>/statistics.csv",
        lambda s, a: f"/quizzes/sample-quiz/statistics.csv?cohort_id={s.cohort_id}",
        {},
    ),
    (
        "GET",
        "/labs/<slug>/statistics",
        lambda s, a: f"/labs/fix-scheduler/statistics?cohort_id={s.cohort_id}",
        {},
    ),
]
# Dashboard routes that touch no cohort or learner of anyone else.
OPEN_PAGES = {
    ("GET", "/static/<path:filename>"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/"),
    ("POST", "/cohorts"),
    ("GET", "/me"),
    ("GET", "/invitations/<token>"),
    ("POST", "/invitations/<token>"),
}


def test_every_dashboard_route_is_classified(app: Any) -> None:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("web."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found.add((method, rule.rule[len("/dashboard") :]))
    table = {(m, r) for m, r, *_ in PAGES}
    assert not (found - table - OPEN_PAGES), sorted(found - table - OPEN_PAGES)
    assert not (table | OPEN_PAGES) - found


@pytest.mark.parametrize(
    ("method", "rule", "path", "form"), PAGES, ids=[f"{m} {r}" for m, r, *_ in PAGES]
)
def test_dashboard_route_is_404_for_another_cohort(
    client: Any, two_cohorts: Any, method: str, rule: str, path: Callable, form: dict
) -> None:
    mine, theirs, browser = two_cohorts
    token = csrf_of(browser, "/dashboard/")
    url = "/dashboard" + path(theirs, _assignment_id(client, theirs))

    def filled(side: Side) -> dict[str, str] | None:
        if method != "POST":
            return None
        assignment = str(_assignment_id(client, side))
        return {
            **{k: v.replace("{a}", assignment) for k, v in form.items()},
            "csrf_token": token,
        }

    assert browser.open(url, method=method, data=filled(theirs)).status_code == 404
    own = "/dashboard" + path(mine, _assignment_id(client, mine))
    mine_response = browser.open(own, method=method, data=filled(mine))
    assert mine_response.status_code in FORM_OK, mine_response.get_data(as_text=True)[:500]
    # The other cohort is untouched by whatever the stranger posted.
    cohort = client.get(f"{API}/cohorts/{theirs.cohort_id}", headers=theirs.trainer).get_json()
    assert cohort["name"] == "bob" and not cohort["archived"]
    assert [m["id"] for m in cohort["members"]] == [theirs.learner_id]


def test_forms_need_csrf_and_destructive_ones_a_confirmation(client: Any, two_cohorts: Any) -> None:
    mine, _, browser = two_cohorts
    assignment = _assignment_id(client, mine)
    base = f"/dashboard/cohorts/{mine.cohort_id}"
    assert browser.post(f"{base}/rename", data={"name": "Forged"}).status_code == 400
    token = csrf_of(browser, "/dashboard/")
    unconfirmed = browser.post(
        f"{base}/assignments/{assignment}/delete", data={"csrf_token": token}
    )
    assert unconfirmed.status_code == 302
    page = browser.get(f"{base}/manage").get_data(as_text=True)
    assert "Tick the confirmation box" in page and 'data-slug="sample-quiz"' in page
    removed = browser.post(f"{base}/members/{mine.learner_id}/delete", data={"csrf_token": token})
    assert removed.status_code == 302
    cohort = client.get(f"{API}/cohorts/{mine.cohort_id}", headers=mine.trainer).get_json()
    assert [m["id"] for m in cohort["members"]] == [mine.learner_id]


def test_every_action_is_in_the_staff_action_log(client: Any, two_cohorts: Any) -> None:
    mine, _, browser = two_cohorts
    token = csrf_of(browser, "/dashboard/")
    base = f"/dashboard/cohorts/{mine.cohort_id}"
    assignment = _assignment_id(client, mine)
    posts = [
        ("/assignments/{a}/due", {"due_at": "2026-05-01T09:30"}),
        (f"/learners/{mine.learner_id}/accommodation", {"accommodation": "1.25"}),
        (f"/learners/{mine.learner_id}/extra-attempts", {"quiz": "sample-quiz", "extra": "2"}),
        ("/rename", {"name": "Spring cohort"}),
        ("/learners", {"email": "newbie@example.test", "password": "long-enough-pw"}),
        ("/assignments/{a}/delete", {"confirm": "yes"}),
        ("/archive", {"archived": "yes", "confirm": "yes"}),
    ]
    for path, form in posts:
        response = browser.post(
            base + path.format(a=assignment), data={**form, "csrf_token": token}
        )
        assert response.status_code in FORM_OK, (path, response.get_data(as_text=True)[:300])
    db.session.expire_all()
    logged = [
        a.action
        for a in db.session.scalars(
            db.select(StaffAction)
            .where(StaffAction.cohort_id == mine.cohort_id)
            .order_by(StaffAction.id)
        )
    ]
    for action in (
        "changed due date",
        "set accommodation",
        "granted extra attempt",
        "renamed cohort",
        "created learner",
        "unassigned",
        "archived cohort",
    ):
        assert action in logged, (action, logged)
    page = browser.get(f"{base}/manage").get_data(as_text=True)
    assert "granted extra attempt" in page and "2026-05-01 09:30 UTC" in page
    learner_page = browser.get(f"{base}/learners/{mine.learner_id}").get_data(as_text=True)
    assert "set accommodation" in learner_page


def test_extra_attempt_lets_the_learner_start_again(
    client: Any, two_cohorts: Any, clock: ManualClock
) -> None:
    mine, _, _ = two_cohorts
    # The quiz allows one attempt, which the learner used.
    refused = client.post(f"{API}/quizzes/sample-quiz/attempts", headers=mine.learner)
    assert_json_error(refused, 409)
    granted = client.post(
        f"{API}/cohorts/{mine.cohort_id}/learners/{mine.learner_id}/extra-attempts",
        json={"quiz": "sample-quiz"},
        headers=mine.trainer,
    )
    assert granted.get_json() == {"quiz": "sample-quiz", "extra_attempts": 1, "attempts_allowed": 2}
    standing = client.get(f"{API}/quizzes/sample-quiz", headers=mine.learner).get_json()
    assert standing["standing"]["attempts_left"] == 1
    start(client, mine.learner)
    assert_json_error(
        client.post(
            f"{API}/cohorts/{mine.cohort_id}/learners/{mine.learner_id}/extra-attempts",
            json={"quiz": "sample-quiz", "extra": 0},
            headers=mine.trainer,
        ),
        422,
    )


def test_trainer_creates_learners_and_invitations_only(
    app: Any, client: Any, two_cohorts: Any, make_user: Callable
) -> None:
    mine, _, _ = two_cohorts
    url = f"{API}/cohorts/{mine.cohort_id}/learners"
    with_password = client.post(
        url,
        json={"email": "Direct@Example.test", "password": "long-enough-pw"},
        headers=mine.trainer,
    )
    assert with_password.status_code == 201
    assert with_password.get_json()["role"] == "learner"
    assert with_password.get_json()["invitation_url"] is None
    # No way to ask for another role.
    assert_json_error(
        client.post(
            url, json={"email": "boss@example.test", "role": "admin"}, headers=mine.trainer
        ),
        422,
    )
    assert_json_error(
        client.post(url, json={"email": "direct@example.test"}, headers=mine.trainer), 409
    )
    invited = client.post(url, json={"email": "invited@example.test"}, headers=mine.trainer)
    link = invited.get_json()["invitation_url"]
    assert invited.status_code == 201 and "/dashboard/invitations/inv_" in link
    cohort = client.get(f"{API}/cohorts/{mine.cohort_id}", headers=mine.trainer).get_json()
    assert {"direct@example.test", "invited@example.test"} <= {
        m["email"] for m in cohort["members"]
    }

    # The invitation sets a password once.
    path = link[link.index("/dashboard/") :]
    browser = app.test_client()
    form = browser.get(path)
    assert form.status_code == 200 and "invited@example.test" in form.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    short = browser.post(path, data={"password": "short", "csrf_token": token})
    assert short.status_code == 422
    done = browser.post(path, data={"password": "invited-secret-1", "csrf_token": token})
    assert done.status_code == 302
    assert browser.get(path).status_code == 404  # spent
    login = client.post(
        f"{API}/auth/token", json={"email": "invited@example.test", "password": "invited-secret-1"}
    )
    assert login.status_code in (200, 201)
    assert log_in(app.test_client(), "direct@example.test", "long-enough-pw").status_code == 302
    assert DEFAULT_PASSWORD  # the fixture accounts keep theirs


def test_readiness_needs_evidence_in_every_domain() -> None:
    def domains(evidence: int, names: tuple[str, ...] = progress.CKA_DOMAINS) -> dict:
        return {
            n: {"score": 1, "max_score": 1, "percent": 100.0, "evidence": evidence} for n in names
        }

    assert progress.readiness_status(None, {}) == "no results"
    # High score on two domains: not enough evidence.
    two = domains(10, progress.CKA_DOMAINS[:2])
    assert progress.readiness_status(95.0, two) == "not enough evidence"
    assert progress.missing_domains(two) == list(progress.CKA_DOMAINS[2:])
    # Every domain, but one below the minimum.
    thin = domains(progress.MIN_DOMAIN_EVIDENCE)
    thin["Storage"]["evidence"] = progress.MIN_DOMAIN_EVIDENCE - 1
    assert progress.readiness_status(95.0, thin) == "not enough evidence"
    full = domains(progress.MIN_DOMAIN_EVIDENCE)
    assert progress.readiness_status(66.0, full) == "ready"
    assert progress.readiness_status(65.9, full) == "not ready"


def test_gradebook_csv_has_one_column_per_assignment(client: Any, two_cohorts: Any) -> None:
    mine, _, browser = two_cohorts
    client.post(
        f"{API}/cohorts/{mine.cohort_id}/assignments",
        json={"kind": "lab", "slug": "fix-scheduler"},
        headers=mine.trainer,
    )
    text = client.get(f"{API}/cohorts/{mine.cohort_id}/gradebook", headers=mine.trainer)
    assert text.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text.get_data(as_text=True))))
    assert list(rows[0])[:3] == ["email", "quiz:sample-quiz", "lab:fix-scheduler"]
    assert rows[0]["email"] == "ada@example.test"
    assert rows[0]["quiz:sample-quiz"] == "100" and rows[0]["lab:fix-scheduler"] == "50"
    assert rows[0]["readiness_status"] == "not enough evidence"
    page = browser.get(f"/dashboard/cohorts/{mine.cohort_id}/gradebook.csv")
    assert page.get_data(as_text=True) == text.get_data(as_text=True)


def test_gradebook_sorts_and_filters(
    app: Any, client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    from tests.builders import WRONG

    make_quiz()
    _, trainer_token = make_user("trainer", email="coach@example.test")
    trainer = bearer(trainer_token)
    cohort = client.post(f"{API}/cohorts", json={"name": "Sorted"}, headers=trainer).get_json()
    emails = []
    for name, key in (("amy", WRONG), ("ben", CORRECT), ("cat", None)):
        user, token = make_user("learner", email=f"{name}@example.test")
        emails.append(user.email)
        if key is not None:
            take(client, bearer(token), key, clock)
    client.post(f"{API}/cohorts/{cohort['id']}/members", json={"emails": emails}, headers=trainer)
    client.post(
        f"{API}/cohorts/{cohort['id']}/assignments",
        json={"kind": "quiz", "slug": "sample-quiz", "due_at": "2026-03-01T00:00:00+00:00"},
        headers=trainer,
    )
    browser = app.test_client()
    log_in(browser, "coach@example.test")
    base = f"/dashboard/cohorts/{cohort['id']}"

    def order(query: str) -> list[str]:
        html = browser.get(base + query).get_data(as_text=True)
        return re.findall(r'<tr data-email="([^"]+)"', html)

    assert order("") == ["amy@example.test", "ben@example.test", "cat@example.test"]
    assert order("?sort=readiness&dir=desc") == [
        "ben@example.test",
        "amy@example.test",
        "cat@example.test",
    ]
    html = browser.get(base + "?sort=readiness&dir=desc").get_data(as_text=True)
    assert 'aria-sort="descending"' in html
    # cat never submitted the quiz, due on 1 March: overdue (the clock is at 2 March).
    assert order("?overdue=1") == ["cat@example.test"]
    assert order("?not_ready=1") == emails
    # Everyone was active within the last day but cat, who never was.
    assert order("?inactive_days=1") == ["cat@example.test"]


def test_due_date_extended_for_one_learner(
    client: Any, two_cohorts: Any, make_quiz: Callable, make_user: Callable
) -> None:
    mine, theirs, browser = two_cohorts
    make_quiz("other-quiz")
    friend, friend_token = make_user("learner", email="friend@example.test")
    client.post(
        f"{API}/cohorts/{mine.cohort_id}/members",
        json={"emails": [friend.email]},
        headers=mine.trainer,
    )
    assigned = client.post(
        f"{API}/cohorts/{mine.cohort_id}/assignments",
        json={"kind": "quiz", "slug": "other-quiz", "due_at": "2026-03-01T00:00:00+00:00"},
        headers=mine.trainer,
    ).get_json()

    def overdue(email: str) -> bool:
        report = client.get(
            f"{API}/cohorts/{mine.cohort_id}/progress", headers=mine.trainer
        ).get_json()
        row = next(r for r in report["learners"] if r["email"] == email)
        return next(a for a in row["assignments"] if a["slug"] == "other-quiz")["overdue"]

    assert overdue("ada@example.test") and overdue("friend@example.test")
    url = f"{API}/cohorts/{mine.cohort_id}/learners/{mine.learner_id}/due-dates/{assigned['id']}"
    assert_json_error(
        client.put(url, json={"due_at": "2026-03-10T12:00:00+00:00"}, headers=theirs.trainer), 404
    )
    done = client.put(url, json={"due_at": "2026-03-10T12:00:00+00:00"}, headers=mine.trainer)
    assert done.status_code == 204
    assert not overdue("ada@example.test") and overdue("friend@example.test")
    own = client.get(f"{API}/me/assignments", headers=mine.learner).get_json()
    assert next(a for a in own if a["slug"] == "other-quiz")["due_at"].startswith(
        "2026-03-10T12:00"
    )
    theirs_view = client.get(f"{API}/me/assignments", headers=bearer(friend_token)).get_json()
    assert next(a for a in theirs_view if a["slug"] == "other-quiz")["due_at"].startswith(
        "2026-03-01"
    )
    # From the learner page: back to the cohort's date with an empty field.
    token = csrf_of(browser, "/dashboard/")
    page_url = f"/dashboard/cohorts/{mine.cohort_id}/learners/{mine.learner_id}"
    reset = browser.post(
        f"{page_url}/due-date",
        data={"assignment": str(assigned["id"]), "due_at": "", "csrf_token": token},
    )
    assert reset.status_code == 302 and overdue("ada@example.test")
    html = browser.get(page_url).get_data(as_text=True)
    assert "removed due date extension" in html and "extended due date" in html


@pytest.mark.reliability
def test_hostile_ids_in_pages_are_not_found_never_500(client: Any, two_cohorts: Any) -> None:
    """Ids past what an INTEGER column holds, in a query string or a form field, are
    "not found" (the database is never asked about them)."""
    mine, _, browser = two_cohorts
    huge = "9" * 40
    page = browser.get(f"/dashboard/quizzes/sample-quiz/statistics?cohort_id={huge}")
    assert page.status_code == 404
    assert browser.get("/dashboard/quizzes/sample-quiz/statistics?cohort_id=-1").status_code == 404
    token = csrf_of(browser, "/dashboard/")
    posted = browser.post(
        f"/dashboard/cohorts/{mine.cohort_id}/learners/{mine.learner_id}/due-date",
        data={"assignment": huge, "due_at": "2026-04-09T10:00", "csrf_token": token},
    )
    assert posted.status_code < 500
