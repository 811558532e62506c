"""The trainer console in headless Chromium on the demo data (`certprep demo seed` on
the project's banks and labs): the gradebook fits a 1280 px screen with ten
assignments, sorts by readiness, and the browser forms assign work with a due date,
extend it and grant an extra attempt, checked through the learner's own API. A trainer
of another cohort gets 404 on every page and form. Screenshots of each page at 1280 and
390 px go to test-output/screenshots/ (git-ignored) for a reviewer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.cli.demo import DEMO_PASSWORD, DEMO_TRAINER, seed_demo
from app.config import PROJECT_ROOT
from app.extensions import db
from app.models.attempt import Attempt
from app.models.cohort import Cohort
from app.models.quiz import Quiz
from app.services import cohorts
from app.services.auth import issue_token
from app.services.users import create_user, find_user_by_email

pytestmark = pytest.mark.browser

SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
API = "/api/v1"
STRANGER = "other-coach@example.test"


@pytest.fixture
def demo(db_session: Any) -> dict[str, Any]:
    """The demo cohort on the project's banks and labs, with ten assignments."""
    from app.banks.validator import load_content
    from app.cli.bank import default_content_paths
    from app.services.banks import import_content

    content = load_content(default_content_paths())
    assert content.issues == []
    import_content(content, prune=True)
    seeded = seed_demo()
    trainer = find_user_by_email(DEMO_TRAINER)
    cohort = db.session.get(Cohort, seeded["cohort_id"])
    taken = {a.slug for a in cohort.assignments}
    extra = [
        q.slug
        for q in db.session.query(Quiz).order_by(Quiz.slug)
        if q.slug not in taken and q.slug.endswith("-essentials")
    ]
    due = datetime.now(UTC) + timedelta(days=14)
    missing = 10 - len(cohort.assignments)
    for slug in extra[: missing - 1]:
        cohorts.assign(trainer, cohort.id, "quiz", slug, due)
    # The tenth assignment is left for the browser to add.
    spare = extra[missing - 1]
    learner = cohorts.members(cohort)[0]
    create_user(STRANGER, "trainer", DEMO_PASSWORD)
    cohorts.create_cohort(find_user_by_email(STRANGER), "Someone else's cohort")
    learner_token = issue_token(learner, label="test").token
    return {
        "cohort_id": cohort.id,
        "learner_id": learner.id,
        "learner_token": learner_token,
        "spare_quiz": spare,
    }


def _log_in(browser: Any, base: str, email: str) -> Any:
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")
    return page


def _shoot(page: Any, name: str) -> None:
    """Full-page screenshots of the current page at 1280 and 390 px wide."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", WIDE), ("390", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        if label == "390":
            # Readable on a phone: the page itself never scrolls sideways (wide tables
            # scroll inside their own frame, learner column pinned).
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], name
    page.set_viewport_size(WIDE)


def _learner_api(page: Any, base: str, token: str, path: str) -> Any:
    response = page.request.get(f"{base}{API}{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.ok, response.text()
    return response.json()


def _readiness_order(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#gradebook tbody tr", "rows => rows.map(r => r.dataset.readiness)"
    )


def test_trainer_console_in_chromium(live_server: str, browser: Any, demo: dict) -> None:
    base = live_server
    cohort_url = f"{base}/dashboard/cohorts/{demo['cohort_id']}"
    page = _log_in(browser, base, DEMO_TRAINER)

    # The gradebook at 1280 x 900: ten assignment columns, no sideways scrolling, short.
    page.goto(cohort_url)
    assert page.locator("#gradebook thead th.work").count() == 9
    page.goto(f"{cohort_url}/manage")
    page.select_option("#work", value=f"quiz:{demo['spare_quiz']}")
    due = (datetime.now(UTC) + timedelta(days=5)).replace(second=0, microsecond=0)
    page.fill("#due_at", due.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Assign", exact=True).click()
    assert f"Assigned quiz {demo['spare_quiz']}" in page.locator(".messages").inner_text()
    assigned = _learner_api(page, base, demo["learner_token"], "/me/assignments")
    mine = next(a for a in assigned if a["slug"] == demo["spare_quiz"])
    assert datetime.fromisoformat(mine["due_at"]) == due
    _shoot(page, "manage")

    page.goto(cohort_url)
    assert page.locator("#gradebook thead th.work").count() == 10
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]
    frame = page.locator(".table-wrap").first
    widths = frame.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"gradebook scrolls sideways: {widths}"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, height
    assert page.locator("#gradebook tbody tr").count() == 12
    assert "12.2501" not in page.content()
    _shoot(page, "gradebook")

    # Sorting by readiness reorders the rows, highest first, and says so to assistive tech.
    before = _readiness_order(page)
    page.locator("#gradebook thead").get_by_role("link", name=re.compile("^Readiness")).click()
    page.wait_for_url("**sort=readiness**")
    after = _readiness_order(page)
    assert after != before and sorted(before) == sorted(after)
    numbers = [float(v) for v in after if v]
    assert numbers == sorted(numbers, reverse=True)
    header = page.locator("#gradebook thead th[aria-sort]")
    assert header.get_attribute("aria-sort") == "descending" and "Readiness" in header.inner_text()

    # Filters: not ready only.
    page.check("#f-not-ready")
    page.get_by_role("button", name="Filter").click()
    shown = page.locator("#gradebook tbody tr").count()
    assert 0 < shown <= 12
    assert (
        page.locator('#gradebook [data-col="status"]', has_text=re.compile("^ready$")).count() == 0
    )

    # Extend a due date from the management page.
    page.goto(f"{cohort_url}/manage")
    row = page.locator(f'#assignment-table tr[data-slug="{demo["spare_quiz"]}"]')
    later = due + timedelta(days=3)
    row.locator('input[type="datetime-local"]').fill(later.strftime("%Y-%m-%dT%H:%M"))
    row.get_by_role("button", name="Save due date").click()
    assert "Due date of" in page.locator(".messages").inner_text()
    assigned = _learner_api(page, base, demo["learner_token"], "/me/assignments")
    mine = next(a for a in assigned if a["slug"] == demo["spare_quiz"])
    assert datetime.fromisoformat(mine["due_at"]) == later
    assert "changed due date" in page.locator("#action-log").inner_text()

    # Grant an extra attempt from the learner's page; the learner sees one more left.
    learner_url = f"{cohort_url}/learners/{demo['learner_id']}"
    slug = "cka-architecture-mock-exam"
    left = _learner_api(page, base, demo["learner_token"], f"/quizzes/{slug}")["standing"]
    page.goto(learner_url)
    page.select_option("#extra-quiz", value=slug)
    page.get_by_role("button", name="Grant extra attempt").click()
    assert "attempts allowed" in page.locator(".messages").inner_text()
    now_left = _learner_api(page, base, demo["learner_token"], f"/quizzes/{slug}")["standing"]
    assert now_left["attempts_left"] == left["attempts_left"] + 1
    assert "granted extra attempt" in page.locator("#timeline").inner_text()
    _shoot(page, "learner")

    # An attempt's review with the learner's answers.
    page.locator("#attempt-table").get_by_role("link", name="answers").first.click()
    assert page.locator("#review-items li.review-item").count() > 5
    assert page.locator("#review-items .tag-ok", has_text="key").count() > 0
    _shoot(page, "review")

    # Item analysis and lab check statistics.
    page.goto(f"{base}/dashboard/quizzes/{slug}/statistics?cohort_id={demo['cohort_id']}")
    assert page.locator("#questions tbody tr").count() > 10
    assert page.locator("#questions .options li.key").count() > 0
    _shoot(page, "item-analysis")
    page.check("#f-flagged")
    page.get_by_role("button", name="Filter").click()
    flagged = int(page.locator("#stat-flagged").inner_text())
    assert page.locator("#questions tbody tr[data-question]").count() == flagged
    lab = (
        db.session.scalars(db.select(Cohort).where(Cohort.id == demo["cohort_id"]))
        .one()
        .assignments
    )
    lab_slug = next(a.slug for a in lab if a.kind.value == "lab")
    db.session.rollback()
    page.goto(f"{base}/dashboard/labs/{lab_slug}/statistics?cohort_id={demo['cohort_id']}")
    assert page.locator("#lab-checks tbody tr").count() > 0
    _shoot(page, "lab-checks")

    # A trainer of another cohort: 404 on every page and every form of this cohort.
    stranger = _log_in(browser, base, STRANGER)
    attempt_id = db.session.scalar(
        db.select(Attempt.id).where(
            Attempt.user_id == demo["learner_id"], Attempt.submitted_at.is_not(None)
        )
    )
    db.session.rollback()
    for path in (
        "",
        "/manage",
        "/gradebook.csv",
        "/progress.csv",
        f"/learners/{demo['learner_id']}",
        f"/learners/{demo['learner_id']}/attempts/{attempt_id}",
    ):
        response = stranger.goto(f"{cohort_url}{path}")
        assert response.status == 404, path
    stranger.goto(f"{base}/dashboard/")
    token = stranger.locator('input[name="csrf_token"]').first.get_attribute("value")
    for path, form in (
        ("/assignments", {"work": f"quiz:{slug}", "due_at": ""}),
        ("/assignments/1/due", {"due_at": ""}),
        ("/assignments/1/delete", {"confirm": "yes"}),
        ("/members", {"emails": "x@example.test"}),
        (f"/members/{demo['learner_id']}/delete", {"confirm": "yes"}),
        ("/learners", {"email": "new@example.test"}),
        ("/rename", {"name": "Mine now"}),
        ("/archive", {"archived": "yes", "confirm": "yes"}),
        (f"/learners/{demo['learner_id']}/accommodation", {"accommodation": "3"}),
        (f"/learners/{demo['learner_id']}/extra-attempts", {"quiz": slug, "extra": "5"}),
    ):
        response = stranger.request.post(
            f"{cohort_url}{path}", form={**form, "csrf_token": token}, max_redirects=0
        )
        assert response.status == 404, path
    # Nothing changed.
    again = _learner_api(page, base, demo["learner_token"], f"/quizzes/{slug}")["standing"]
    assert again["attempts_left"] == now_left["attempts_left"]
