"""Every periodic job, in one list. Celery beat (`certprep beat`, started by `certprep up`)
sends each task on its interval; add a line here to schedule a new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.services.jobs import SWEEP_INTERVAL_SECONDS


@dataclass(frozen=True)
class PeriodicJob:
    """A task sent every `every_seconds` seconds with `kwargs`."""

    name: str
    task: str
    every_seconds: float
    kwargs: dict[str, Any] = field(default_factory=dict)


PERIODIC_JOBS: list[PeriodicJob] = [
    # Publishes outbox rows, re-publishes jobs whose worker died (lease lapsed) or whose
    # message was lost (deadline passed); see app.services.jobs. Every few seconds so a
    # killed worker's job runs again within seconds.
    PeriodicJob(
        "sweep-stuck-jobs", "certprep.maintenance.sweep_stuck_jobs", SWEEP_INTERVAL_SECONDS
    ),
    # Keeps the jobs table small: finished rows older than the retention are deleted.
    PeriodicJob("purge-finished-jobs", "certprep.maintenance.purge_finished_jobs", 3600),
    # Closes quiz attempts past their expiry whose expiry job is late (app.tasks.quizzes).
    PeriodicJob("sweep-expired-attempts", "certprep.quizzes.sweep_expired_attempts", 30),
    # Closes lab sessions past their time limit whose expiry job is late (app.tasks.labs).
    PeriodicJob("sweep-expired-lab-sessions", "certprep.labs.sweep_expired_lab_sessions", 30),
    # Submits exam attempts past their deadline whose expiry job is late (app.tasks.exams).
    PeriodicJob("sweep-exam-attempts", "certprep.exams.sweep_exam_attempts", 30),
]


def beat_schedule(jobs: list[PeriodicJob] | None = None) -> dict[str, dict[str, Any]]:
    """The Celery `beat_schedule` for `jobs` (default `PERIODIC_JOBS`).

    Each message expires after one interval: after downtime, beat's backlog of identical
    periodic messages is dropped instead of running them all. Raises `ValueError` on a
    duplicate name.
    """
    schedule: dict[str, dict[str, Any]] = {}
    for job in PERIODIC_JOBS if jobs is None else jobs:
        if job.name in schedule:
            raise ValueError(f"periodic job {job.name!r} is listed twice")
        schedule[job.name] = {
            "task": job.task,
            "schedule": job.every_seconds,
            "kwargs": dict(job.kwargs),
            "options": {"expires": job.every_seconds},
        }
    return schedule
