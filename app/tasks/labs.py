"""Lab tasks: provisioning, grading, expiry and cluster release of lab sessions, and the
periodic expiry sweeper. Each is a durable job (app.services.jobs): the message carries
the job id, the job row carries the session or grade id, and the body is a service call
that is safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import current_task, shared_task
from sqlalchemy.exc import OperationalError

from app.clusters import ProviderError
from app.services import grades, jobs, lab_sessions

# The expiry job re-checks with backoff capped at this many seconds, so a session
# closes at most this late (the sweeper also closes it).
EXPIRY_POLL_MAX_SECONDS = 60
# Enough polls for the longest lab (240 minutes) at the cap above.
EXPIRY_MAX_POLLS = 300
# A grade whose cluster is unreachable is retried this many times, with full-jitter
# backoff of up to 1, 2, 4, 8 s (at most 15 s of waiting in all), then fails with a
# message (app.services.grades): an infrastructure error, never a score.
GRADE_MAX_RETRIES = 4
GRADE_RETRY_BACKOFF_MAX = 8


@jobs.job_task(lab_sessions.PROVISION_TASK)
def provision_lab_session(session_id: int) -> dict[str, Any]:
    """Create the session's cluster, apply the lab's setup, mark it ready."""
    return lab_sessions.provision(session_id)


@jobs.job_task(
    grades.GRADE_TASK,
    retry_for=(OperationalError, ProviderError, OSError),
    max_retries=GRADE_MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=GRADE_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def grade_lab_session(grade_id: int) -> dict[str, Any]:
    """Grade the cluster for grade `grade_id` and store the result once; on the last
    retry an unreachable or missing cluster fails the grade instead of raising."""
    task = current_task
    last_try = True
    if task is not None and task.name == grades.GRADE_TASK:
        last_try = (task.request.retries or 0) >= (task.max_retries or 0)
    return grades.run_grade(grade_id, give_up=last_try)


@jobs.job_task(
    lab_sessions.EXPIRE_TASK,
    retry_for=(lab_sessions.SessionNotDue, OperationalError, ProviderError),
    max_retries=EXPIRY_MAX_POLLS,
    retry_backoff=True,
    retry_backoff_max=EXPIRY_POLL_MAX_SECONDS,
    retry_jitter=False,
)
def expire_lab_session(session_id: int) -> dict[str, Any]:
    """Close the session at its expiry: final grade, cluster deleted, status expired."""
    return lab_sessions.expire(session_id)


@jobs.job_task(lab_sessions.RELEASE_TASK, retry_for=(ProviderError, OperationalError))
def release_lab_cluster(session_id: int) -> dict[str, Any]:
    """Delete the cluster of a session that ended."""
    return lab_sessions.release_cluster(session_id)


@shared_task(name="certprep.labs.sweep_expired_lab_sessions")
def sweep_expired_lab_sessions() -> list[int]:
    """Close sessions past their expiry whose expiry job is late or lost, and fail
    sessions stuck provisioning. Not a durable job: beat sends it periodically."""
    return lab_sessions.sweep_expired_sessions()
