"""Expiry (with the final grade) and recovery of lost work: a grade whose worker died
mid-run is re-run by the jobs sweeper and stored once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.clock import CLOCK_CONFIG_KEY
from app.extensions import db
from app.models.base import utcnow
from app.models.job import Job, JobStatus
from app.models.lab import Grade, GradeStatus, LabSession
from app.services import jobs, lab_sessions
from tests.fixtures.app import bearer
from tests.fixtures.labs import API
from tests.fixtures.worker import wait_for_job, wait_until

pytestmark = [pytest.mark.redis]

SLUG = "rbac-exact-permissions"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment


def _status(session_id: int) -> str:
    db.session.rollback()
    return db.session.get(LabSession, session_id, populate_existing=True).status.value


def ready_session(stack: Any, token: str) -> dict[str, Any]:
    response = stack.client.post(f"{API}/labs/{SLUG}/sessions", headers=bearer(token))
    assert response.status_code == 202
    return stack.wait_status(response.get_json()["id"], token, "ready")


def test_expired_session_takes_a_final_grade_and_frees_its_cluster(lab_stack, make_user):
    _, token = make_user()
    session = ready_session(lab_stack, token)
    row = db.session.get(LabSession, session["id"])
    cluster_id = row.cluster["cluster_id"]
    assert cluster_id in lab_stack.sim.clusters
    # Nothing is due yet.
    assert lab_sessions.sweep_expired_sessions() == []

    lab_stack.app.config[CLOCK_CONFIG_KEY] = Clock(row.expires_at + timedelta(seconds=1))
    try:
        # Past the limit the learner can no longer use the cluster, even before it closes.
        late = lab_stack.client.post(
            f"{API}/lab-sessions/{session['id']}/grades", headers=bearer(token)
        )
        assert late.status_code == 409 and late.get_json()["errors"] == {"status": ["expired"]}
        # The sweeper closes it, unless the worker's expiry job (it reads the same
        # clock) got there first: either way exactly once.
        first = lab_sessions.sweep_expired_sessions()
        assert first in ([session["id"]], [])
        wait_until(lambda: _status(session["id"]) == "expired", "the session to be expired")
        # A second sweep (or the expiry job arriving late) changes nothing.
        assert lab_sessions.sweep_expired_sessions() == []
        assert lab_sessions.expire(session["id"])["status"] == "expired"
    finally:
        lab_stack.app.config.pop(CLOCK_CONFIG_KEY)

    assert cluster_id not in lab_stack.sim.clusters
    body = lab_stack.client.get(f"{API}/lab-sessions/{session['id']}", headers=bearer(token))
    expired = body.get_json()
    assert expired["status"] == "expired" and expired["ended_at"]
    assert [(g["final"], g["status"]) for g in expired["grades"]] == [(True, "done")]
    assert expired["grades"][0]["percentage"] == 0
    blocked = lab_stack.client.post(
        f"{API}/lab-sessions/{session['id']}/grades", headers=bearer(token)
    )
    assert blocked.status_code == 409


def test_expiry_job_waits_until_due(lab_stack, make_user):
    _, token = make_user()
    session = ready_session(lab_stack, token)
    with pytest.raises(lab_sessions.SessionNotDue):
        lab_sessions.expire(session["id"])
    assert db.session.get(LabSession, session["id"]).status.value == "ready"


def test_a_grade_lost_with_its_worker_is_rerun_by_the_sweeper_and_stored_once(lab_stack, make_user):
    _, token = make_user()
    session = ready_session(lab_stack, token)
    # A worker claimed the grade and its job, then died: both rows say running, the
    # job's lease (deadline) has passed, and no message is left.
    now = utcnow()
    grade = Grade(
        session_id=session["id"],
        number=1,
        status=GradeStatus.RUNNING,
        requested_at=now - timedelta(minutes=10),
        started_at=now - timedelta(minutes=10),
        runs=1,
    )
    db.session.add(grade)
    db.session.flush()
    job = Job(
        task_name="certprep.labs.grade_lab_session",
        args=[grade.id],
        status=JobStatus.RUNNING,
        attempts=1,
        max_attempts=3,
        runs=1,
        deadline_seconds=360,
        deadline_at=now - timedelta(seconds=1),
        created_at=now - timedelta(minutes=10),
        updated_at=now - timedelta(minutes=10),
        started_at=now - timedelta(minutes=10),
        worker="dead-worker",
    )
    db.session.add(job)
    db.session.flush()
    grade.job_id = job.id
    db.session.commit()
    grade_id, job_id = grade.id, job.id

    report = jobs.sweep_stuck_jobs()
    assert report.requeued == [job_id]
    finished = wait_for_job(job_id)
    assert finished.status is JobStatus.DONE, finished.last_error
    db.session.rollback()
    stored = db.session.get(Grade, grade_id, populate_existing=True)
    assert stored.status is GradeStatus.DONE and stored.runs == 2
    assert stored.result["grade_id"] == str(grade_id) and len(stored.result["checks"]) == 4
    first_finish = stored.finished_at

    # A duplicate delivery of the same job finds it done and stores nothing.
    jobs.publish(lab_stack.harness.celery, "certprep.labs.grade_lab_session", job_id)
    wait_until(
        lambda: lab_stack.harness.finished_count("certprep.labs.grade_lab_session") >= 2,
        "the duplicate message to be handled",
    )
    db.session.rollback()
    again = db.session.get(Grade, grade_id, populate_existing=True)
    assert again.runs == 2 and again.finished_at == first_finish
    count = db.session.scalar(
        select(func.count()).select_from(Grade).where(Grade.session_id == session["id"])
    )
    assert count == 1


def test_a_provider_failure_fails_the_session_with_its_reason(lab_stack, make_user):
    _, token = make_user()
    lab_stack.app.config["CERTPREP_SIM_URLS"] = "http://127.0.0.1:9"
    response = lab_stack.client.post(f"{API}/labs/{SLUG}/sessions", headers=bearer(token))
    assert response.status_code == 202
    failed = lab_stack.wait_status(response.get_json()["id"], token, "failed")
    assert "unreachable" in failed["error"] and failed["ended_at"]
    # A failed session does not count against the limit.
    assert lab_stack.client.get(f"{API}/lab-sessions", headers=bearer(token)).status_code == 200


def test_grades_whose_job_gave_up_are_failed_by_the_sweeper(lab_stack, make_user):
    _, token = make_user()
    session = ready_session(lab_stack, token)
    now = utcnow()
    job = Job(
        task_name="certprep.labs.grade_lab_session",
        args=[0],
        status=JobStatus.FAILED,
        attempts=3,
        max_attempts=3,
        runs=3,
        deadline_seconds=360,
        deadline_at=now,
        created_at=now,
        updated_at=now,
        finished_at=now,
    )
    db.session.add(job)
    db.session.flush()
    grade = Grade(
        session_id=session["id"], number=1, status=GradeStatus.RUNNING, runs=3, job_id=job.id
    )
    db.session.add(grade)
    row = db.session.get(LabSession, session["id"])
    row.status = row.status.GRADING
    db.session.commit()

    lab_sessions.sweep_expired_sessions()
    db.session.rollback()
    assert db.session.get(Grade, grade.id, populate_existing=True).status is GradeStatus.FAILED
    body = lab_stack.client.get(
        f"{API}/lab-sessions/{session['id']}", headers=bearer(token)
    ).get_json()
    assert body["status"] == "graded" and body["grades"][0]["status"] == "failed"
