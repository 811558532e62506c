"""Quizzes: a blueprint (draw rules) plus the rules of the attempt (time, policies)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow, value_enum


class GradingMethod(enum.StrEnum):
    """How a learner's attempts combine into one quiz result."""

    HIGHEST = "highest"
    LAST = "last"
    AVERAGE = "average"


class ExpiryPolicy(enum.StrEnum):
    """What happens to an attempt still open at its deadline.

    autosubmit: scored with the saved responses at the deadline. grace: no more answers
    after the deadline, but the learner may still submit during `grace_minutes`; unsubmitted
    at the end of grace, it is abandoned. abandon: unsubmitted at the deadline, it is
    abandoned (it counts against attempts_allowed but never towards the result).
    """

    AUTOSUBMIT = "autosubmit"
    GRACE = "grace"
    ABANDON = "abandon"


class ReviewPolicy(enum.StrEnum):
    """What a learner sees after submitting, each level including the previous ones."""

    SCORE_ONLY = "score_only"
    CORRECTNESS = "correctness"
    ANSWERS = "answers"
    EXPLANATIONS = "explanations"


class ReviewAfter(enum.StrEnum):
    SUBMIT = "submit"
    CLOSE = "close"


class QuizSource(enum.StrEnum):
    BLUEPRINT = "blueprint"
    CUSTOM = "custom"


class Quiz(Base):
    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    time_limit_minutes: Mapped[int]
    pass_mark: Mapped[float]
    # 0 means unlimited.
    attempts_allowed: Mapped[int]
    grading_method: Mapped[GradingMethod] = mapped_column(
        value_enum(GradingMethod, "grading_method", length=16)
    )
    shuffle_questions: Mapped[bool] = mapped_column(default=True)
    shuffle_options: Mapped[bool] = mapped_column(default=True)
    expiry_policy: Mapped[ExpiryPolicy] = mapped_column(
        value_enum(ExpiryPolicy, "expiry_policy", length=16)
    )
    grace_minutes: Mapped[int] = mapped_column(default=0)
    review_policy: Mapped[ReviewPolicy] = mapped_column(
        value_enum(ReviewPolicy, "review_policy", length=16)
    )
    review_after: Mapped[ReviewAfter] = mapped_column(
        value_enum(ReviewAfter, "review_after", length=16)
    )
    close_at: Mapped[datetime | None]
    # Blueprint draw rules as validated by app.banks.schemas.DrawRuleSchema.
    draw: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    source: Mapped[QuizSource] = mapped_column(value_enum(QuizSource, "source", length=16))
    source_file: Mapped[str] = mapped_column(String(500), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a blueprint quiz disappears from its file; retired quizzes take no attempts.
    retired_at: Mapped[datetime | None]

    def is_closed_at(self, moment: datetime) -> bool:
        """True when the quiz has a close time and `moment` is at or after it."""
        return self.close_at is not None and moment >= self.close_at

    def __repr__(self) -> str:
        return f"<Quiz {self.slug}>"
