"""The learner workstations of the browser terminals (`app.workstation`): one per lab
session (`LabWorkstation`) and one per mock exam attempt (`ExamWorkstation`).

One row per session or attempt: the workstation's state as JSON (virtual home folder, cwd,
variables, aliases, history, the node an `ssh` entered), the end of the terminal's
output (shown again after a reconnect), and the id of the connection that holds the
terminal now (a newer connection takes over; the older one closes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class LabWorkstation(Base):
    __tablename__ = "lab_workstations"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("lab_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The last part of the terminal's output, replayed after a reconnect.
    screen: Mapped[str] = mapped_column(Text, default="")
    # The terminal connection that holds the workstation now (random id), or None.
    connection: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<LabWorkstation session {self.session_id}>"


class ExamWorkstation(Base):
    """An exam attempt's workstation: the same columns, keyed by the attempt (its state
    also holds the kubeconfig context kubectl uses and each context's namespace)."""

    __tablename__ = "exam_workstations"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("exam_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    screen: Mapped[str] = mapped_column(Text, default="")
    connection: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<ExamWorkstation attempt {self.attempt_id}>"
