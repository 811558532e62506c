"""Question banks and versioned questions.

A question is identified by its stable `uid` from the YAML; each distinct content (by
hash) is a separate row with an increasing `revision`, so attempts that pinned an old
revision keep scoring against exactly what the learner saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Where the bank was imported from, relative to the working directory; shown to trainers.
    source_file: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Bank {self.slug}>"


class Question(Base):
    """One revision of one question; `body` holds the validated YAML item with its key."""

    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("uid", "revision"),
        Index("ix_questions_current", "is_current", "retired_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(80), index=True)
    revision: Mapped[int]
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    # The `version:` the author wrote; `revision` counts stored contents.
    declared_version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(20))
    difficulty: Mapped[str] = mapped_column(String(10))
    domain: Mapped[str] = mapped_column(String(60))
    section: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(80))
    seed_section: Mapped[str] = mapped_column(String(200))
    points: Mapped[float]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_current: Mapped[bool] = mapped_column(default=True)
    # Set when the question disappeared from its file; retired questions are never drawn.
    retired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    bank: Mapped[Bank] = relationship(lazy="joined")

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes quiz blueprints select on."""
        return {
            "id": self.uid,
            "bank": self.bank.slug,
            "type": self.type,
            "section": self.section,
            "domain": self.domain,
            "topic": self.topic,
            "difficulty": self.difficulty,
            # Kept in the validated body (default "cka"): CKA blueprints select on it.
            "track": (self.body or {}).get("track", "cka"),
        }

    def __repr__(self) -> str:
        return f"<Question {self.uid} r{self.revision}>"
