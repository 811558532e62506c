"""What trainers do to their cohorts: the staff action log, per-learner extra attempts
at a quiz and due-date extensions, and one-time invitations that let a new learner set
a password."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class StaffAction(Base):
    """One action of a trainer or admin on a cohort (assign, extend, add member, ...).

    Append-only like the learners' activity log; ids are plain columns, not foreign
    keys, so the record outlives the cohort, assignment or account it names.
    """

    __tablename__ = "staff_actions"
    __table_args__ = (Index("ix_staff_actions_cohort_time", "cohort_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int]
    cohort_id: Mapped[int | None]
    # The learner the action is about, when it is about one.
    learner_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuizAllowance(Base):
    """Attempts granted to one learner at one quiz beyond the quiz's `attempts_allowed`."""

    __tablename__ = "quiz_allowances"
    __table_args__ = (UniqueConstraint("user_id", "quiz_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    extra_attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """A one-time link that sets a new learner's password. Only the SHA-256 of the
    link's token is stored, as for API tokens."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DueDateExtension(Base):
    """One learner's own due date for one cohort assignment (it replaces the cohort's)."""

    __tablename__ = "due_date_extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("cohort_assignments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
