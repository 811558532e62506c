"""The activity log: append-only records of what learners did with quizzes and labs.

Rows are only ever inserted (by `app.services.activity.record*`), never updated, so the
log can be exported as xAPI statements and replayed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow, value_enum


class ActivityVerb(enum.StrEnum):
    STARTED = "started"
    ANSWERED = "answered"
    SUBMITTED = "submitted"
    GRADED = "graded"
    EXPIRED = "expired"


class ActivityObject(enum.StrEnum):
    QUIZ = "quiz"
    LAB = "lab"


class ActivityEvent(Base):
    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_events_user_time", "user_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    verb: Mapped[ActivityVerb] = mapped_column(value_enum(ActivityVerb, "verb", length=16))
    object_kind: Mapped[ActivityObject] = mapped_column(
        value_enum(ActivityObject, "object_kind", length=8)
    )
    # The quiz or lab slug.
    object_slug: Mapped[str] = mapped_column(String(80))
    # The attempt (quiz) or lab session the event belongs to; a plain id, not a foreign
    # key, so the log outlives the rows it describes.
    subject_id: Mapped[int | None]
    # Result of graded events: percent (0-100) and pass/fail.
    percent: Mapped[float | None]
    passed: Mapped[bool | None]
    # Event details, e.g. the question answered or the close reason.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
