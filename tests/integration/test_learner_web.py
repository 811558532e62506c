"""The learner's web pages over the test client: the server-side browser session, CSRF,
every page, ownership (another learner gets 404), no answer data before submit, the
review, the per-instance secret key, and the offline API docs."""

from __future__ import annotations

import fnmatch
import html
import json
import re
import stat
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config import PROJECT_ROOT, instance_secret_key
from app.extensions import db
from app.models.attempt import Attempt
from app.models.lab import LabSession, LabSessionStatus
from app.models.user import ApiToken
from app.services import cohorts
from app.services.auth import hash_token
from app.services.labs import get_lab, import_labs
from tests.builders import CORRECT
from tests.fixtures.app import DEFAULT_PASSWORD, bearer
from tests.fixtures.quizzes import START, ManualClock

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DATA = re.compile(r'<script type="application/json" id="([a-z-]+)">(.*?)</script>', re.S)
API = "/api/v1"


def csrf_of(browser: Any, path: str = "/login") -> str:
    page = browser.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    return found.group(1)


def log_in(app: Any, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    """A new test client with a browser session for `email`."""
    browser = app.test_client()
    token = csrf_of(browser)
    answer = browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return browser


def page_data(html: str, element_id: str) -> Any:
    blocks = dict(DATA.findall(html))
    return json.loads(blocks[element_id])


def session_cookie(app: Any, browser: Any) -> dict[str, Any]:
    """The decoded content of the browser's session cookie."""
    cookie = browser.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(cookie.value)


@pytest.fixture
def learner_browser(app: Any, make_user: Callable) -> tuple[Any, Any]:
    user, _ = make_user("learner", email="ada@example.test")
    return user, log_in(app, user.email)


def start_in_browser(browser: Any, slug: str = "sample-quiz") -> int:
    token = csrf_of(browser, f"/quizzes/{slug}")
    started = browser.post(f"/quizzes/{slug}/start", data={"csrf_token": token, "confirm": "yes"})
    assert started.status_code == 302, started.get_data(as_text=True)
    return int(started.headers["Location"].rsplit("/", 1)[1])


# ------------------------------------------------------------------ session


def test_session_cookie_holds_no_token_and_resolves_on_the_server(
    app: Any, make_user: Callable, db_session: Any
) -> None:
    user, _ = make_user("learner", email="ada@example.test")
    browser = log_in(app, user.email)
    content = session_cookie(app, browser)
    assert set(content) == {"sid", "csrf_token"}
    assert "cp_" not in json.dumps(content)
    web_tokens = db_session.query(ApiToken).filter_by(user_id=user.id, label="web").all()
    assert len(web_tokens) == 1
    # The session id is not a bearer token, and its hash is not what the server stores.
    assert web_tokens[0].token_hash != hash_token(content["sid"])
    assert browser.get(f"{API}/me", headers=bearer(content["sid"])).status_code == 401
    # The pages' scripts use the session for the API: reads need nothing more...
    me = app.test_client()
    me.set_cookie(
        app.config.get("SESSION_COOKIE_NAME", "session"),
        browser.get_cookie("session").value,
    )
    assert me.get(f"{API}/me").get_json()["email"] == "ada@example.test"
    # ...changes need the page's CSRF token in a header.
    no_header = browser.post(f"{API}/quizzes/none/attempts")
    assert no_header.status_code == 403 and no_header.get_json()["code"] == 403
    with_header = browser.post(
        f"{API}/quizzes/none/attempts", headers={"X-CSRF-Token": content["csrf_token"]}
    )
    assert with_header.status_code == 404


def test_logout_revokes_the_session_and_needs_csrf(
    app: Any, learner_browser: tuple[Any, Any], db_session: Any
) -> None:
    user, browser = learner_browser
    assert browser.get("/quizzes").status_code == 200
    assert browser.post("/logout").status_code == 400
    token = csrf_of(browser, "/quizzes")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert browser.get("/quizzes").headers["Location"] == "/login?next=/quizzes"
    assert browser.get(f"{API}/me").status_code == 401
    record = db_session.query(ApiToken).filter_by(user_id=user.id, label="web").one()
    db_session.refresh(record)
    assert record.revoked_at is not None


def test_login_form_csrf_wrong_password_and_safe_next(app: Any, make_user: Callable) -> None:
    make_user("learner", email="ada@example.test")
    browser = app.test_client()
    page = browser.get("/login")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.get_data(as_text=True)
    no_csrf = browser.post("/login", data={"email": "ada@example.test", "password": "x"})
    assert no_csrf.status_code == 400
    token = csrf_of(browser)
    wrong = browser.post(
        "/login", data={"email": "ada@example.test", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "Incorrect email or password." in wrong.get_data(
        as_text=True
    )
    for target, expected in [
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/quizzes", "/quizzes"),
    ]:
        other = app.test_client()
        token = csrf_of(other)
        answer = other.post(
            f"/login?next={target}",
            data={"email": "ada@example.test", "password": DEFAULT_PASSWORD, "csrf_token": token},
        )
        assert answer.headers["Location"] == expected


def test_instance_secret_key_is_created_once_private_and_used_by_up(tmp_path: Path) -> None:
    from app.cli.serve import _embedded_environment

    first = instance_secret_key(tmp_path / "instance")
    path = tmp_path / "instance" / "secret_key"
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert instance_secret_key(tmp_path / "instance") == first
    assert instance_secret_key(tmp_path / "other") != first
    env = _embedded_environment(tmp_path / "instance")
    assert env["CERTPREP_SECRET_KEY"] == first


# ---------------------------------------------------------------- home, api


def test_home_api_index_and_offline_docs(app: Any, client: Any) -> None:
    home = client.get("/")
    assert home.status_code == 200 and "Log in" in home.get_data(as_text=True)
    for path in ("/api", "/api/v1"):
        index = client.get(path)
        assert index.status_code == 200 and index.get_json()["docs"] == "/api/docs"
    docs = client.get("/api/docs").get_data(as_text=True)
    assert "cdn" not in docs.lower() and "http" not in docs.split("<body>")[1].split("config")[0]
    for asset in re.findall(r'(?:src|href)="([^"]+)"', docs):
        assert asset.startswith("/assets/vendor/swagger_ui/")
        assert client.get(asset).status_code == 200


def test_vendored_assets_are_package_data_and_recorded() -> None:
    patterns = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["*"]
    vendor = PROJECT_ROOT / "app" / "web" / "static" / "vendor"
    versions = (vendor / "VERSIONS").read_text()
    shipped = [p for p in vendor.rglob("*") if p.is_file()]
    assert len(shipped) >= 5
    for path in shipped:
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), path
        if path.name != "VERSIONS":
            assert path.relative_to(vendor).as_posix() in versions
            text = path.read_bytes()
            assert b"cdn.jsdelivr" not in text and b"sourceMappingURL" not in text
    assert re.search(r"swagger-ui-dist \d+\.\d+\.\d+", versions)


# -------------------------------------------------------------------- quizzes


def test_assigned_quizzes_first_with_due_dates_and_overdue(
    app: Any, make_quiz: Callable, make_user: Callable, clock: ManualClock, db_session: Any
) -> None:
    make_quiz()
    make_quiz("other-quiz", title="Other quiz")
    trainer, _ = make_user("trainer")
    user, _ = make_user("learner", email="ada@example.test")
    cohort = cohorts.create_cohort(trainer, "Spring")
    cohorts.add_members(trainer, cohort.id, [user.email])
    cohorts.assign(trainer, cohort.id, "quiz", "other-quiz", START - timedelta(days=1))
    browser = log_in(app, user.email)
    html = browser.get("/quizzes").get_data(as_text=True)
    assigned = html.split('id="assigned-quizzes-table"')[1].split("</table>")[0]
    assert 'data-slug="other-quiz"' in assigned and "Overdue" in assigned
    rest = html.split('id="other-quizzes-table"')[1]
    assert 'data-slug="sample-quiz"' in rest and 'data-slug="other-quiz"' not in rest
    home = browser.get("/").get_data(as_text=True)
    assert "Overdue" in home and "Other quiz" in home
    assert "trainer dashboard" not in home


def test_start_needs_confirmation_and_counts_an_attempt(
    app: Any, make_quiz: Callable, learner_browser: tuple[Any, Any], db_session: Any
) -> None:
    make_quiz()
    user, browser = learner_browser
    page = browser.get("/quizzes/sample-quiz").get_data(as_text=True)
    assert "counts as attempt 1 of 3" in page
    assert "your saved answers are submitted automatically" in page
    token = CSRF.search(page).group(1)
    assert browser.post("/quizzes/sample-quiz/start", data={"confirm": "yes"}).status_code == 400
    unconfirmed = browser.post("/quizzes/sample-quiz/start", data={"csrf_token": token})
    assert unconfirmed.headers["Location"] == "/quizzes/sample-quiz"
    assert db_session.query(Attempt).count() == 0
    attempt_id = start_in_browser(browser)
    assert db_session.query(Attempt).filter_by(user_id=user.id).count() == 1
    # Starting again resumes the same attempt.
    assert start_in_browser(browser) == attempt_id
    quizzes = browser.get("/quizzes").get_data(as_text=True)
    assert "in progress" in quizzes


def test_player_shows_no_answer_data_and_resumes_at_first_unanswered(
    app: Any, make_quiz: Callable, learner_browser: tuple[Any, Any], clock: ManualClock
) -> None:
    make_quiz()
    _, browser = learner_browser
    attempt_id = start_in_browser(browser)
    page = browser.get(f"/attempts/{attempt_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "SECRET" not in html and '"correct"' not in html and '"answer"' not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    data = page_data(html, "player-data")
    assert data["start_index"] == 0 and data["remaining_seconds"] == 20 * 60
    assert {item["type"] for item in data["items"]} == {
        "single",
        "multiple",
        "true_false",
        "ordering",
        "matching",
        "short_answer",
        "numeric",
    }
    csrf = session_cookie(app, browser)["csrf_token"]
    for item in data["items"][:2]:
        saved = browser.put(
            f"{API}/attempts/{attempt_id}/responses/{item['question_id']}",
            json={"response": CORRECT[item["question_id"]]},
            headers={"X-CSRF-Token": csrf},
        )
        assert saved.status_code == 200, saved.get_json()
    clock.advance(minutes=3)
    again = page_data(browser.get(f"/attempts/{attempt_id}").get_data(as_text=True), "player-data")
    assert again["start_index"] == 2
    assert again["remaining_seconds"] == 17 * 60


def test_another_learner_gets_404_on_attempts_and_lab_sessions(
    app: Any, make_quiz: Callable, learner_browser: tuple[Any, Any], make_user: Callable
) -> None:
    make_quiz()
    user, browser = learner_browser
    attempt_id = start_in_browser(browser)
    import_labs(PROJECT_ROOT / "labs")
    session = LabSession(
        lab=get_lab("pending-pods-control-plane-1"),
        user_id=user.id,
        status=LabSessionStatus.ENDED,
        provider="simulator",
        content_hash="x",
        hints_revealed=[],
    )
    db.session.add(session)
    db.session.commit()
    other, _ = make_user("learner", email="bob@example.test")
    intruder = log_in(app, other.email)
    for path in (f"/attempts/{attempt_id}", f"/lab-sessions/{session.id}"):
        answer = intruder.get(path)
        assert answer.status_code == 404 and "SECRET" not in answer.get_data(as_text=True)
    token = csrf_of(intruder, "/quizzes")
    assert (
        intruder.post(f"/attempts/{attempt_id}/submit", data={"csrf_token": token}).status_code
        == 404
    )
    assert browser.get(f"/lab-sessions/{session.id}").status_code == 200
    history = browser.get("/me/history").get_data(as_text=True)
    assert f'data-attempt="{attempt_id}"' in history and f'data-session="{session.id}"' in history
    assert f'data-attempt="{attempt_id}"' not in intruder.get("/me/history").get_data(as_text=True)


def test_submit_from_the_summary_form_then_review_with_texts_and_whys(
    app: Any, make_quiz: Callable, learner_browser: tuple[Any, Any], clock: ManualClock
) -> None:
    make_quiz()
    _, browser = learner_browser
    attempt_id = start_in_browser(browser)
    data = page_data(browser.get(f"/attempts/{attempt_id}").get_data(as_text=True), "player-data")
    csrf = session_cookie(app, browser)["csrf_token"]
    for item in data["items"]:
        if item["question_id"] == "sample-numeric":
            continue  # one left unanswered
        browser.put(
            f"{API}/attempts/{attempt_id}/responses/{item['question_id']}",
            json={"response": CORRECT[item["question_id"]]},
            headers={"X-CSRF-Token": csrf},
        )
    assert browser.post(f"/attempts/{attempt_id}/submit").status_code == 400
    submitted = browser.post(f"/attempts/{attempt_id}/submit", data={"csrf_token": csrf})
    assert submitted.headers["Location"] == f"/attempts/{attempt_id}"
    review = browser.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    for text in (
        "The leader",
        "Why: SECRET-WHY-FOLLOWER",
        "SECRET-EXPLANATION-ORDERING",
        "Source section: etcd / Raft",
        "TaintToleration → Taints on the node",
        "1. Authentication",
        "not answered",
        "Right answer:</strong> 2 members",
    ):
        assert text in review, text
    # Scores are rounded for people: 6 of 7 questions.
    assert "85.7 %" in review and "85.71" not in review
    assert "{" not in review.split('id="review"')[1].split("</ol>")[0]


def test_score_only_review_shows_no_answers(
    app: Any, make_quiz: Callable, learner_browser: tuple[Any, Any], clock: ManualClock
) -> None:
    make_quiz(review_policy="score_only")
    _, browser = learner_browser
    attempt_id = start_in_browser(browser)
    csrf = session_cookie(app, browser)["csrf_token"]
    browser.post(f"/attempts/{attempt_id}/submit", data={"csrf_token": csrf})
    review = browser.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    assert "0 %" in review and "This quiz shows only the score" in review
    assert "SECRET" not in review and "The leader" not in review


def test_expired_attempt_under_abandon_policy_says_so(
    app: Any, make_quiz: Callable, learner_browser: tuple[Any, Any], clock: ManualClock
) -> None:
    make_quiz(expiry_policy="abandon")
    _, browser = learner_browser
    attempt_id = start_in_browser(browser)
    player = browser.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    assert "is abandoned: it scores nothing and still counts as used" in player
    clock.advance(minutes=21)
    page = browser.get(f"/attempts/{attempt_id}").get_data(as_text=True)
    assert "This attempt was abandoned" in page


# ----------------------------------------------------------------------- labs


def test_lab_pages_show_tasks_but_not_the_fault(
    app: Any, learner_browser: tuple[Any, Any], db_session: Any
) -> None:
    import_labs(PROJECT_ROOT / "labs")
    lab = get_lab("pending-pods-control-plane-1")
    _, browser = learner_browser
    listing = browser.get("/labs").get_data(as_text=True)
    assert 'data-slug="pending-pods-control-plane-1"' in listing
    page = browser.get("/labs/pending-pods-control-plane-1").get_data(as_text=True)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "<code>" in page  # `inline code` of the tasks is shown as code
    for task in lab.spec["tasks"]:
        assert str(task).replace("`", "").split("\n")[0][:60] in text
    secrets_of_lab = [c.get("hint") for c in lab.spec["checks"] if c.get("hint")]
    secrets_of_lab += [json.dumps(f) for f in (lab.spec.get("setup") or {}).get("faults") or []]
    for secret in secrets_of_lab:
        assert secret not in page
    assert "Start the lab" in page


def test_lab_console_without_cluster_and_stop_needs_csrf(
    app: Any, learner_browser: tuple[Any, Any], db_session: Any, clock: ManualClock
) -> None:
    import_labs(PROJECT_ROOT / "labs")
    user, browser = learner_browser
    session = LabSession(
        lab=get_lab("pending-pods-control-plane-1"),
        user_id=user.id,
        status=LabSessionStatus.READY,
        provider="simulator",
        content_hash="x",
        hints_revealed=[],
        created_at=START,
        ready_at=START,
        expires_at=START + timedelta(minutes=30),
    )
    db.session.add(session)
    db.session.commit()
    page = browser.get(f"/lab-sessions/{session.id}").get_data(as_text=True)
    data = page_data(page, "console-data")
    assert data["remaining_seconds"] == 30 * 60 and data["nodes"]
    assert 'id="file-content"' in page and 'id="grade-button"' in page
    home = browser.get("/").get_data(as_text=True)
    assert f"/lab-sessions/{session.id}" in home
    assert browser.post(f"/lab-sessions/{session.id}/stop").status_code == 400


def test_lab_start_at_the_limit_says_what_to_do_in_the_page(
    app: Any, learner_browser: tuple[Any, Any], db_session: Any, clock: ManualClock
) -> None:
    import_labs(PROJECT_ROOT / "labs")
    user, browser = learner_browser
    for _ in range(2):
        db.session.add(
            LabSession(
                lab=get_lab("pending-pods-control-plane-1"),
                user_id=user.id,
                status=LabSessionStatus.PROVISIONING,
                provider="simulator",
                content_hash="x",
                hints_revealed=[],
                created_at=START,
            )
        )
    db.session.commit()
    page = browser.get("/labs/pending-pods-control-plane-1").get_data(as_text=True)
    assert "You have a session of this lab" in page and "Start the lab" not in page
    token = CSRF.search(page).group(1)
    refused = browser.post("/labs/etcd-snapshot/start", data={"csrf_token": token})
    assert refused.headers["Location"] == "/labs/etcd-snapshot"
    shown = browser.get("/labs/etcd-snapshot").get_data(as_text=True)
    assert "the limit is 2" in shown and "Stop one of your running sessions first" in shown
    assert "/lab-sessions/{id}" not in shown and "DELETE" not in shown
    console = browser.get(f"/lab-sessions/{db.session.query(LabSession).first().id}")
    assert "Your cluster is being prepared" in console.get_data(as_text=True)


def test_inline_code_escapes_everything_and_marks_backquoted_parts() -> None:
    from app.web.learner import inline_code

    assert str(inline_code("run `kubectl get <pods>` & <b>wait</b>")) == (
        "run <code>kubectl get &lt;pods&gt;</code> &amp; &lt;b&gt;wait&lt;/b&gt;"
    )
    assert str(inline_code(None)) == ""
    assert str(inline_code("one\nline\n\nnext")) == "one line\n\nnext"
