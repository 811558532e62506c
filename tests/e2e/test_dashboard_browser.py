"""Headless Chromium (Debian's, driven by Playwright) against a live server: log in as
the demo trainer, open the seeded cohort, check the numbers shown against the progress
service, download the CSV, and save a screenshot to test-output/. The browser fixtures
(tests/fixtures/browser.py) skip it when no Chromium is found, unless
CERTPREP_REQUIRE_BROWSER=1 (as in CI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from app.cli.demo import DEMO_PASSWORD, DEMO_TRAINER, seed_demo
from app.config import PROJECT_ROOT
from app.extensions import db
from app.models.cohort import Cohort
from app.services.progress import cohort_progress

pytestmark = pytest.mark.browser

OUTPUT_DIR = PROJECT_ROOT / "test-output"


def test_trainer_dashboard_in_chromium(
    live_server: str, browser_page: Any, make_quiz: Any, db_session: Any, tmp_path: Path
) -> None:
    make_quiz(attempts_allowed=0)
    seeded = seed_demo(["sample-quiz"], learners=12, seed=11)
    cohort = db_session.get(Cohort, seeded["cohort_id"])
    expected = cohort_progress(cohort)
    db.session.rollback()
    page = browser_page

    page.goto(f"{live_server}/dashboard/cohorts/{cohort.id}")
    # Not logged in: sent to the login form, which returns here afterwards.
    assert "/login?next=" in page.url
    page.get_by_label("Email").fill(DEMO_TRAINER)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/dashboard/cohorts/{cohort.id}")
    assert page.get_by_role("heading", level=1).inner_text() == cohort.name

    aggregate = expected["aggregate"]
    assert page.locator("#stat-learners").inner_text() == "12"
    assert page.locator("#stat-ready").inner_text() == str(aggregate["ready"])
    # Figures for people: one decimal.
    assert page.locator("#stat-mean").inner_text() == f"{round(aggregate['mean_readiness'], 1):g} %"
    assert (
        page.locator("#stat-median").inner_text()
        == f"{round(aggregate['median_readiness'], 1):g} %"
    )
    for learner in expected["learners"]:
        row = page.locator(f'tr[data-email="{learner["email"]}"]')
        # The assignment's column: best (and last, after several attempts) in whole percent.
        cell = row.locator('[data-col="quiz:sample-quiz"]').inner_text()
        assert cell.split("/")[0].strip() == str(round(learner["best_percent"]))
        meter = row.locator("meter")
        assert float(meter.get_attribute("value")) == learner["readiness_percent"]
    # The first learner has an attempt in progress: shown, not scored.
    first = expected["learners"][0]
    assert first["attempts_in_progress"] == 1
    assert (
        "(+1 in progress)"
        in page.locator(f'tr[data-email="{first["email"]}"] [data-col="attempts"]').inner_text()
    )
    assert page.locator("#histogram rect").count() == 10
    # Five CKA domain columns per learner row.
    assert page.locator("#gradebook tbody tr").count() == 12
    assert page.locator("#gradebook tbody td.dom").count() == 12 * 5

    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "dashboard.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download progress (CSV)").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name == f"cohort-{cohort.id}-progress.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["email"] for r in rows] == [learner["email"] for learner in expected["learners"]]
    for row, learner in zip(rows, expected["learners"], strict=True):
        assert float(row["readiness_percent"]) == learner["readiness_percent"]
        assert int(row["attempts"]) == learner["attempts"]

    # Keyboard only: on a fresh page the skip link is the first stop and leads to the content.
    page.reload()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
