"""The mock exam pages over the test client with a real worker and the test simulator:
the list, one exam (task titles, never their texts), start, the attempt page (tasks,
timer, contexts, kubeconfig link, node shell through the API with the browser
session), submit and the result breakdown; another learner gets 404."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from app.extensions import db
from app.models.exam import ExamAttempt
from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.exams import ExamStack, small_exam

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def log_in(app: Any, email: str) -> Any:
    browser = app.test_client()
    token = CSRF.search(browser.get("/login").get_data(as_text=True)).group(1)
    answer = browser.post(
        "/login", data={"email": email, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302
    return browser


def cohort_trainer(stack: ExamStack, make_user: Any, learner: Any) -> str:
    """The email of a trainer whose cohort holds `learner`."""
    trainer, token = make_user("trainer")
    headers = {"Authorization": f"Bearer {token}"}
    cohort = stack.client.post("/api/v1/cohorts", json={"name": "Exams"}, headers=headers)
    added = stack.client.post(
        f"/api/v1/cohorts/{cohort.get_json()['id']}/members",
        json={"emails": [learner.email]},
        headers=headers,
    )
    assert added.status_code == 200
    return str(trainer.email)


def text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def test_a_candidate_takes_an_exam_in_the_browser(exam_stack: ExamStack, make_user: Any) -> None:
    small_exam()
    learner, _ = make_user()
    other, _ = make_user()
    trainer_email = cohort_trainer(exam_stack, make_user, learner)
    browser = log_in(exam_stack.app, learner.email)

    listing = text(browser.get("/exams"))
    assert "CKA mock exam 1" in listing and "Tiny mock exam" in listing
    detail = text(browser.get("/exams/cka-mock-1"))
    assert "A ServiceAccount that manages Deployments" in detail
    assert "Cluster Architecture" in detail and "25 %" in detail
    assert "create, get, list, update and patch" not in detail  # texts come with an attempt
    assert "solution" not in detail.lower()

    page = browser.get("/exams/tiny-mock")
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    started = browser.post("/exams/tiny-mock/start", data={"csrf_token": token})
    assert started.status_code == 302
    attempt_path = started.headers["Location"]
    attempt_id = int(attempt_path.rsplit("/", 1)[1])
    exam_stack.wait_status_as(browser, attempt_id, "running")

    home = text(browser.get("/"))
    assert f'href="{attempt_path}">Open mock exam Tiny mock exam' in home
    running = text(browser.get(attempt_path))
    assert 'id="exam-countdown"' in running and "Create a ConfigMap" in running
    assert f"/api/v1/exam-attempts/{attempt_id}/kubeconfig" in running
    assert "k8s-x / node01" in running and "Reference solution" not in running
    assert "kubectl create configmap" not in running
    # The candidate's browser terminal and its vi editor.
    assert f'data-socket="/api/v1/exam-attempts/{attempt_id}/terminal"' in running
    assert "terminal.js" in running and "term_editor.js" in running

    csrf = META_CSRF.search(running).group(1)
    shell = browser.post(
        f"/api/v1/exam-attempts/{attempt_id}/exec",
        json={"context": "k8s-x", "node": "node01", "command": "systemctl is-active kubelet"},
        headers={"X-CSRF-Token": csrf},
    )
    assert shell.status_code == 200 and shell.get_json()["stdout"].strip() == "active"
    config = browser.get(f"/api/v1/exam-attempts/{attempt_id}/kubeconfig")
    assert config.status_code == 200 and "name: k8s-x" in config.get_data(as_text=True)

    stranger = log_in(exam_stack.app, other.email)
    assert stranger.get(attempt_path).status_code == 404
    token = CSRF.search(running).group(1)
    assert browser.post(f"{attempt_path}/grade", data={"csrf_token": token}).status_code == 403

    # The candidate's trainer grades on demand and sees the checks' details.
    trainer = log_in(exam_stack.app, trainer_email)
    watched = text(trainer.get(attempt_path))
    assert "Grade now" in watched and "Submit the exam" not in watched
    assert "data-socket=" not in watched and "terminal.js" not in watched
    trainer_token = CSRF.search(watched).group(1)
    graded = trainer.post(f"{attempt_path}/grade", data={"csrf_token": trainer_token})
    assert graded.status_code == 302
    grade_id = trainer.get(f"/api/v1/exam-attempts/{attempt_id}").get_json()["grades"][0]["id"]
    exam_stack.wait_grade_as(trainer, attempt_id, grade_id)
    seen = text(trainer.get(attempt_path))
    assert "Trainer's grade 1 (the attempt goes on): 0 %" in seen
    assert "expected ConfigMap default/answer to exist" in seen
    assert "Trainer's grade" not in text(browser.get(attempt_path))

    token = CSRF.search(running).group(1)
    submitted = browser.post(f"{attempt_path}/submit", data={"csrf_token": token})
    assert submitted.status_code == 302
    exam_stack.wait_status_as(browser, attempt_id, "graded")
    result = text(browser.get(attempt_path))
    assert "Result: 0 %" in result and "not passed" in result
    assert "Reference solution" in result and "kubectl create configmap answer" in result
    assert "data-socket=" not in result
    assert "ConfigMap default/answer has value=42 (0/1)" in result
    with exam_stack.app.app_context():
        assert db.session.get(ExamAttempt, attempt_id).auto_submitted is False
        db.session.rollback()
    mine = text(browser.get("/exams"))
    assert f'data-attempt="{attempt_id}"' in mine and "graded" in mine
