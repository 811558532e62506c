"""Attempts at a quiz and the pinned questions (items) with the learner's responses."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow, value_enum
from app.models.question import Question
from app.models.quiz import Quiz


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ABANDONED = "abandoned"


class CloseReason(enum.StrEnum):
    """Why an attempt is no longer in progress."""

    SUBMITTED = "submitted"  # the learner submitted
    DEADLINE = "deadline"  # autosubmitted at the deadline
    ABANDONED = "abandoned"  # expired unsubmitted (abandon policy or end of grace)


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("quiz_id", "user_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # 1 for the learner's first attempt at this quiz; the unique constraint stops two
    # concurrent starts from both becoming attempt N.
    number: Mapped[int]
    status: Mapped[AttemptStatus] = mapped_column(
        value_enum(AttemptStatus, "status", length=16), index=True
    )
    close_reason: Mapped[CloseReason | None] = mapped_column(
        value_enum(CloseReason, "close_reason", length=16)
    )
    # Seed of the attempt's shuffles: the same attempt always shows the same order.
    seed: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    # min(started_at + limit x accommodation, quiz.close_at): no response after it.
    deadline_at: Mapped[datetime]
    # When the expiry job closes the attempt: the deadline, or deadline + grace.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    accommodation: Mapped[float] = mapped_column(default=1.0)
    submitted_at: Mapped[datetime | None]
    score: Mapped[float | None]
    max_score: Mapped[float | None]
    percent: Mapped[float | None]
    passed: Mapped[bool | None]
    # {"domains": {name: {score, max_score, percent}}, "topics": {...}}
    breakdown: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Id of the durable job that closes the attempt at expiry, when one was enqueued.
    expiry_job_id: Mapped[str | None] = mapped_column(String(64))
    # Optimistic lock: SQLAlchemy bumps it on every UPDATE and refuses a stale write.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}

    quiz: Mapped[Quiz] = relationship(lazy="joined")
    items: Mapped[list[AttemptItem]] = relationship(
        back_populates="attempt",
        order_by="AttemptItem.position",
        cascade="all, delete-orphan",
    )

    @property
    def is_open(self) -> bool:
        return self.status == AttemptStatus.IN_PROGRESS

    def __repr__(self) -> str:
        return f"<Attempt {self.id} {self.status.value}>"


class AttemptItem(Base):
    """One drawn question, pinned to the revision the learner saw."""

    __tablename__ = "attempt_items"
    __table_args__ = (UniqueConstraint("attempt_id", "question_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    # The stable id, copied so autosave finds the item without a join.
    question_uid: Mapped[str] = mapped_column(String(80))
    # Shuffled ids of options / ordering items / matching choices as shown.
    display_order: Mapped[list[str] | None] = mapped_column(JSON)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    answered_at: Mapped[datetime | None]
    # Filled at scoring: points earned (may be fractional) out of max_score.
    score: Mapped[float | None]
    max_score: Mapped[float]

    attempt: Mapped[Attempt] = relationship(back_populates="items")
    question: Mapped[Question] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<AttemptItem {self.attempt_id}/{self.question_uid}>"
