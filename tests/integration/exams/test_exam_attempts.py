"""Exam attempts through the REST API with a real Celery worker on Redis and the live
test simulator: start -> running (one cluster per context, one kubeconfig) -> the
reference solutions through the node-shell route -> submit -> one grade of every task
-> result with the per-task breakdown; the deadline submits by itself; trainers grade
on demand within their cohorts; candidates never see checks or solutions before the
final grade."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.serving import make_server

from app.config import PROJECT_ROOT
from app.grading.examfile import load_exam
from tests.fixtures.app import assert_json_error, bearer
from tests.fixtures.exams import API, ExamStack, run_solution, small_exam

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "cka-mock-1"
EXAM = load_exam(PROJECT_ROOT / "exams" / f"{SLUG}.yaml")
SETS = sorted(p.stem for p in (PROJECT_ROOT / "exams").glob("*.yaml"))

# `exam-node CONTEXT NODE COMMAND...` for solution scripts, through the REST API's
# node-shell route (what `certprep exam ssh` calls).
API_NODE_PROGRAM = """\
import json, sys, urllib.request
api, token, attempt = sys.argv[1:4]
context, node, words = sys.argv[4], sys.argv[5], sys.argv[6:]
body = json.dumps({"context": context, "node": node, "command": " ".join(words)}).encode()
request = urllib.request.Request(
    f"{api}/api/v1/exam-attempts/{attempt}/exec", data=body, method="POST",
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=60) as answer:
    result = json.load(answer)
sys.stdout.write(result["stdout"])
sys.stderr.write(result["stderr"])
sys.exit(result["exit_code"])
"""


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


def start(stack: ExamStack, token: str, slug: str = SLUG) -> dict[str, Any]:
    response = stack.client.post(f"{API}/exams/{slug}/attempts", headers=bearer(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def trainer_of(stack: ExamStack, make_user: Any, learner: Any) -> str:
    """A trainer token whose cohort holds `learner`."""
    _, trainer = make_user("trainer")
    cohort = stack.client.post(
        f"{API}/cohorts", json={"name": "Exam cohort"}, headers=bearer(trainer)
    ).get_json()
    added = stack.client.post(
        f"{API}/cohorts/{cohort['id']}/members",
        json={"emails": [learner.email]},
        headers=bearer(trainer),
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    return trainer


def trainer_grade(stack: ExamStack, trainer: str, attempt_id: int) -> dict[str, Any]:
    response = stack.client.post(
        f"{API}/exam-attempts/{attempt_id}/grades", headers=bearer(trainer)
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    grade_id = response.get_json()["id"]
    end = time.monotonic() + 180
    while time.monotonic() < end:
        body = stack.client.get(
            f"{API}/exam-attempts/{attempt_id}/grades/{grade_id}", headers=bearer(trainer)
        ).get_json()
        if body["status"] in ("done", "failed"):
            assert body["status"] == "done", body
            return body
        time.sleep(0.2)
    pytest.fail(f"grade {grade_id} not done")


def kubeconfig_file(stack: ExamStack, token: str, attempt_id: int) -> Path:
    response = stack.client.get(
        f"{API}/exam-attempts/{attempt_id}/kubeconfig", headers=bearer(token)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    path = stack.workdir / f"attempt-{attempt_id}.kubeconfig"
    path.write_text(response.get_data(as_text=True))
    return path


@pytest.mark.parametrize("slug", SETS)
def test_reference_solutions_score_full_marks_through_the_worker(
    exam_stack: ExamStack, live_api: str, make_user: Any, slug: str
) -> None:
    exam = load_exam(PROJECT_ROOT / "exams" / f"{slug}.yaml")
    learner, token = make_user()
    trainer = trainer_of(exam_stack, make_user, learner)
    attempt = start(exam_stack, token, slug)
    assert attempt["status"] == "provisioning" and attempt["remaining_seconds"] is None
    running = exam_stack.wait_status(attempt["id"], token, "running", "failed")
    assert running["status"] == "running", running["error"]
    assert 7190 <= running["remaining_seconds"] <= 7200
    assert [c["name"] for c in running["contexts"]] == ["k8s-a", "k8s-b", "k8s-c"]
    assert "clusters" not in running and "checks" not in running["tasks"][0]
    assert running["tasks"][0]["text"] == exam.tasks[0].text

    config = kubeconfig_file(exam_stack, token, attempt["id"])
    contexts = yaml.safe_load(config.read_text())["contexts"]
    assert [c["name"] for c in contexts] == ["k8s-a", "k8s-b", "k8s-c"]
    nodes = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), "--context", "k8s-b", "get", "nodes"],
        env={"KUBECONFIG": str(config), "HOME": str(exam_stack.workdir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert nodes.returncode == 0 and "node01" in nodes.stdout and "node02" not in nodes.stdout

    with exam_stack.running_clusters(attempt["id"]):
        # Untouched, graded on demand by the candidate's trainer: far below the pass mark.
        untouched = trainer_grade(exam_stack, trainer, attempt["id"])
        assert untouched["score"] < 10 and untouched["passed"] is False
        assert "detail" in untouched["tasks"][0]["checks"][0]  # trainers see details
        # The candidate sees neither the trainer's grade nor a result yet.
        hidden = exam_stack.client.get(
            f"{API}/exam-attempts/{attempt['id']}/grades/{untouched['id']}", headers=bearer(token)
        )
        assert_json_error(hidden, 404)
        assert_json_error(
            exam_stack.client.get(
                f"{API}/exam-attempts/{attempt['id']}/result", headers=bearer(token)
            ),
            409,
        )

        program = exam_stack.workdir / "exam_node.py"
        program.write_text(API_NODE_PROGRAM)
        node_command = [sys.executable, str(program), live_api, token, str(attempt["id"])]
        for task in exam.tasks:
            done = run_solution(task, config, node_command, exam_stack.workdir)
            assert done.returncode == 0, f"{task.id}\n{done.stdout}{done.stderr}"
        # Wait, as a candidate would, until the repaired components have acted.
        for _ in range(10):
            check = trainer_grade(exam_stack, trainer, attempt["id"])
            if check["score"] == 100:
                break
            time.sleep(2)
        assert check["score"] == 100, [
            (t["id"], c["id"], c["detail"])
            for t in check["tasks"]
            for c in t["checks"]
            if not c["passed"]
        ]
        submitted = exam_stack.client.post(
            f"{API}/exam-attempts/{attempt['id']}/submit", headers=bearer(token)
        )
        assert submitted.status_code == 202
        assert submitted.get_json()["status"] in ("grading", "graded")
        graded = exam_stack.wait_status(attempt["id"], token, "graded", "failed", timeout=180)
    assert graded["status"] == "graded" and graded["auto_submitted"] is False
    assert graded["score"] == 100 and graded["passed"] is True

    result = exam_stack.client.get(
        f"{API}/exam-attempts/{attempt['id']}/result", headers=bearer(token)
    ).get_json()
    assert result["score"] == 100 and result["passed"] is True
    assert [t["id"] for t in result["tasks"]] == [t.id for t in exam.tasks]
    assert {d["domain"]: d["score"] for d in result["domains"]}["Troubleshooting"] == 30
    first = result["tasks"][0]
    assert first["solution"] == exam.tasks[0].solution
    assert set(first["checks"][0]) == {"id", "passed", "points", "earned", "message"}
    # Submitting again changes nothing; the clusters are freed after the final grade.
    again = exam_stack.client.post(
        f"{API}/exam-attempts/{attempt['id']}/submit", headers=bearer(token)
    )
    assert again.status_code == 202 and again.get_json()["score"] == 100
    cluster_ids = exam_stack.cluster_ids(attempt["id"])
    end = time.monotonic() + 30
    while set(cluster_ids.values()) & set(exam_stack.sim.clusters) and time.monotonic() < end:
        time.sleep(0.2)
    assert not set(cluster_ids.values()) & set(exam_stack.sim.clusters)


def test_the_deadline_submits_and_grades_an_untouched_attempt(
    exam_stack: ExamStack, make_user: Any
) -> None:
    from app.extensions import db
    from app.models.exam import ExamAttempt
    from app.services import exam_attempts

    small_exam()
    _, token = make_user()
    attempt = start(exam_stack, token, "tiny-mock")
    exam_stack.wait_status(attempt["id"], token, "running")
    with exam_stack.app.app_context():
        # Before the deadline the expiry job only reschedules itself.
        with pytest.raises(exam_attempts.AttemptNotDue):
            exam_attempts.expire(attempt["id"])
        row = db.session.get(ExamAttempt, attempt["id"])
        row.deadline_at = row.started_at - timedelta(seconds=1)
        db.session.commit()
    # Past the deadline the clusters are closed to the candidate at once.
    late = exam_stack.client.get(
        f"{API}/exam-attempts/{attempt['id']}/kubeconfig", headers=bearer(token)
    )
    assert assert_json_error(late, 409)["errors"]["status"] == ["expired"]
    with exam_stack.app.app_context():
        # The sweeper stands in for the expiry job (its next poll may be a minute away).
        assert exam_attempts.sweep() == [attempt["id"]]
        assert exam_attempts.sweep() == []
    graded = exam_stack.wait_status(attempt["id"], token, "graded", "failed")
    assert graded["status"] == "graded" and graded["auto_submitted"] is True
    assert graded["score"] == 0 and graded["passed"] is False
    result = exam_stack.client.get(
        f"{API}/exam-attempts/{attempt['id']}/result", headers=bearer(token)
    ).get_json()
    assert [(t["id"], t["score"]) for t in result["tasks"]] == [("answer", 0), ("namespace", 0)]


def test_submit_grades_the_clusters_once_with_per_task_scores(
    exam_stack: ExamStack, make_user: Any
) -> None:
    small_exam()
    _, token = make_user()
    attempt = start(exam_stack, token, "tiny-mock")
    # A second attempt while one is in progress is refused.
    second = exam_stack.client.post(f"{API}/exams/tiny-mock/attempts", headers=bearer(token))
    assert "limit" in assert_json_error(second, 409)["errors"]
    exam_stack.wait_status(attempt["id"], token, "running")
    config = kubeconfig_file(exam_stack, token, attempt["id"])
    kubectl = str(Path(sys.executable).parent / "kubectl")
    created = subprocess.run(
        [kubectl, "create", "configmap", "answer", "--from-literal=value=42"],
        env={"KUBECONFIG": str(config), "HOME": str(exam_stack.workdir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    shell = exam_stack.client.post(
        f"{API}/exam-attempts/{attempt['id']}/exec",
        json={"context": "k8s-x", "node": "controlplane", "command": "crictl ps"},
        headers=bearer(token),
    )
    assert shell.status_code == 200 and "kube-apiserver" in shell.get_json()["stdout"]
    unknown = exam_stack.client.post(
        f"{API}/exam-attempts/{attempt['id']}/exec",
        json={"context": "k8s-q", "node": "controlplane", "command": "ls"},
        headers=bearer(token),
    )
    assert_json_error(unknown, 404)
    exam_stack.client.post(f"{API}/exam-attempts/{attempt['id']}/submit", headers=bearer(token))
    graded = exam_stack.wait_status(attempt["id"], token, "graded", "failed")
    assert graded["score"] == 70 and graded["passed"] is True
    assert [g["final"] for g in graded["grades"]] == [True]
    result = exam_stack.client.get(
        f"{API}/exam-attempts/{attempt['id']}/result", headers=bearer(token)
    ).get_json()
    assert [(t["id"], t["score"], t["percentage"]) for t in result["tasks"]] == [
        ("answer", 70, 100),
        ("namespace", 0, 0),
    ]
    # Over: the clusters are not the candidate's any more.
    closed = exam_stack.client.get(
        f"{API}/exam-attempts/{attempt['id']}/kubeconfig", headers=bearer(token)
    )
    assert_json_error(closed, 409)


def test_who_may_see_grade_and_submit_an_attempt(exam_stack: ExamStack, make_user: Any) -> None:
    small_exam()
    learner, token = make_user()
    _, stranger = make_user()
    _, other_trainer = make_user("trainer")
    trainer = trainer_of(exam_stack, make_user, learner)
    exams = exam_stack.client.get(f"{API}/exams", headers=bearer(token)).get_json()
    assert {e["slug"] for e in exams} >= {"cka-mock-1", "tiny-mock"}
    detail = exam_stack.client.get(f"{API}/exams/{SLUG}", headers=bearer(token)).get_json()
    assert len(detail["tasks"]) == len(EXAM.tasks)
    assert all(
        set(t) == {"number", "id", "title", "domain", "context", "weight"} for t in detail["tasks"]
    )
    assert_json_error(exam_stack.client.get(f"{API}/exams/nope", headers=bearer(token)), 404)
    assert_json_error(exam_stack.client.get(f"{API}/exams"), 401)

    attempt = start(exam_stack, token, "tiny-mock")
    attempt_id = attempt["id"]
    for path in ("", "/kubeconfig", "/result"):
        for other in (stranger, other_trainer):
            response = exam_stack.client.get(
                f"{API}/exam-attempts/{attempt_id}{path}", headers=bearer(other)
            )
            assert_json_error(response, 404)
    assert_json_error(
        exam_stack.client.post(
            f"{API}/exam-attempts/{attempt_id}/submit", headers=bearer(stranger)
        ),
        404,
    )
    # Learners do not grade on demand; trainers outside the cohort cannot see it.
    assert_json_error(
        exam_stack.client.post(f"{API}/exam-attempts/{attempt_id}/grades", headers=bearer(token)),
        403,
    )
    assert_json_error(
        exam_stack.client.post(
            f"{API}/exam-attempts/{attempt_id}/grades", headers=bearer(other_trainer)
        ),
        404,
    )
    # Submitting while the clusters are still being made is refused.
    early = exam_stack.client.post(
        f"{API}/exam-attempts/{attempt_id}/submit", headers=bearer(token)
    )
    if early.status_code == 409:
        assert assert_json_error(early, 409)["errors"]["status"] == ["provisioning"]
    running = exam_stack.wait_status(attempt_id, token, "running", "grading", "graded")
    mine = exam_stack.client.get(f"{API}/exam-attempts", headers=bearer(token)).get_json()
    assert [a["id"] for a in mine] == [attempt_id]
    assert exam_stack.client.get(f"{API}/exam-attempts", headers=bearer(stranger)).get_json() == []
    seen = exam_stack.client.get(
        f"{API}/exam-attempts/{attempt_id}", headers=bearer(trainer)
    ).get_json()
    assert seen["user_id"] == learner.id and set(seen["clusters"]) == {"k8s-x"}
    if running["status"] == "running":
        grade = trainer_grade(exam_stack, trainer, attempt_id)
        assert grade["final"] is False and grade["score"] == 0
        # A trainer does not submit for the candidate.
        refused = exam_stack.client.post(
            f"{API}/exam-attempts/{attempt_id}/submit", headers=bearer(trainer)
        )
        assert_json_error(refused, 409)


def test_openapi_documents_the_exam_paths(exam_stack: ExamStack) -> None:
    spec = exam_stack.client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/exams",
        "/api/v1/exams/{slug}",
        "/api/v1/exams/{slug}/attempts",
        "/api/v1/exam-attempts/{attempt_id}",
        "/api/v1/exam-attempts/{attempt_id}/submit",
        "/api/v1/exam-attempts/{attempt_id}/result",
        "/api/v1/exam-attempts/{attempt_id}/grades",
    ):
        assert path in paths, path
    result = paths["/api/v1/exam-attempts/{attempt_id}/result"]["get"]["responses"]
    assert {"200", "404", "409"} <= set(result)
    assert "ExamGrade" in spec["components"]["schemas"]
