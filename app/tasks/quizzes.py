"""Attempt expiry: the durable job enqueued at attempt start, and the periodic sweeper.
The bodies are service calls (app.services.attempts), as for the lab tasks."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from sqlalchemy.exc import OperationalError

from app.services import attempts as attempts_service
from app.services import jobs

# The expiry job is published at attempt start; until the attempt expires it re-checks
# with backoff capped at this many seconds, so an attempt closes at most this late (the
# learner is cut off at the deadline by the server anyway).
EXPIRY_POLL_MAX_SECONDS = 60
# Enough polls for a 10-hour attempt (time limit x accommodation) at the cap above.
EXPIRY_MAX_POLLS = 700


@jobs.job_task(
    attempts_service.EXPIRE_TASK,
    retry_for=(attempts_service.AttemptNotDue, OperationalError),
    max_retries=EXPIRY_MAX_POLLS,
    retry_backoff=True,
    retry_backoff_max=EXPIRY_POLL_MAX_SECONDS,
    retry_jitter=False,
)
def expire_attempt(attempt_id: int) -> dict[str, Any]:
    """Close attempt `attempt_id` by its expiry policy once it expired (retried while
    it is not due); running it on a closed attempt changes nothing."""
    return attempts_service.expire(attempt_id)


@shared_task(name="certprep.quizzes.sweep_expired_attempts")
def sweep_expired_attempts() -> list[int]:
    """Close open attempts past their expiry whose job was lost or is late.

    Not a durable job: beat sends it periodically, and a lost sweep is replaced by the
    next one.
    """
    return attempts_service.sweep_expired_attempts()
