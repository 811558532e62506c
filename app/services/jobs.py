"""Durable jobs: state first, messages second.

Every piece of background work (provisioning a lab cluster, grading, expiring an attempt)
goes through here:

1. `enqueue("certprep.x.y", *ids)` adds a `Job` row in the caller's transaction. Its Celery
   message, which carries only the job id, is published after that transaction commits
   (an `after_commit` hook), so a worker never sees a job the database does not have, and
   a rolled-back request publishes nothing.
   A publish that fails leaves the row in the outbox (`published_at` is None).
2. A task declared with `@job_task("certprep.x.y")` receives the message, claims the row
   (pending -> running, a conditional UPDATE so only one delivery wins) with a lease of
   `LEASE_SECONDS` that a heartbeat thread renews while the body runs, runs the body with
   the stored arguments and records done + result or the error. A second delivery of a
   job whose lease is live, or of a finished job, does nothing, so every job task is
   idempotent; a delivery of a job whose lease lapsed (its worker died) claims it again.
3. Errors are retried by Celery with exponential backoff and full jitter; after the last
   retry, or on `PermanentJobError`, the job is failed.
4. `sweep_stuck_jobs()` (a periodic task, every few seconds) publishes outbox rows the
   web process could not publish, re-publishes running jobs whose lease lapsed (the
   worker was killed) and open jobs past their deadline (the message was lost), and
   fails them after `max_attempts` publishes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import Celery, Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from flask import current_app
from sqlalchemy import and_, delete, event, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.extensions import db
from app.logging import get_logger
from app.models.base import utcnow
from app.models.job import OPEN_STATUSES, Job, JobStatus
from app.services.errors import Conflict, NotFound

log = get_logger(__name__)

# Seconds a job may wait in the queue plus run before the sweeper re-publishes it. Longer
# than the hard task time limit (app.celery_app.TASK_TIME_LIMIT, 300 s) so a run that is
# still allowed to finish is not duplicated.
DEFAULT_DEADLINE_SECONDS = 900
DEFAULT_MAX_ATTEMPTS = 3

# A running job's claim lasts this long unless renewed; the body's heartbeat renews it
# every `HEARTBEAT_SECONDS`. A killed worker's job is claimable again this long after its
# last renewal, and the sweeper (every `SWEEP_INTERVAL_SECONDS`) re-publishes it.
LEASE_SECONDS = 10
HEARTBEAT_SECONDS = 2.5
# How often beat sends the sweeper (app.tasks.schedule).
SWEEP_INTERVAL_SECONDS = 5
# An unpublished row this old is published by the sweeper: longer than a commit and
# publish take, so a web process in the middle of publishing is rarely doubled.
OUTBOX_GRACE_SECONDS = 3

# Jobs the sweeper examines per run; the next run takes the rest.
SWEEP_BATCH = 500

# Finished jobs are kept this long for inspection, then purged.
FINISHED_JOB_RETENTION_DAYS = 30

# Longest error text kept on a job row.
_ERROR_LIMIT = 4000

_OUTBOX = "certprep.jobs.outbox"
_LISTENING = "certprep.jobs.listening"


class UnknownJobTask(ValueError):
    """`enqueue` was given a task name that no job task registered."""


class PermanentJobError(Exception):
    """Raised by a job body when retrying cannot help; the job fails at once."""


@dataclass
class SweepReport:
    """What one sweep did: ids re-published (a new attempt), ids given up on, and outbox
    ids published for the first time."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "requeued": list(self.requeued),
            "failed": list(self.failed),
            "published": list(self.published),
        }


def _celery() -> Celery:
    return current_app.extensions["celery"]


def enqueue(
    task_name: str,
    *args: Any,
    deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Add a job for `task_name` with positional `args` (ids and other JSON scalars) to the
    current transaction of `db.session`; its message is published when that transaction
    commits. The caller commits (services own their transactions).

    Needs an app context. Raises `UnknownJobTask` for a name no `@job_task` registered and
    `ValueError` for non-JSON arguments or a deadline/attempt count below 1.
    """
    celery = _celery()
    task = celery.tasks.get(task_name)
    if task is None or not getattr(task, "is_job_task", False):
        raise UnknownJobTask(f"no job task is registered as {task_name!r}")
    if deadline_seconds < 1 or max_attempts < 1:
        raise ValueError("deadline_seconds and max_attempts must be at least 1")
    try:
        json.dumps(list(args))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job arguments must be JSON values: {exc}") from None

    now = utcnow()
    job = Job(
        task_name=task_name,
        args=list(args),
        status=JobStatus.PENDING,
        attempts=1,
        max_attempts=max_attempts,
        runs=0,
        deadline_seconds=deadline_seconds,
        deadline_at=now + timedelta(seconds=deadline_seconds),
        created_at=now,
        updated_at=now,
    )
    session = db.session()
    session.add(job)
    session.flush()  # assigns job.id, which the message carries
    _publish_after_commit(session, celery, job.task_name, job.id)
    return job


def _publish_after_commit(session: Session, celery: Celery, task_name: str, job_id: int) -> None:
    if not session.info.get(_LISTENING):
        event.listen(session, "after_commit", _flush_outbox)
        event.listen(session, "after_rollback", _drop_outbox)
        session.info[_LISTENING] = True
    session.info.setdefault(_OUTBOX, []).append((celery, task_name, job_id))


def _flush_outbox(session: Session) -> None:
    pending = session.info.get(_OUTBOX) or []
    session.info[_OUTBOX] = []
    for celery, task_name, job_id in pending:
        if not publish(celery, task_name, job_id):
            # The broker is down or hung: the rest stay in the outbox for the sweeper
            # instead of each waiting out the same timeout.
            break


def _drop_outbox(session: Session) -> None:
    session.info[_OUTBOX] = []


def publish(celery: Celery, task_name: str, job_id: int) -> bool:
    """Send the message for job `job_id` and mark the row published. Returns False (and
    logs) when the broker cannot be reached or does not answer within its socket timeouts
    (`app.celery_app`): the row stays in the outbox and the sweeper publishes it a few
    seconds later. Never raises."""
    try:
        celery.send_task(
            task_name,
            args=[job_id],
            # One attempt, bounded by the broker's socket timeouts: a web request never
            # waits on a broker for long, and the sweeper is the retry.
            retry=False,
        )
    except Exception as exc:
        log.warning("job.publish_failed", job_id=job_id, task=task_name, error=str(exc))
        return False
    log.debug("job.published", job_id=job_id, task=task_name)
    try:
        _mark_published(db.engine, job_id)
    except Exception as exc:
        # The message is out; at worst the sweeper publishes a duplicate, and only one
        # delivery can claim the job.
        log.warning("job.mark_published_failed", job_id=job_id, error=str(exc))
    return True


def _mark_published(engine: Engine, job_id: int) -> None:
    # Its own connection: this runs after the caller's commit, when the caller's session
    # may not emit SQL.
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.published_at.is_(None))
            .values(published_at=now, updated_at=now)
        )


# ----------------------------------------------------------------------------- tasks


def job_task(
    name: str,
    *,
    retry_for: tuple[type[BaseException], ...] = (Exception,),
    **options: Any,
) -> Callable[[Callable[..., Any]], Task]:
    """Declare `fn(*args)` as the body of job task `name`.

    The Celery task takes one argument, the job id; it claims the job, calls the body with
    the job's stored arguments, and stores the body's return value (JSON) as the result.
    Exceptions in `retry_for` are retried with backoff and jitter (`max_retries` and the
    other Celery task options may be passed in `options`); others, and
    `PermanentJobError`, fail the job at once.
    """

    def decorate(body: Callable[..., Any]) -> Task:
        def run(task: Task, job_id: int) -> None:
            run_job(task, job_id, body, retry_for)

        run.__doc__ = body.__doc__
        # Options become attributes of the task class Celery builds for every app;
        # `is_job_task` lets `enqueue` refuse plain tasks, `body` lets tests call it.
        return shared_task(
            name=name, bind=True, is_job_task=True, body=staticmethod(body), **options
        )(run)

    return decorate


def run_job(
    task: Task,
    job_id: int,
    body: Callable[..., Any],
    retry_for: tuple[type[BaseException], ...] = (Exception,),
) -> None:
    """Claim job `job_id`, run `body` with its arguments and record the outcome.

    Does nothing for an unknown, finished or claimed-elsewhere job. Raises Celery's
    `Retry` when the body failed and a retry is left.
    """
    session = db.session
    job = session.get(Job, job_id)
    if job is None:
        log.warning("job.unknown", job_id=job_id)
        return
    if job.task_name != task.name:
        log.error("job.wrong_task", job_id=job_id, expected=job.task_name)
        return
    now = utcnow()
    if job.is_finished:
        log.info("job.already_finished", job_id=job_id, status=job.status.value)
        return
    if job.status is JobStatus.RUNNING and claim_is_live(job, now):
        log.info("job.claimed_elsewhere", job_id=job_id, worker=job.worker)
        return
    if job.status is JobStatus.RUNNING:
        log.warning("job.lease_lapsed", job_id=job_id, worker=job.worker, run=job.runs)

    run_number = job.runs + 1
    args = list(job.args)
    deadline_seconds = job.deadline_seconds
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.runs == job.runs, Job.status == job.status)
        .values(
            status=JobStatus.RUNNING,
            runs=run_number,
            started_at=now,
            updated_at=now,
            worker=task.request.hostname,
            lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
            deadline_at=now + timedelta(seconds=deadline_seconds),
        )
    ).rowcount
    session.commit()
    if claimed != 1:
        log.info("job.claimed_elsewhere", job_id=job_id)
        return
    log.info("job.started", job_id=job_id, run=run_number)

    heartbeat = LeaseHeartbeat(db.engine, job_id, run_number)
    heartbeat.start()
    try:
        result = body(*args)
        json.dumps(result)
    except Exception as exc:
        heartbeat.stop()
        session.rollback()
        _after_failure(task, job_id, run_number, deadline_seconds, exc, retry_for)
        return
    finally:
        heartbeat.stop()
    if _record(job_id, run_number, JobStatus.DONE, result=result, finished_at=utcnow()):
        log.info("job.done", job_id=job_id, run=run_number)
    else:
        log.warning("job.result_dropped", job_id=job_id, run=run_number)


def claim_is_live(job: Job, now: datetime) -> bool:
    """Whether a running job's claim still holds: its lease (or, for a row claimed before
    leases existed, its deadline) has not passed."""
    until = job.lease_expires_at if job.lease_expires_at is not None else job.deadline_at
    return until > now


class LeaseHeartbeat:
    """A daemon thread renewing the lease of run `run_number` of job `job_id` every
    `HEARTBEAT_SECONDS` on its own connection, until `stop()`. The renewal is conditional
    on the run still holding the claim, so it never revives a job the sweeper handed to
    another worker (that run's outcome is dropped by `_record`)."""

    def __init__(self, engine: Engine, job_id: int, run_number: int) -> None:
        self.engine = engine
        self.job_id = job_id
        self.run_number = run_number
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._thread.join(timeout=HEARTBEAT_SECONDS * 2)

    def renew(self) -> bool:
        """Push the lease `LEASE_SECONDS` ahead; False when this run lost the claim."""
        now = utcnow()
        with self.engine.begin() as connection:
            rows = connection.execute(
                update(Job)
                .where(
                    Job.id == self.job_id,
                    Job.runs == self.run_number,
                    Job.status == JobStatus.RUNNING,
                )
                .values(lease_expires_at=now + timedelta(seconds=LEASE_SECONDS), updated_at=now)
            ).rowcount
        return rows == 1

    def _run(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            try:
                if not self.renew():
                    log.warning("job.lease_lost", job_id=self.job_id, run=self.run_number)
                    return
            except Exception as exc:
                # A busy or briefly unreachable database: try again on the next beat.
                log.warning("job.lease_renew_failed", job_id=self.job_id, error=str(exc))


def _after_failure(
    task: Task,
    job_id: int,
    run_number: int,
    deadline_seconds: int,
    exc: Exception,
    retry_for: tuple[type[BaseException], ...],
) -> None:
    error = f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]
    retries = task.request.retries or 0
    retryable = isinstance(exc, retry_for) and not isinstance(exc, PermanentJobError)
    if retryable and retries < (task.max_retries or 0):
        countdown = get_exponential_backoff_interval(
            factor=task.retry_backoff or 1,
            retries=retries,
            maximum=task.retry_backoff_max,
            full_jitter=bool(task.retry_jitter),
        )
        # Back to pending, with a deadline that covers the backoff, so the sweeper does
        # not publish a second copy while the retry waits.
        _record(
            job_id,
            run_number,
            JobStatus.PENDING,
            last_error=error,
            deadline_at=utcnow() + timedelta(seconds=countdown + deadline_seconds),
        )
        log.warning("job.retrying", job_id=job_id, error=error, countdown=countdown)
        raise task.retry(exc=exc, countdown=countdown)
    _record(job_id, run_number, JobStatus.FAILED, last_error=error, finished_at=utcnow())
    log.error("job.failed", job_id=job_id, error=error, exc_info=exc)


def _record(job_id: int, run_number: int, status: JobStatus, **values: Any) -> bool:
    # Only the run that claimed the job may record its outcome; a success also lands on a
    # job the sweeper meanwhile gave up on (the work was done after all).
    allowed = [*OPEN_STATUSES, JobStatus.FAILED] if status is JobStatus.DONE else OPEN_STATUSES
    session = db.session
    rows = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.runs == run_number, Job.status.in_(allowed))
        .values(status=status, updated_at=utcnow(), **values)
    ).rowcount
    session.commit()
    return rows == 1


# ---------------------------------------------------------------------------- sweeper


def sweep_stuck_jobs(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> SweepReport:
    """Publish outbox rows, re-publish running jobs whose lease lapsed and open jobs whose
    deadline passed, or fail those out of attempts.

    Each row changes through a conditional UPDATE, so concurrent sweeps and workers never
    double-publish or overwrite a finished job. Commits; messages go out after commit.
    """
    now = now or utcnow()
    session = db.session()
    celery = _celery()
    report = SweepReport()
    lapsed = or_(
        and_(Job.status == JobStatus.PENDING, Job.deadline_at < now),
        and_(
            Job.status == JobStatus.RUNNING,
            or_(
                Job.lease_expires_at < now,
                and_(Job.lease_expires_at.is_(None), Job.deadline_at < now),
            ),
        ),
    )
    candidates = session.execute(
        select(
            Job.id,
            Job.task_name,
            Job.status,
            Job.runs,
            Job.attempts,
            Job.max_attempts,
            Job.deadline_seconds,
        )
        .where(lapsed)
        .order_by(Job.id)
        .limit(limit)
    ).all()
    unpublished = session.execute(
        select(Job.id, Job.task_name)
        .where(
            Job.status == JobStatus.PENDING,
            Job.published_at.is_(None),
            Job.updated_at < now - timedelta(seconds=OUTBOX_GRACE_SECONDS),
            Job.deadline_at >= now,
        )
        .order_by(Job.id)
        .limit(limit)
    ).all()
    for row in candidates:
        unchanged = update(Job).where(
            Job.id == row.id,
            Job.status == row.status,
            Job.runs == row.runs,
            Job.attempts == row.attempts,
        )
        if row.attempts >= row.max_attempts:
            changed = session.execute(
                unchanged.values(
                    status=JobStatus.FAILED,
                    finished_at=now,
                    updated_at=now,
                    last_error=(
                        f"gave up after {row.attempts} attempts: "
                        "no worker finished the job before its deadline"
                    ),
                )
            ).rowcount
            if changed:
                report.failed.append(row.id)
        else:
            changed = session.execute(
                unchanged.values(
                    status=JobStatus.PENDING,
                    attempts=row.attempts + 1,
                    deadline_at=now + timedelta(seconds=row.deadline_seconds),
                    published_at=None,
                    updated_at=now,
                )
            ).rowcount
            if changed:
                report.requeued.append(row.id)
                _publish_after_commit(session, celery, row.task_name, row.id)
    session.commit()
    for pending in unpublished:
        if not publish(celery, pending.task_name, pending.id):
            break  # the broker is down or hung: the next sweep tries again
        report.published.append(pending.id)
    if report.requeued or report.failed or report.published:
        log.info("jobs.swept", **report.as_dict())
    return report


def requeue_failed_job(job_id: int) -> Job:
    """Give failed job `job_id` a fresh set of attempts and publish it again (after the
    commit this function makes). For an operator after fixing the cause of a failure.

    Raises `NotFound` for an unknown job and `Conflict` for a job that has not failed.
    """
    session = db.session()
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    if job.status is not JobStatus.FAILED:
        raise Conflict(f"Job {job_id} is {job.status.value}; only failed jobs are requeued.")
    now = utcnow()
    job.status = JobStatus.PENDING
    job.attempts = 1
    job.deadline_at = now + timedelta(seconds=job.deadline_seconds)
    job.published_at = None
    job.finished_at = None
    job.updated_at = now
    _publish_after_commit(session, _celery(), job.task_name, job.id)
    session.commit()
    log.info("job.requeued", job_id=job_id)
    return job


def purge_finished_jobs(*, older_than_days: int = FINISHED_JOB_RETENTION_DAYS) -> int:
    """Delete done and failed jobs finished more than `older_than_days` ago; returns how
    many. Commits."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    session = db.session
    deleted = session.execute(
        delete(Job).where(
            Job.status.in_([JobStatus.DONE, JobStatus.FAILED]), Job.finished_at < cutoff
        )
    ).rowcount
    session.commit()
    return deleted


def count_jobs(now: datetime | None = None) -> tuple[dict[str, int], int]:
    """Rows per status (every status present, zero included) and open rows past their
    deadline. Raises SQLAlchemy errors when the database is unreachable."""
    now = now or utcnow()
    counts = {status.value: 0 for status in JobStatus}
    for status, count in db.session.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[JobStatus(status).value] = count
    overdue = db.session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            or_(
                and_(Job.status.in_(OPEN_STATUSES), Job.deadline_at < now),
                and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now),
            )
        )
    )
    return counts, int(overdue or 0)
