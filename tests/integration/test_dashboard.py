"""The server-rendered dashboard over the test client: login with CSRF, the cohort
page's numbers, CSV download, access control, forms, logout."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from app.models.cohort import Cohort
from tests.builders import CORRECT
from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.quizzes import MIXED, ManualClock, take
from tests.fixtures.web import csrf_of, log_in


@pytest.fixture
def trainer_browser(app: Any, client: Any, make_user: Callable) -> tuple[Any, Any]:
    user, _ = make_user("trainer", email="coach@example.test")
    browser = app.test_client()
    assert log_in(browser, user.email).status_code == 302
    return user, browser


def test_login_needs_csrf_and_the_right_password(
    app: Any, client: Any, make_user: Callable
) -> None:
    make_user("trainer", email="coach@example.test")
    browser = app.test_client()
    # The login page lives at /login; the old address sends people there.
    moved = browser.get("/dashboard/login")
    assert moved.status_code == 302 and moved.headers["Location"] == "/login?next=/dashboard/"
    page = browser.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="email">' in html and '<label for="password">' in html
    assert "script" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]

    no_csrf = browser.post(
        "/dashboard/login", data={"email": "coach@example.test", "password": DEFAULT_PASSWORD}
    )
    assert no_csrf.status_code == 400
    wrong = log_in(browser, "coach@example.test", "wrong-password")
    assert wrong.status_code == 401 and "Incorrect email or password." in wrong.get_data(
        as_text=True
    )
    right = log_in(browser, "coach@example.test")
    assert right.status_code == 302 and right.headers["Location"].endswith("/dashboard/")
    assert (
        "HttpOnly" in right.headers["Set-Cookie"] and "SameSite=Lax" in right.headers["Set-Cookie"]
    )
    home = browser.get("/dashboard/")
    assert home.status_code == 200 and "Cohorts" in home.get_data(as_text=True)


def test_pages_need_a_session_and_next_stays_on_site(
    app: Any, client: Any, make_user: Callable
) -> None:
    make_user("trainer", email="coach@example.test")
    browser = app.test_client()
    redirected = browser.get("/dashboard/cohorts/1")
    assert (
        redirected.status_code == 302
        and redirected.headers["Location"] == "/login?next=/dashboard/cohorts/1"
    )
    evil = log_in(browser, "coach@example.test", next_path="https://evil.example/")
    assert evil.headers["Location"].endswith("/dashboard/")


def test_cohort_page_numbers_and_csv(
    app: Any, cohort_setup: Any, clock: ManualClock, make_user: Callable
) -> None:
    cohort_id, _, learners = cohort_setup
    take(app.test_client(), learners["ada"][1], CORRECT, clock)
    take(app.test_client(), learners["bob"][1], MIXED, clock)
    # The cohort belongs to the fixture's trainer; log in as them.
    owner = db.session.get(Cohort, cohort_id).owner
    browser = app.test_client()
    log_in(browser, owner.email)
    page = browser.get(f"/dashboard/cohorts/{cohort_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<dd id="stat-learners">3</dd>' in html
    # ada scored 100 % but the sample quiz covers three of the five CKA domains.
    assert '<dd id="stat-ready">0</dd>' in html
    # mean(100, 57.14) = 78.57, shown rounded for people.
    assert '<dd id="stat-mean">78.6 %</dd>' in html
    bob_row = html[html.index('data-email="bob@example.test"') :]
    bob_row = bob_row[: bob_row.index("</tr>")]
    assert 'value="57.14"' in bob_row and "not enough evidence" in bob_row
    assert '<span class="readiness-value">57.1 %</span>' in bob_row
    # At most three weak topics, each with its evidence count.
    assert "Weak: admission" in bob_row and "plugins" in bob_row and "etcd-quorum" in bob_row
    assert 'title="0 items' not in bob_row and "(1)" in bob_row
    assert 'class="num dom heat-0"' in bob_row  # bob's Troubleshooting cell: 0 %
    # One column per assignment: bob's sample-quiz cell shows his 57 %.
    assert 'data-col="quiz:sample-quiz">\n          57' in bob_row
    assert '<svg id="histogram" role="img"' in html
    assert "How readiness is decided" in html

    download = browser.get(f"/dashboard/cohorts/{cohort_id}/progress.csv")
    assert download.mimetype == "text/csv"
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(download.get_data(as_text=True)))}
    assert rows["bob@example.test"]["readiness_percent"] == "57.14"
    assert rows["ada@example.test"]["ready"] == "no"
    assert rows["ada@example.test"]["readiness_status"] == "not enough evidence"

    stats = browser.get(f"/dashboard/quizzes/sample-quiz/statistics?cohort_id={cohort_id}")
    assert stats.status_code == 200 and '<dd id="stat-attempts">2</dd>' in stats.get_data(
        as_text=True
    )
    assert "Download statistics (CSV)" in stats.get_data(as_text=True)
    bob = browser.get(f"/dashboard/cohorts/{cohort_id}/learners/{learners['bob'][0].id}")
    html = bob.get_data(as_text=True)
    assert bob.status_code == 200 and "<h1>bob@example.test</h1>" in html
    assert '<dd id="stat-readiness">57.1 %</dd>' in html
    assert '<dd id="stat-status">not enough evidence</dd>' in html
    missing = html[html.index("Not enough evidence yet in: ") :]
    missing = missing[: missing.index("(")]
    assert "Services &amp; Networking" in missing and "Storage" in missing
    assert "admission: 0 %" in html
    assert browser.get(f"/dashboard/cohorts/{cohort_id}/learners/{owner.id}").status_code == 404
    stats_csv = browser.get(f"/dashboard/quizzes/sample-quiz/statistics.csv?cohort_id={cohort_id}")
    assert stats_csv.mimetype == "text/csv"
    assert len(list(csv.DictReader(io.StringIO(stats_csv.get_data(as_text=True))))) == 7


def test_access_control_on_pages(
    app: Any, cohort_setup: Any, trainer_browser: Any, clock: ManualClock
) -> None:
    cohort_id, _, learners = cohort_setup
    _, other_trainer = trainer_browser
    assert other_trainer.get(f"/dashboard/cohorts/{cohort_id}").status_code == 404
    assert other_trainer.get(f"/dashboard/cohorts/{cohort_id}/progress.csv").status_code == 404
    learner = app.test_client()
    log_in(learner, "bob@example.test")
    assert learner.get(f"/dashboard/cohorts/{cohort_id}").status_code == 403
    home = learner.get("/dashboard/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/dashboard/me")
    take(app.test_client(), learners["bob"][1], MIXED, clock)
    own = learner.get("/dashboard/me").get_data(as_text=True)
    assert '<dd id="stat-readiness">57.1 %</dd>' in own


def test_forms_create_cohort_add_members_and_logout(
    app: Any, client: Any, trainer_browser: Any, make_user: Callable
) -> None:
    _, browser = trainer_browser
    make_user("learner", email="ada@example.test")
    token = csrf_of(browser, "/dashboard/")
    assert browser.post("/dashboard/cohorts", data={"name": "Forged"}).status_code == 400
    created = browser.post("/dashboard/cohorts", data={"name": "Autumn", "csrf_token": token})
    assert created.status_code == 302
    cohort_url = created.headers["Location"]
    cohort_id = int(cohort_url.rstrip("/").rsplit("/", 1)[1])
    added = browser.post(
        f"/dashboard/cohorts/{cohort_id}/members",
        data={"emails": "ada@example.test\nghost@example.test", "csrf_token": token},
        follow_redirects=True,
    )
    html = added.get_data(as_text=True)
    assert "Added 1" in html and "No account for: ghost@example.test" in html
    assert 'data-email="ada@example.test"' in html
    gradebook = browser.get(f"/dashboard/cohorts/{cohort_id}").get_data(as_text=True)
    assert 'data-email="ada@example.test"' in gradebook

    cookie = browser.get_cookie("session")
    assert browser.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    # The old cookie no longer works: its token was revoked.
    replay = app.test_client()
    replay.set_cookie("session", cookie.value)
    assert replay.get("/dashboard/").status_code == 302
