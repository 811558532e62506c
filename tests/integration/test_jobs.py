"""Durable jobs: publish after commit, claim once, retries, the sweeper, the purge.

Tests that need a worker use the real one on Redis (`celery_worker`); the others use the
session app, whose embedded broker keeps messages as files we can count.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db
from app.models.base import utcnow
from app.models.job import Job, JobStatus
from app.services import jobs
from app.services.errors import Conflict, NotFound
from app.services.jobs import PermanentJobError, UnknownJobTask, enqueue, job_task
from tests.fixtures.worker import wait_for_job, wait_until

PING = "certprep.maintenance.ping"

# Calls per key, written by the worker thread, read by the test.
_calls: dict[str, int] = {}
_calls_lock = threading.Lock()


def _count_call(key: str) -> int:
    with _calls_lock:
        _calls[key] = _calls.get(key, 0) + 1
        return _calls[key]


@job_task("tests.jobs.fails_once")
def fails_once(key: str) -> dict[str, int]:
    """Raises on its first call for `key`, succeeds on the next."""
    calls = _count_call(key)
    if calls == 1:
        raise RuntimeError("first call fails")
    return {"calls": calls}


@job_task("tests.jobs.refuses")
def refuses(key: str) -> None:
    """Always fails permanently."""
    _count_call(key)
    raise PermanentJobError("cannot be done")


def _queued_files(app) -> list[Path]:
    folder = Path(app.extensions["celery"].conf.broker_transport_options["data_folder_in"])
    return sorted(folder.glob("*.msg"))


# ------------------------------------------------------------------ publish after commit


def test_the_message_is_published_only_after_commit(app, db_session):
    before = len(_queued_files(app))

    job = enqueue(PING, "x")
    assert job.id is not None and job.status is JobStatus.PENDING
    assert len(_queued_files(app)) == before  # flushed, not committed: no message yet

    db_session.commit()
    assert len(_queued_files(app)) == before + 1


def test_a_rolled_back_enqueue_publishes_nothing(app, db_session):
    before = len(_queued_files(app))

    job_id = enqueue(PING, "x").id
    db_session.rollback()
    db_session.commit()  # a later commit must not publish the dropped job

    assert len(_queued_files(app)) == before
    assert db_session.get(Job, job_id) is None


def test_enqueue_refuses_unknown_and_plain_tasks_and_non_json_arguments(app, db_session):
    with pytest.raises(UnknownJobTask):
        enqueue("certprep.nope")
    with pytest.raises(UnknownJobTask):
        enqueue("certprep.maintenance.sweep_stuck_jobs")  # a task, but not a job task
    with pytest.raises(ValueError, match="JSON"):
        enqueue(PING, object())
    with pytest.raises(ValueError):
        enqueue(PING, deadline_seconds=0)
    assert db_session.query(Job).count() == 0


def test_enqueue_records_attempt_and_deadline(app, db_session):
    job = enqueue(PING, "x", deadline_seconds=120, max_attempts=5)
    db_session.commit()
    assert (job.attempts, job.max_attempts, job.runs) == (1, 5, 0)
    assert job.args == ["x"]
    assert timedelta(seconds=119) < job.deadline_at - job.created_at <= timedelta(seconds=121)


# ------------------------------------------------------------------------- the worker


@pytest.mark.redis
def test_a_job_delivered_twice_runs_once_and_stores_one_result(celery_worker):
    job = enqueue(PING, "once")
    db.session.commit()
    first = wait_for_job(job.id)
    result, finished_at = first.result, first.finished_at

    # A duplicate delivery of the same job (redelivery, a second publish).
    jobs.publish(celery_worker.celery, PING, job.id)
    celery_worker.wait_until(
        lambda: celery_worker.finished_count(PING) == 2, "the duplicate message to be handled"
    )

    db.session.rollback()
    again = db.session.get(Job, job.id, populate_existing=True)
    assert again.runs == 1
    assert again.result == result
    assert again.finished_at == finished_at
    assert db.session.query(Job).count() == 1


@pytest.mark.redis
def test_the_sweeper_republishes_a_lost_message_and_the_worker_finishes_it_once(
    celery_worker, make_job
):
    lost = make_job(PING, ("lost",))  # committed, never published, past its deadline

    # The sweeper itself goes through the worker, as beat would send it.
    celery_worker.celery.send_task("certprep.maintenance.sweep_stuck_jobs")
    done = wait_for_job(lost.id)

    assert done.status is JobStatus.DONE
    assert done.result["reply"] == "lost"
    assert (done.attempts, done.runs) == (2, 1)
    assert celery_worker.finished_count(PING) == 1


@pytest.mark.redis
def test_a_job_whose_worker_died_is_run_again_after_its_deadline(celery_worker, make_job):
    # Claimed by a worker that was killed: running, past the deadline, never finished.
    orphan = make_job(
        PING,
        ("orphan",),
        status=JobStatus.RUNNING,
        runs=1,
        worker="dead@host",
        started_at=utcnow() - timedelta(seconds=700),
    )

    report = jobs.sweep_stuck_jobs()
    assert report.requeued == [orphan.id]
    done = wait_for_job(orphan.id)

    assert done.status is JobStatus.DONE
    assert (done.attempts, done.runs) == (2, 2)
    assert done.worker != "dead@host"


@pytest.mark.redis
def test_a_failing_job_is_retried_with_backoff_and_then_succeeds(celery_worker):
    job = enqueue("tests.jobs.fails_once", "retry-me")
    db.session.commit()

    done = wait_for_job(job.id)

    assert done.status is JobStatus.DONE
    assert done.result == {"calls": 2}
    assert done.runs == 2
    assert "first call fails" in done.last_error


@pytest.mark.redis
def test_a_permanent_error_fails_the_job_without_retry(celery_worker):
    job = enqueue("tests.jobs.refuses", "no-retry")
    db.session.commit()

    failed = wait_for_job(job.id)

    assert failed.status is JobStatus.FAILED
    assert failed.last_error == "PermanentJobError: cannot be done"
    assert failed.runs == 1
    assert _calls["no-retry"] == 1


@pytest.mark.redis
def test_a_requeued_failed_job_runs_again(celery_worker, make_job):
    failed = make_job(PING, ("again",), status=JobStatus.FAILED, attempts=3, last_error="gave up")

    jobs.requeue_failed_job(failed.id)
    done = wait_for_job(failed.id)

    assert done.status is JobStatus.DONE
    assert done.result["reply"] == "again"
    assert (done.attempts, done.runs) == (1, 1)


def test_only_failed_jobs_can_be_requeued(app, db_session, make_job):
    pending = make_job(PING, deadline_at=utcnow() + timedelta(minutes=5))
    with pytest.raises(Conflict, match="pending"):
        jobs.requeue_failed_job(pending.id)
    with pytest.raises(NotFound):
        jobs.requeue_failed_job(pending.id + 1000)


# ------------------------------------------------------------------------- the sweeper


def test_the_sweeper_gives_up_after_max_attempts(app, db_session, make_job):
    before = len(_queued_files(app))
    exhausted = make_job(PING, attempts=3, max_attempts=3)

    report = jobs.sweep_stuck_jobs()

    assert report.failed == [exhausted.id] and report.requeued == []
    db_session.refresh(exhausted)
    assert exhausted.status is JobStatus.FAILED
    assert "gave up after 3 attempts" in exhausted.last_error
    assert exhausted.finished_at is not None
    assert len(_queued_files(app)) == before


def test_the_sweeper_leaves_jobs_within_their_deadline_and_finished_jobs(app, db_session, make_job):
    before = len(_queued_files(app))
    fresh = make_job(PING, deadline_at=utcnow() + timedelta(minutes=5))
    running = make_job(
        PING, status=JobStatus.RUNNING, runs=1, deadline_at=utcnow() + timedelta(minutes=5)
    )
    done = make_job(PING, status=JobStatus.DONE, runs=1, finished_at=utcnow())
    failed = make_job(PING, status=JobStatus.FAILED, runs=1, finished_at=utcnow())
    stuck = make_job(PING)

    report = jobs.sweep_stuck_jobs()

    assert report.requeued == [stuck.id] and report.failed == []
    for job in (fresh, running, done, failed):
        before_status = job.status
        db_session.refresh(job)
        assert job.status is before_status and job.attempts == 1
    db_session.refresh(stuck)
    assert stuck.status is JobStatus.PENDING and stuck.attempts == 2
    assert stuck.deadline_at > utcnow()
    assert len(_queued_files(app)) == before + 1


def test_a_second_sweep_right_after_the_first_republishes_nothing(app, db_session, make_job):
    make_job(PING)
    assert len(jobs.sweep_stuck_jobs().requeued) == 1
    assert jobs.sweep_stuck_jobs().as_dict() == {"requeued": [], "failed": [], "published": []}


def test_finished_jobs_past_retention_are_purged(app, db_session, make_job):
    old = utcnow() - timedelta(days=jobs.FINISHED_JOB_RETENTION_DAYS + 1)
    make_job(PING, status=JobStatus.DONE, finished_at=old)
    make_job(PING, status=JobStatus.FAILED, finished_at=old)
    recent = make_job(PING, status=JobStatus.DONE, finished_at=utcnow())
    open_job = make_job(PING)

    assert jobs.purge_finished_jobs() == 2
    assert {j.id for j in db_session.query(Job)} == {recent.id, open_job.id}


def test_job_counts_cover_every_status(app, db_session, make_job):
    make_job(PING)
    make_job(PING, status=JobStatus.DONE, finished_at=utcnow())
    counts, overdue = jobs.count_jobs()
    assert counts == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    assert overdue == 1


def test_the_jobs_migration_matches_the_model(app, db_session):
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), db.metadata)
    about_jobs = [d for d in diffs if "jobs" in repr(d)]
    assert about_jobs == []


def test_wait_until_fails_the_test_when_the_condition_never_holds():
    with pytest.raises(pytest.fail.Exception, match="never"):
        wait_until(lambda: False, "never", timeout=0.3)
