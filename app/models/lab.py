"""Hands-on labs: the imported lab definitions, learners' lab sessions and their grades.

A `Lab` row holds everything a worker needs to provision and grade the lab (the loaded
lab file and its manifests), so any worker host can serve any lab without the content
folder. A `LabSession` is one learner's cluster for one lab; its `cluster` column records
where the provider placed it, so any worker can grade or delete it. A `Grade` is one
grading request; its row exists (pending) before the grading message does.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.models.base import Base, utcnow, value_enum


class Lab(Base):
    __tablename__ = "labs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(String(60))
    section: Mapped[str] = mapped_column(String(40))
    difficulty: Mapped[str] = mapped_column(String(10))
    time_limit_minutes: Mapped[int]
    # sha256 of the lab file's data and manifests: a session pins the hash it started
    # with, and the simulator's setup snapshot cache is keyed by it.
    content_hash: Mapped[str] = mapped_column(String(64))
    # The lab file as loaded by app.grading.labfile (checks included: never sent to
    # learners as such, see app.schemas.labs).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # [{"name": "00-namespace.yaml", "content": "..."}] in apply order.
    manifests: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    source_folder: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Lab {self.slug} v{self.version}>"


class LabSessionStatus(enum.StrEnum):
    """provisioning -> ready -> grading -> graded (re-grading goes back to grading);
    expired, failed and ended are final."""

    PROVISIONING = "provisioning"
    READY = "ready"
    GRADING = "grading"
    GRADED = "graded"
    EXPIRED = "expired"
    FAILED = "failed"
    ENDED = "ended"


# Sessions that hold (or are about to hold) a cluster: they count against the limit.
ACTIVE_SESSION_STATUSES = (
    LabSessionStatus.PROVISIONING,
    LabSessionStatus.READY,
    LabSessionStatus.GRADING,
    LabSessionStatus.GRADED,
)
# Sessions whose cluster the learner may use.
USABLE_SESSION_STATUSES = (
    LabSessionStatus.READY,
    LabSessionStatus.GRADING,
    LabSessionStatus.GRADED,
)


class LabSession(Base):
    __tablename__ = "lab_sessions"
    __table_args__ = (
        # The concurrency limit and "my sessions" queries.
        Index("ix_lab_sessions_user_id_status", "user_id", "status"),
        # The expiry sweeper: usable sessions past their expiry.
        Index("ix_lab_sessions_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[LabSessionStatus] = mapped_column(
        value_enum(LabSessionStatus, "status", length=16)
    )
    # Registered cluster provider name (app.clusters), e.g. "simulator" or "kind".
    provider: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    # The provider's ClusterHandle as JSON: where the cluster lives (server URL, id).
    cluster: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The learner's kubeconfig (it carries the cluster's credential): stored encrypted.
    kubeconfig: Mapped[str | None] = mapped_column(EncryptedText)
    error: Mapped[str | None] = mapped_column(Text)
    # Check ids whose hint was shown: passing them later costs their hint penalty.
    hints_revealed: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]
    # ready_at + the lab's time limit; None until the cluster is ready.
    expires_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    provision_job_id: Mapped[int | None]
    expiry_job_id: Mapped[int | None]
    # Optimistic lock: two workers never both move a session to another status.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    lab: Mapped[Lab] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_SESSION_STATUSES

    @property
    def is_usable(self) -> bool:
        return self.status in USABLE_SESSION_STATUSES

    def __repr__(self) -> str:
        return f"<LabSession {self.id} {self.status.value}>"


class GradeStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


OPEN_GRADE_STATUSES = (GradeStatus.PENDING, GradeStatus.RUNNING)


class Grade(Base):
    __tablename__ = "lab_grades"
    __table_args__ = (UniqueConstraint("session_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("lab_sessions.id", ondelete="CASCADE"), index=True
    )
    # 1 for the session's first grade.
    number: Mapped[int]
    status: Mapped[GradeStatus] = mapped_column(value_enum(GradeStatus, "status", length=16))
    # True for the grade taken when the session expired (labs that ask for one).
    final: Mapped[bool] = mapped_column(default=False)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # How many times a worker started grading it (a lost run is re-run by the sweeper).
    runs: Mapped[int] = mapped_column(default=0)
    earned: Mapped[float | None]
    possible: Mapped[float | None]
    percentage: Mapped[float | None]
    # app.grading.result.GradeResult.to_dict(): per-check results with evidence.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None]

    session: Mapped[LabSession] = relationship()

    @property
    def is_finished(self) -> bool:
        return self.status not in OPEN_GRADE_STATUSES

    def __repr__(self) -> str:
        return f"<Grade {self.id} {self.status.value}>"
