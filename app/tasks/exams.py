"""Exam tasks: provisioning, grading, expiry and cluster release of exam attempts, and
the periodic sweeper. Each is a durable job (app.services.jobs): the message carries the
job id, the job row the attempt or grade id, and the body is a service call that is safe
to run twice."""

from __future__ import annotations

from typing import Any

from celery import current_task, shared_task
from sqlalchemy.exc import OperationalError

from app.clusters import ProviderError
from app.services import exam_attempts, exam_grading, jobs

# The expiry job re-checks with backoff capped at this many seconds, so an attempt is
# submitted at most this late (the sweeper also submits it).
EXPIRY_POLL_MAX_SECONDS = 60
# Enough polls for the longest exam (240 minutes) at the cap above.
EXPIRY_MAX_POLLS = 300
GRADE_MAX_RETRIES = 4
GRADE_RETRY_BACKOFF_MAX = 8


@jobs.job_task(exam_attempts.PROVISION_TASK)
def provision_exam_attempt(attempt_id: int) -> dict[str, Any]:
    """Create one cluster per context, apply the setup, start the timer."""
    return exam_attempts.provision(attempt_id)


@jobs.job_task(
    exam_grading.GRADE_TASK,
    retry_for=(OperationalError, ProviderError, OSError),
    max_retries=GRADE_MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=GRADE_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def grade_exam_attempt(grade_id: int) -> dict[str, Any]:
    """Grade every task of the attempt once and store the breakdown; on the last retry
    an unreachable cluster fails the grade instead of raising."""
    task = current_task
    last_try = True
    if task is not None and task.name == exam_grading.GRADE_TASK:
        last_try = (task.request.retries or 0) >= (task.max_retries or 0)
    return exam_grading.run_grade(grade_id, give_up=last_try)


@jobs.job_task(
    exam_attempts.EXPIRE_TASK,
    retry_for=(exam_attempts.AttemptNotDue, OperationalError),
    max_retries=EXPIRY_MAX_POLLS,
    retry_backoff=True,
    retry_backoff_max=EXPIRY_POLL_MAX_SECONDS,
    retry_jitter=False,
)
def expire_exam_attempt(attempt_id: int) -> dict[str, Any]:
    """Submit the attempt at its deadline (the final grade follows)."""
    return exam_attempts.expire(attempt_id)


@jobs.job_task(exam_attempts.RELEASE_TASK, retry_for=(ProviderError, OperationalError))
def release_exam_clusters(attempt_id: int) -> dict[str, Any]:
    """Delete the clusters of an attempt that is over."""
    return exam_attempts.release_clusters(attempt_id)


@shared_task(name="certprep.exams.sweep_exam_attempts")
def sweep_exam_attempts() -> list[int]:
    """Submit attempts past their deadline whose expiry job is late or lost, fail
    attempts stuck provisioning and grades whose job gave up."""
    return exam_attempts.sweep()
