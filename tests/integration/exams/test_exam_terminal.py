"""The exam attempt's browser terminal: its WebSocket against a live app, a real Celery
worker, the test simulator and the real kubectl (the client of the lab terminal's
tests): only the candidate opens it, kubectl uses the attempt's kubeconfig with every
context, ssh reaches the current context's nodes, the state survives a reconnect,
the lab terminal's escapes still fail, and submit closes it."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from tests.fixtures.app import bearer
from tests.fixtures.exams import API, ExamStack, small_exam
from tests.integration.labs.test_terminal import Term, refused_status

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "two-context-mock"


@pytest.fixture
def live_api(exam_stack: ExamStack) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, exam_stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def two_context_exam() -> None:
    """The small exam with a second context, k8s-y, whose nodes are controlplane and
    node02 (k8s-x has controlplane and node01)."""
    from app.extensions import db
    from app.grading.examfile import content_hash

    exam = small_exam(SLUG)
    spec = copy.deepcopy(exam.spec)
    second = copy.deepcopy(spec["clusters"][0])
    second["context"] = "k8s-y"
    second["nodes"][1]["name"] = "node02"
    spec["clusters"].append(second)
    exam.spec = spec
    exam.content_hash = content_hash(spec)
    db.session.commit()


def ws_url(api: str, attempt_id: int) -> str:
    return api.replace("http://", "ws://") + f"{API}/exam-attempts/{attempt_id}/terminal"


def trainer_of(stack: ExamStack, make_user: Any, learner: Any) -> str:
    _, trainer = make_user("trainer")
    cohort = stack.client.post(
        f"{API}/cohorts", json={"name": "Terminal cohort"}, headers=bearer(trainer)
    ).get_json()
    stack.client.post(
        f"{API}/cohorts/{cohort['id']}/members",
        json={"emails": [learner.email]},
        headers=bearer(trainer),
    )
    return trainer


def test_exam_terminal_uses_every_context_and_closes_at_submit(
    exam_stack: ExamStack, live_api: str, make_user: Any
) -> None:
    two_context_exam()
    learner, token = make_user()
    _, stranger = make_user()
    trainer = trainer_of(exam_stack, make_user, learner)
    started = exam_stack.client.post(f"{API}/exams/{SLUG}/attempts", headers=bearer(token))
    assert started.status_code == 202, started.get_data(as_text=True)
    attempt_id = started.get_json()["id"]
    exam_stack.wait_status(attempt_id, token, "running")
    url = ws_url(live_api, attempt_id)
    mine = {"header": [f"Authorization: Bearer {token}"]}

    # Only the candidate: no credentials 401, another learner 404, their trainer 403.
    assert refused_status(url) == 401
    assert refused_status(url, header=[f"Authorization: Bearer {stranger}"]) == 404
    assert refused_status(url, header=[f"Authorization: Bearer {trainer}"]) == 403
    assert refused_status(ws_url(live_api, 999999), **mine) == 404
    plain = requests.get(url.replace("ws://", "http://"), headers=bearer(token), timeout=30)
    assert plain.status_code == 426 and "exam attempt page" in plain.json()["message"]

    term = Term(url, **mine)
    assert term.hello["contexts"] == ["k8s-x", "k8s-y"] and term.hello["context"] == "k8s-x"
    assert term.hello["nodes"] == ["controlplane", "node01"]
    listed = term.run("kubectl config get-contexts -o name")
    assert listed.split() == ["k8s-x", "k8s-y"]
    assert term.run("k create configmap answer --from-literal=value=42") == (
        "configmap/answer created\n"
    )
    term.send({"t": "complete", "d": "kubectl config use-context k8s-"})
    _, completion = term.until("complete")
    assert completion["matches"] == ["k8s-x", "k8s-y"]
    assert term.run("kubectl config use-context k8s-y") == 'Switched to context "k8s-y".\n'
    assert "NotFound" in term.run("kubectl get configmap answer")
    # ssh follows the context: node02 is k8s-y's, node01 only k8s-x's.
    assert "Could not resolve hostname node01" in term.run("ssh node01")
    assert term.run("ssh node02") == ""
    assert term.prompt == "root@node02:~# "
    assert term.run("hostname") == "node02\n"
    assert "logout" in term.run("exit")
    # A node file opened in k8s-y is not saved once the workstation is on k8s-x.
    assert term.run("ssh controlplane") == ""
    assert "in the editor" in term.run("vi /root/note")
    edit = term.edit
    assert edit is not None and edit["node"] == "controlplane" and edit["context"] == "k8s-y"
    term.run("exit")
    term.run("kubectl config use-context k8s-x")
    term.send({"t": "save", "id": edit["id"], "content": "y\n"})
    _, refused = term.until("saved")
    assert refused["ok"] is False and "use-context k8s-y" in refused["message"]
    assert "cat: " in term.run("ssh controlplane cat /root/note")

    # The lab terminal's escapes fail here too.
    assert "No such file or directory" in term.run("cat /etc/passwd")
    assert "--kubeconfig is not available" in term.run("kubectl --kubeconfig=/etc/x get pods")
    assert "--server is not available" in term.run("kubectl --server=https://1.2.3.4 get pods")
    assert "command substitution is not available" in term.run("echo $(id)")
    assert "Could not resolve hostname" in term.run("ssh 127.0.0.1")

    # A reconnect finds the same context, history and screen.
    term.run("kubectl config use-context k8s-y")
    term.close()
    with exam_stack.app.app_context():
        from app.extensions import db
        from app.web.terminal import workstation_state

        stored = workstation_state(attempt_id, "exam")
        db.session.rollback()
    assert stored is not None and stored["cluster"]["context"] == "k8s-y"
    again = Term(url, **mine)
    assert again.hello["context"] == "k8s-y" and again.hello["nodes"] == ["controlplane", "node02"]
    assert "kubectl config use-context k8s-y" in again.hello["history"]
    assert again.run("kubectl config current-context") == "k8s-y\n"

    # Submit: the open terminal says why and closes at the next command; no new one opens.
    submitted = exam_stack.client.post(
        f"{API}/exam-attempts/{attempt_id}/submit", headers=bearer(token)
    )
    assert submitted.status_code in (200, 202), submitted.get_data(as_text=True)
    again.send({"t": "line", "d": "kubectl get nodes"})
    _, bye = again.until("bye")
    assert bye["reason"] == "ended" and "not available" in bye["message"]
    assert refused_status(url, **mine) == 409


def test_exam_terminal_closes_past_the_deadline(
    exam_stack: ExamStack, live_api: str, make_user: Any
) -> None:
    from app.extensions import db
    from app.models.exam import ExamAttempt

    small_exam()
    _, token = make_user()
    started = exam_stack.client.post(f"{API}/exams/tiny-mock/attempts", headers=bearer(token))
    attempt_id = started.get_json()["id"]
    exam_stack.wait_status(attempt_id, token, "running")
    mine = {"header": [f"Authorization: Bearer {token}"]}
    term = Term(ws_url(live_api, attempt_id), **mine)
    assert term.hello["contexts"] == ["k8s-x"]
    assert term.run("kubectl config current-context") == "k8s-x\n"
    with exam_stack.app.app_context():
        row = db.session.get(ExamAttempt, attempt_id)
        row.deadline_at = row.started_at - timedelta(seconds=1)
        db.session.commit()
    # The next command finds the attempt over: the server says why and closes.
    term.send({"t": "line", "d": "kubectl get nodes"})
    text, bye = term.until("bye")
    assert bye["reason"] == "ended" and "time limit" in bye["message"]
    assert "NAME" not in text
    assert refused_status(ws_url(live_api, attempt_id), **mine) == 409
