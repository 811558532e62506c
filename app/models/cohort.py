"""Cohorts: a trainer's group of learners, and the quizzes and labs assigned to it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow, value_enum
from app.models.user import User


class AssignmentKind(enum.StrEnum):
    QUIZ = "quiz"
    LAB = "lab"


class Cohort(Base):
    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The trainer who follows the cohort; only they (and admins) see it.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived cohorts stay readable but are left out of the default listing.
    archived_at: Mapped[datetime | None]

    owner: Mapped[User] = relationship(lazy="joined")
    members: Mapped[list[CohortMember]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan", order_by="CohortMember.id"
    )
    assignments: Mapped[list[CohortAssignment]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan", order_by="CohortAssignment.id"
    )

    def __repr__(self) -> str:
        return f"<Cohort {self.id} {self.name!r}>"


class CohortMember(Base):
    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="members")
    user: Mapped[User] = relationship(lazy="joined")


class CohortAssignment(Base):
    """A quiz or lab the cohort is asked to do, by slug, optionally by a due date.

    Lab slugs are not checked against a table: lab content lives in `labs/<slug>/`.
    """

    __tablename__ = "cohort_assignments"
    __table_args__ = (UniqueConstraint("cohort_id", "kind", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssignmentKind] = mapped_column(value_enum(AssignmentKind, "kind", length=8))
    slug: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="assignments")
