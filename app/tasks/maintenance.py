"""Maintenance tasks: the stuck-job sweeper, the jobs-table purge, and `ping`, a job that
proves the whole path (row, commit, message, worker, result) works."""

from __future__ import annotations

from typing import Any

from celery import current_task, shared_task

from app.logging import get_logger
from app.services import jobs

log = get_logger(__name__)


@shared_task(name="certprep.maintenance.sweep_stuck_jobs")
def sweep_stuck_jobs() -> dict[str, list[int]]:
    """Publish outbox rows, re-publish jobs whose lease lapsed or whose deadline passed;
    fail those out of attempts.

    Not a durable job itself: beat sends it every few seconds
    (`jobs.SWEEP_INTERVAL_SECONDS`), so a lost sweep is replaced by the next one.
    """
    return jobs.sweep_stuck_jobs().as_dict()


@shared_task(name="certprep.maintenance.purge_finished_jobs")
def purge_finished_jobs(older_than_days: int = jobs.FINISHED_JOB_RETENTION_DAYS) -> int:
    """Delete finished jobs older than the retention period; returns how many."""
    deleted = jobs.purge_finished_jobs(older_than_days=older_than_days)
    if deleted:
        log.info("jobs.purged", deleted=deleted)
    return deleted


@jobs.job_task("certprep.maintenance.ping")
def ping(message: str = "ping") -> dict[str, Any]:
    """Answer with `message` and the worker's name (stored as the job's result)."""
    return {"reply": message, "worker": current_task.request.hostname}
