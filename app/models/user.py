"""Accounts, their API tokens, and failed logins (for throttling)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, true
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from app.models.base import Base, utcnow, value_enum


class Role(enum.StrEnum):
    """What an account may do: learners take quizzes and labs, trainers follow cohorts and
    see answers, admins manage accounts."""

    LEARNER = "learner"
    TRAINER = "trainer"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased by the users service; unique across the service.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # argon2id PHC string; None for accounts that only ever use issued tokens.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(value_enum(Role, "role", length=16))
    # Time multiplier for timed quizzes (e.g. 1.5 = 50 % extra time).
    accommodation: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: WriteOnlyMapped[ApiToken] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def has_role(self, *roles: Role | str) -> bool:
        """True when the account holds one of `roles` (any role when none are given)."""
        return not roles or self.role in {Role(r) for r in roles}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the token is stored: the token itself has 256
    bits of randomness, so a fast hash is enough and a database leak reveals no token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Where the token came from: "login", "cli", ...; shown to admins.
    label: Mapped[str] = mapped_column(String(64), default="login")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginFailure(Base):
    """One failed password check. Rows live in the database so every web process and
    the embedded mode share one throttle; rows older than the window are pruned."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
