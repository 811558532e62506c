"""Durable jobs: the database row that exists before any Celery message does.

A job names a Celery task and the ids it works on. `app.services.jobs` creates the row in
the caller's transaction, publishes a message carrying only the job id after commit, lets
one worker claim it, and records the outcome; the sweeper re-publishes rows whose deadline
passed (lost message) or whose lease lapsed (killed worker) until `max_attempts` is used
up, and publishes rows whose message never left the outbox.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow, value_enum


class JobStatus(enum.StrEnum):
    """Where a job is in its life: pending (message published, not yet claimed), running
    (claimed by a worker), done, failed (gave up)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# Statuses the sweeper watches; the others are final.
OPEN_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # The sweeper's query: open jobs whose deadline passed.
        Index("ix_jobs_status_deadline_at", "status", "deadline_at"),
        # The sweeper's lease query: running jobs whose worker stopped renewing.
        Index("ix_jobs_status_lease_expires_at", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Registered Celery task name, e.g. "certprep.maintenance.ping".
    task_name: Mapped[str] = mapped_column(String(200))
    # Positional arguments for the task body: ids and other JSON scalars, never objects.
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[JobStatus] = mapped_column(
        value_enum(JobStatus, "status", length=16), default=JobStatus.PENDING
    )
    # Messages published for this job (1 at enqueue, +1 per sweeper re-publish).
    attempts: Mapped[int] = mapped_column(default=1)
    max_attempts: Mapped[int] = mapped_column(default=3)
    # Times a worker claimed the job; also the version the claim and finish compare.
    runs: Mapped[int] = mapped_column(default=0)
    # How long a message may wait and a run may take before the sweeper steps in.
    deadline_seconds: Mapped[int]
    deadline_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Who holds the claim: the Celery node name of the worker that last claimed the job.
    worker: Mapped[str | None] = mapped_column(String(255))
    # While running: the claim is live until then. The running task renews it every few
    # seconds; once it lapses (worker killed, host lost) any delivery may claim the job
    # again and the sweeper re-publishes it.
    lease_expires_at: Mapped[datetime | None]
    # When the current message was handed to the broker; None while it is only in the
    # outbox (commit happened, publish failed or never ran), so the sweeper publishes it.
    published_at: Mapped[datetime | None]
    result: Mapped[Any | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def is_finished(self) -> bool:
        """True for done and failed jobs: no worker will touch them again."""
        return self.status not in OPEN_STATUSES

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.task_name} {self.status.value}>"
