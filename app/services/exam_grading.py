"""Grades of exam attempts: every task graded once against its context's cluster.

A grade is a row before it is a message: the final grade is added when the attempt is
submitted or reaches its deadline (`exam_attempts.close`), a trainer's in the request
that asks for it; each carries a job whose body is `run_grade`. The result is stored
once with a conditional UPDATE, so a re-run after a lost worker stores nothing twice.

Scoring: a task's checks run through the lab grading engine (`app.grading.engine`) with
the task's guard cap; the task scores `weight x percentage / 100`; the exam score is the
sum (0-100) and the attempt passes at the exam's `pass_percent` (66 by default). A
cluster that cannot be reached is never a score: the job retries, then the grade fails
with a message.

What a candidate sees: nothing of a grade before the final one is stored; then per task
its score and per check id, points, earned, pass/fail and message, and the reference
solution. Trainers and admins see every grade with the checks' details and evidence.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.clusters import ClusterHandle, ProviderNodeAccess, provider_for
from app.extensions import db
from app.grading.context import GradeContext
from app.grading.engine import grade as grade_cluster
from app.grading.examfile import task_checks
from app.grading.liveness import ensure_cluster_alive
from app.grading.reader import ClusterGoneError, ClusterReader, ClusterUnreachableError
from app.logging import get_logger
from app.models.exam import (
    OPEN_EXAM_GRADE_STATUSES,
    ExamAttempt,
    ExamAttemptStatus,
    ExamGrade,
    ExamGradeStatus,
)
from app.models.job import Job, JobStatus
from app.models.user import User
from app.services import access, jobs
from app.services.errors import Conflict, NotFound
from app.services.exam_attempts import RELEASE_TASK, context_kubeconfig, get_attempt
from app.services.grades import api_client

log = get_logger(__name__)

GRADE_TASK = "certprep.exams.grade_exam_attempt"
# Longer than the task's hard time limit: a slow but live grade is not duplicated.
GRADE_DEADLINE_SECONDS = 900
NOT_GRADED_MESSAGE = "Not graded: an exam cluster could not be reached, so no score was recorded."
LEARNER_CHECK_FIELDS = ("id", "passed", "points", "earned", "message")


def add_grade(attempt_id: int, *, final: bool, requested_by: int | None) -> ExamGrade:
    """A pending grade row and its job in the current transaction (no commit)."""
    number = (
        db.session.scalar(
            select(func.max(ExamGrade.number)).where(ExamGrade.attempt_id == attempt_id)
        )
        or 0
    ) + 1
    grade = ExamGrade(
        attempt_id=attempt_id,
        number=number,
        status=ExamGradeStatus.PENDING,
        final=final,
        requested_by=requested_by,
        requested_at=now(),
        runs=0,
    )
    db.session.add(grade)
    db.session.flush()
    job = jobs.enqueue(
        GRADE_TASK, grade.id, deadline_seconds=GRADE_DEADLINE_SECONDS, max_attempts=3
    )
    grade.job_id = job.id
    return grade


def request_grade(staff: User, attempt_id: int) -> ExamGrade:
    """A trainer's (or admin's) grade of the clusters as they are now; commits. A grade
    still open is returned instead of a second. `NotFound` for an attempt outside the
    trainer's cohorts, `Conflict` once the clusters are gone or not there yet."""
    attempt = get_attempt(staff, attempt_id)
    if not access.is_staff(staff) or not access.may_act_on(staff, attempt.user_id):
        raise NotFound(f"Exam attempt {attempt_id} not found.")
    if attempt.status not in (ExamAttemptStatus.RUNNING, ExamAttemptStatus.GRADING):
        raise Conflict(
            f"Exam attempt {attempt_id} is {attempt.status.value}; its clusters cannot be graded.",
            errors={"status": [attempt.status.value]},
        )
    open_grade = db.session.scalar(
        select(ExamGrade).where(
            ExamGrade.attempt_id == attempt.id, ExamGrade.status.in_(OPEN_EXAM_GRADE_STATUSES)
        )
    )
    if open_grade is not None:
        return open_grade
    try:
        grade = add_grade(attempt.id, final=False, requested_by=staff.id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("A grade of this attempt was requested at the same time.") from None
    log.info("exam_grade.requested", grade_id=grade.id, attempt_id=attempt.id)
    return grade


# ------------------------------------------------------------------------------ running


def run_grade(grade_id: int, *, give_up: bool = True) -> dict[str, Any]:
    """Grade every task of the attempt and store the result once; idempotent.

    A cluster that is unreachable raises `ClusterUnreachableError` when `give_up` is
    false (the job retries), else fails the grade (`NOT_GRADED_MESSAGE`). A final grade
    that is stored also grades the attempt and enqueues the release of its clusters.
    """
    grade = db.session.get(ExamGrade, grade_id)
    if grade is None:
        return {"grade_id": grade_id, "status": None}
    if grade.is_finished:
        return {"grade_id": grade_id, "status": grade.status.value}
    attempt = grade.attempt
    if not attempt.kubeconfig or attempt.released_at is not None:
        _finish(grade_id, ExamGradeStatus.FAILED, error="the exam clusters are gone")
        return {"grade_id": grade_id, "status": "failed"}
    _rowcount(
        update(ExamGrade)
        .where(ExamGrade.id == grade_id, ExamGrade.status.in_(OPEN_EXAM_GRADE_STATUSES))
        .values(status=ExamGradeStatus.RUNNING, runs=ExamGrade.runs + 1, started_at=now())
    )
    db.session.commit()
    grade = db.session.get(ExamGrade, grade_id, populate_existing=True)
    if grade is None:
        return {"grade_id": grade_id, "status": None}
    plan = _GradePlan(grade, grade.attempt)
    db.session.rollback()
    try:
        result = plan.run()
    except ClusterUnreachableError as exc:
        db.session.rollback()
        if not give_up:
            raise
        gone = isinstance(exc, ClusterGoneError)
        _finish(grade_id, ExamGradeStatus.FAILED, error=f"{NOT_GRADED_MESSAGE} ({exc})")
        return {"grade_id": grade_id, "status": "failed", "cluster": "gone" if gone else "down"}
    stored = _store(grade_id, result)
    log.info("exam_grade.done", grade_id=grade_id, score=result["score"], stored=stored)
    return {"grade_id": grade_id, "status": "done", "score": result["score"]}


class _GradePlan:
    """What one grade needs, read from the database before the clusters are (no
    transaction is held while they are read)."""

    def __init__(self, grade: ExamGrade, attempt: ExamAttempt) -> None:
        self.grade_id = grade.id
        self.requested_at = grade.requested_at
        self.started_at = attempt.started_at or attempt.created_at
        self.spec = attempt.exam.spec
        self.pass_percent = attempt.exam.pass_percent
        self.kubeconfig = attempt.kubeconfig or ""
        self.handles = {c: ClusterHandle.from_dict(h) for c, h in attempt.clusters.items()}
        self.provider = provider_for(attempt.provider)

    def run(self) -> dict[str, Any]:
        readers = {
            context: ClusterReader(api_client(context_kubeconfig(self.kubeconfig, context)))
            for context in self.handles
        }
        access = {c: ProviderNodeAccess(self.provider, h) for c, h in self.handles.items()}
        # A context whose API server is down (its nodes answer) is graded as it is.
        for context, reader in readers.items():
            ensure_cluster_alive(reader, access[context])
        tasks = [self._task(task, readers[task["context"]]) for task in self.spec["tasks"]]
        for context, reader in readers.items():
            ensure_cluster_alive(reader, access[context])
        return breakdown(tasks, self.pass_percent)

    def _task(self, task: dict[str, Any], reader: ClusterReader) -> dict[str, Any]:
        checks, policy = task_checks(task)
        context = GradeContext(
            grade_id=f"exam-{self.grade_id}-{task['id']}",
            session_started_at=self.started_at,
            grade_requested_at=self.requested_at,
            hint_policy="never",
        )
        access_ = ProviderNodeAccess(self.provider, self.handles[task["context"]])
        result = grade_cluster(checks, reader, access_, context, policy)
        return {
            "id": task["id"],
            "title": task["title"],
            "domain": task["domain"],
            "context": task["context"],
            "weight": task["weight"],
            "percentage": result.percentage,
            "score": round(task["weight"] * result.percentage / 100, 2),
            "capped": result.capped,
            "checks": [c.to_dict() for c in result.checks],
        }


def breakdown(tasks: list[dict[str, Any]], pass_percent: float) -> dict[str, Any]:
    """The exam result from per-task results: total score, verdict, per-domain sums."""
    score = round(sum(t["score"] for t in tasks), 2)
    domains: dict[str, dict[str, float]] = {}
    for task in tasks:
        entry = domains.setdefault(task["domain"], {"weight": 0.0, "score": 0.0})
        entry["weight"] += task["weight"]
        entry["score"] = round(entry["score"] + task["score"], 2)
    return {
        "score": score,
        "pass_percent": pass_percent,
        "passed": score >= pass_percent,
        "tasks": tasks,
        "domains": [{"domain": d, **v} for d, v in domains.items()],
    }


def _rowcount(statement: Any) -> int:
    """Rows an UPDATE changed (the typing of execute() loses `rowcount`)."""
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return int(result.rowcount)


def _store(grade_id: int, result: dict[str, Any]) -> bool:
    """Store the result if the grade is still open; a final grade also grades the
    attempt and enqueues the release of its clusters. Commits."""
    verdict = {"score": result["score"], "passed": result["passed"]}
    stored = _close_grade(
        grade_id,
        {"status": ExamGradeStatus.DONE, "result": result, **verdict},
        {"status": ExamAttemptStatus.GRADED, **verdict},
    )
    db.session.commit()
    return stored


def _finish(grade_id: int, status: ExamGradeStatus, **values: Any) -> None:
    """Close an open grade without a score (commits). A final grade that fails leaves
    the attempt `failed` with the error, and its clusters are released."""
    _close_grade(
        grade_id,
        {"status": status, **values},
        {"status": ExamAttemptStatus.FAILED, "error": values.get("error")},
    )
    db.session.commit()


def _close_grade(
    grade_id: int, grade_values: dict[str, Any], attempt_values: dict[str, Any]
) -> bool:
    """Write `grade_values` to the grade if it is still open (no commit); for a final
    grade, move its attempt on from `grading` with `attempt_values` and enqueue the
    release of the clusters. True when this call closed the grade."""
    changed = _rowcount(
        update(ExamGrade)
        .where(ExamGrade.id == grade_id, ExamGrade.status.in_(OPEN_EXAM_GRADE_STATUSES))
        .values(finished_at=now(), **grade_values)
        .execution_options(synchronize_session=False)
    )
    grade = db.session.get(ExamGrade, grade_id, populate_existing=True)
    if changed != 1 or grade is None or not grade.final:
        return changed == 1
    moved = _rowcount(
        update(ExamAttempt)
        .where(
            ExamAttempt.id == grade.attempt_id,
            ExamAttempt.status == ExamAttemptStatus.GRADING,
        )
        .values(version=ExamAttempt.version + 1, **attempt_values)
        .execution_options(synchronize_session=False)
    )
    if moved == 1:
        jobs.enqueue(RELEASE_TASK, grade.attempt_id, max_attempts=5)
    return True


def fail_abandoned_grades(limit: int) -> list[int]:
    """Fail open grades whose job gave up; returns their ids."""
    abandoned = db.session.scalars(
        select(ExamGrade.id)
        .join(Job, Job.id == ExamGrade.job_id)
        .where(ExamGrade.status.in_(OPEN_EXAM_GRADE_STATUSES), Job.status == JobStatus.FAILED)
        .limit(limit)
    ).all()
    db.session.rollback()
    for grade_id in abandoned:
        _finish(grade_id, ExamGradeStatus.FAILED, error=f"{NOT_GRADED_MESSAGE} (gave up)")
    return list(abandoned)


# ----------------------------------------------------------------------------- reading


def grades_of(attempt: ExamAttempt) -> list[ExamGrade]:
    return list(
        db.session.scalars(
            select(ExamGrade).where(ExamGrade.attempt_id == attempt.id).order_by(ExamGrade.number)
        )
    )


def grade_summary(grade: ExamGrade) -> dict[str, Any]:
    return {
        "id": grade.id,
        "number": grade.number,
        "status": grade.status.value,
        "final": grade.final,
        "requested_at": grade.requested_at,
        "finished_at": grade.finished_at,
        "score": grade.score,
        "passed": grade.passed,
        "error": grade.error,
    }


def get_grade(user: User, attempt_id: int, grade_id: int) -> ExamGrade:
    """A grade of a visible attempt: candidates see only the final one; `NotFound`
    otherwise."""
    attempt = get_attempt(user, attempt_id)
    grade = db.session.get(ExamGrade, grade_id)
    if grade is None or grade.attempt_id != attempt.id:
        raise NotFound(f"Grade {grade_id} of exam attempt {attempt_id} not found.")
    if not access.is_staff(user) and not grade.final:
        raise NotFound(f"Grade {grade_id} of exam attempt {attempt_id} not found.")
    return grade


def result_view(user: User, attempt_id: int) -> dict[str, Any]:
    """The attempt's result: the final grade's breakdown. `Conflict` until it is
    graded. Candidates get per-check ids, points and messages and the reference
    solutions; trainers and admins the full check results too."""
    attempt = get_attempt(user, attempt_id)
    final = next((g for g in grades_of(attempt) if g.final), None)
    if attempt.status is not ExamAttemptStatus.GRADED or final is None:
        raise Conflict(
            f"Exam attempt {attempt_id} is {attempt.status.value}; it has no result yet.",
            errors={"status": [attempt.status.value]},
        )
    return grade_view(final, user)


def grade_view(grade: ExamGrade, user: User) -> dict[str, Any]:
    """A grade with its per-task breakdown, trimmed for candidates."""
    view = grade_summary(grade)
    attempt = grade.attempt
    view["attempt_id"] = attempt.id
    view["pass_percent"] = attempt.exam.pass_percent
    result = grade.result or {}
    staff = access.is_staff(user)
    solutions = {t["id"]: t["solution"] for t in attempt.exam.spec["tasks"]}
    tasks = []
    for task in result.get("tasks") or []:
        entry = {k: v for k, v in task.items() if k != "checks"}
        checks = task.get("checks") or []
        entry["checks"] = (
            checks if staff else [{key: c.get(key) for key in LEARNER_CHECK_FIELDS} for c in checks]
        )
        entry["solution"] = solutions.get(task["id"])
        tasks.append(entry)
    view["tasks"] = tasks
    view["domains"] = result.get("domains") or []
    return view
