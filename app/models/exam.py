"""Mock exams: the imported exam sets, candidates' attempts and their grades.

An `Exam` row holds the loaded exam file (tasks, checks, solutions), so any worker can
provision and grade it without the content folder. An `ExamAttempt` is one candidate's
run of an exam: one cluster per kubeconfig context (`clusters`, provider handles by
context name), one kubeconfig holding every context, and one server-side deadline. An
`ExamGrade` is one grading of all tasks: the final one (at submit or at the deadline)
or one a trainer asked for; its row exists (pending) before the grading message does.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.models.base import Base, utcnow, value_enum


class Exam(Base):
    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    time_limit_minutes: Mapped[int]
    pass_percent: Mapped[float]
    # sha256 of the loaded exam file; attempts pin it, setup snapshots are keyed by it.
    content_hash: Mapped[str] = mapped_column(String(64))
    # The exam file as loaded by app.grading.examfile (checks and solutions included:
    # never sent to candidates as such, see app.services.exams).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Exam {self.slug} v{self.version}>"


class ExamAttemptStatus(enum.StrEnum):
    """provisioning -> running -> grading -> graded; failed is final too."""

    PROVISIONING = "provisioning"
    RUNNING = "running"
    GRADING = "grading"
    GRADED = "graded"
    FAILED = "failed"


ACTIVE_ATTEMPT_STATUSES = (
    ExamAttemptStatus.PROVISIONING,
    ExamAttemptStatus.RUNNING,
    ExamAttemptStatus.GRADING,
)


class ExamAttempt(Base):
    __tablename__ = "exam_attempts"
    __table_args__ = (
        Index("ix_exam_attempts_user_id_status", "user_id", "status"),
        # The expiry sweeper: running attempts past their deadline.
        Index("ix_exam_attempts_status_deadline_at", "status", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[ExamAttemptStatus] = mapped_column(
        value_enum(ExamAttemptStatus, "status", length=16)
    )
    provider: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    # {context: ClusterHandle.to_dict()}: where each context's cluster lives.
    clusters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # One kubeconfig with every context (it carries the clusters' credentials).
    kubeconfig: Mapped[str | None] = mapped_column(EncryptedText)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the clusters were ready and the timer started.
    started_at: Mapped[datetime | None]
    # started_at + the exam's time limit: the server-side end of the attempt.
    deadline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    # True when the deadline, not the candidate, ended the attempt.
    auto_submitted: Mapped[bool] = mapped_column(default=False)
    # The final grade's total (0-100) and verdict, copied when it is stored.
    score: Mapped[float | None]
    passed: Mapped[bool | None]
    released_at: Mapped[datetime | None]
    provision_job_id: Mapped[int | None]
    expiry_job_id: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    exam: Mapped[Exam] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_ATTEMPT_STATUSES

    def __repr__(self) -> str:
        return f"<ExamAttempt {self.id} {self.status.value}>"


class ExamGradeStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


OPEN_EXAM_GRADE_STATUSES = (ExamGradeStatus.PENDING, ExamGradeStatus.RUNNING)


class ExamGrade(Base):
    __tablename__ = "exam_grades"
    __table_args__ = (UniqueConstraint("attempt_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("exam_attempts.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    status: Mapped[ExamGradeStatus] = mapped_column(
        value_enum(ExamGradeStatus, "status", length=16)
    )
    # The grade that ends the attempt (submit or deadline); others are trainers'.
    final: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(default=0)
    score: Mapped[float | None]
    passed: Mapped[bool | None]
    # {"tasks": [{id, title, domain, context, weight, score, percentage, checks}],
    #  "domains": {...}, "score", "pass_percent", "passed"}
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None]

    attempt: Mapped[ExamAttempt] = relationship()

    @property
    def is_finished(self) -> bool:
        return self.status not in OPEN_EXAM_GRADE_STATUSES

    def __repr__(self) -> str:
        return f"<ExamGrade {self.id} {self.status.value}>"
