"""Passwords, API tokens and login throttling.

- Passwords are hashed with argon2id (argon2-cffi); hashes made with older parameters
  are upgraded at the next successful login.
- A token is 32 random bytes (URL-safe text with a `cp_` prefix). Only its SHA-256 is
  stored; a slow KDF is unnecessary because the token is not guessable, and the lookup
  by hash is followed by a constant-time comparison.
- Failed logins are rows in `login_failures`, so the throttle is shared by every web
  process and survives restarts. Over the limit for one account or one client address
  within the window, login answers `TooManyRequests` with the seconds to wait.
- The count is atomic: before the password is checked, a failure row is reserved in a
  short transaction that is serialized across processes (`pg_advisory_xact_lock` on
  PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and refused when the limit is reached; a
  correct password deletes the account's rows. So however many guesses arrive at once,
  at most the limit of them reach the password check.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models.base import utcnow
from app.models.user import ApiToken, LoginFailure, Role, User
from app.services.errors import TooManyRequests, Unauthorized
from app.services.locking import begin_immediate
from app.services.users import normalize_email

TOKEN_PREFIX = "cp_"
TOKEN_BYTES = 32
UNKNOWN_ADDRESS = "unknown"
BAD_CREDENTIALS = "Incorrect email or password."

# Cheap argon2 parameters for the test suite only: hashing is the slowest step of
# account creation and tests create hundreds of accounts.
_TESTING_HASHER = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: `token` is shown once and never stored."""

    token: str
    expires_at: datetime
    user: User
    record: ApiToken

    token_type: str = "Bearer"


def _hasher() -> PasswordHasher:
    hasher = current_app.extensions.get("certprep.password_hasher")
    if hasher is None:
        settings = current_app.config["CERTPREP_SETTINGS"]
        hasher = PasswordHasher(**_TESTING_HASHER) if settings.testing else PasswordHasher()
        current_app.extensions["certprep.password_hasher"] = hasher
    return hasher


def _dummy_hash() -> str:
    # Verified against when the email is unknown, so both paths cost one argon2 check
    # and response time does not reveal which addresses have accounts.
    cached = current_app.extensions.get("certprep.dummy_hash")
    if cached is None:
        cached = _hasher().hash(secrets.token_urlsafe(16))
        current_app.extensions["certprep.dummy_hash"] = cached
    return cached


def hash_password(password: str) -> str:
    """An argon2id PHC string for `password`."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches `password_hash`; False on mismatch or a bad hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_token() -> str:
    """A new random bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    user: User, *, ttl_seconds: int | None = None, label: str = "login", commit: bool = True
) -> IssuedToken:
    """Create a token for `user` valid for `ttl_seconds` (default: the configured TTL)."""
    settings = current_app.config["CERTPREP_SETTINGS"]
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    token = generate_token()
    now = utcnow()
    record = ApiToken(
        user=user,
        token_hash=hash_token(token),
        label=label,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    db.session.add(record)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return IssuedToken(token=token, expires_at=record.expires_at, user=user, record=record)


def issue_replacing_token(user: User, *, label: str, ttl_seconds: int | None = None) -> IssuedToken:
    """Revoke `user`'s live tokens labelled `label`, then issue a new one; commits.

    For tokens minted by a command on every run (`certprep up`): only the newest stays
    valid, instead of one more live admin token per run.
    """
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.label == label, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return issue_token(user, ttl_seconds=ttl_seconds, label=label)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a live token grants: its account's id and role, and the token's id.

    Checked by `check_token` with the same rules as `authenticate_token`, without
    loading the token and account as ORM objects (for the hottest routes)."""

    token_id: int
    user_id: int
    role: Role


# Built once: constructing a statement costs more CPU than running it on this path.
_TOKEN_WITH_USER = (
    select(ApiToken)
    .join(ApiToken.user)
    .options(contains_eager(ApiToken.user))
    .where(ApiToken.token_hash == bindparam("digest"))
)
# The same lookup as plain columns, only those the checks and a `TokenGrant` need.
_TOKEN_GRANT = (
    select(
        ApiToken.id,
        ApiToken.token_hash,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.user_id,
        User.role,
        User.is_active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)

T = TypeVar("T")


def _first_statement(run: Callable[[], T]) -> T:
    """`run()`, run once more on a fresh connection when it failed because the pooled
    connection was dead.

    The pool does not ping a connection before handing it out, so a connection the
    server closed (restart, idle timeout) fails on its first statement; SQLAlchemy then
    invalidates the pool. When this is the request's first statement nothing is lost by
    running it once more on a fresh connection, so the caller never sees that failure.
    """
    first_statement = not db.session().in_transaction()
    try:
        return run()
    except DBAPIError as exc:
        if not (first_statement and exc.connection_invalidated):
            raise
        db.session.rollback()
        return run()


def _presented_digest(token: str | None) -> str:
    """The stored form of a presented token; `Unauthorized` when none was presented."""
    if not token:
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'.")
    return hash_token(token)


def _refuse_unless_live(found: Any, digest: str, is_active: bool) -> Any:
    """`found` (a token record or row with `token_hash`, `revoked_at`, `expires_at`; None
    when no row matched) when it is the presented token, unrevoked and unexpired, and its
    account (`is_active`) enabled; else `Unauthorized` (`invalid_token=True`)."""
    # The lookup was by hash; the constant-time comparison keeps the decision itself
    # from depending on how much of the hash matched. The one-statement autosave
    # (`app.services.autosave._GRANTEE`) states these same rules in SQL: change both.
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        raise Unauthorized("The token is not valid.", invalid_token=True)
    if found.revoked_at is not None:
        raise Unauthorized("The token has been revoked.", invalid_token=True)
    if utcnow() >= found.expires_at:
        raise Unauthorized("The token has expired.", invalid_token=True)
    if not is_active:
        raise Unauthorized("The account is disabled.", invalid_token=True)
    return found


def authenticate_token(token: str | None) -> ApiToken:
    """The live token record for a presented bearer token, with its account loaded.

    Raises `Unauthorized` when no token is given, or (with `invalid_token=True`) when it
    is unknown, revoked, expired or belongs to a deactivated account.
    """
    digest = _presented_digest(token)
    # Token and account in one round trip: every authenticated request runs this.
    record = _first_statement(lambda: db.session.scalar(_TOKEN_WITH_USER, {"digest": digest}))
    active = record is not None and record.user.is_active
    live: ApiToken = _refuse_unless_live(record, digest, active)
    return live


def check_token(token: str | None) -> TokenGrant:
    """What a presented bearer token grants; the rules and errors of `authenticate_token`,
    checked with one Core statement on the session's connection (no ORM objects)."""
    digest = _presented_digest(token)
    row = _first_statement(
        lambda: db.session.connection().execute(_TOKEN_GRANT, {"digest": digest}).first()
    )
    live = _refuse_unless_live(row, digest, row is not None and row.is_active)
    return TokenGrant(token_id=live.id, user_id=live.user_id, role=live.role)


def revoke_token(record: ApiToken) -> None:
    """Revoke one token (idempotent)."""
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    db.session.commit()


def revoke_user_tokens(user_id: int, *, commit: bool = True) -> int:
    """Revoke every live token of an account; returns how many were revoked."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if commit:
        db.session.commit()
    return result.rowcount or 0


def _retry_after(column: Any, key: str, limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until `key` drops below `limit` failures in the window, or None if it is."""
    recent = db.session.scalars(
        select(LoginFailure.failed_at)
        .where(column == key, LoginFailure.failed_at > now - window)
        .order_by(LoginFailure.failed_at.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    # Once the oldest of the `limit` most recent failures leaves the window, one more
    # attempt is allowed.
    oldest = recent[-1]
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def check_login_throttle(email: str, address: str, now: datetime | None = None) -> None:
    """Raise `TooManyRequests` when `email` or `address` has too many recent failures."""
    settings = current_app.config["CERTPREP_SETTINGS"]
    now = now or utcnow()
    window = timedelta(seconds=settings.login_window_seconds)
    waits = [
        _retry_after(LoginFailure.email, email, settings.login_max_failures, window, now),
        _retry_after(
            LoginFailure.address, address, settings.login_max_failures_per_address, window, now
        ),
    ]
    blocked = [wait for wait in waits if wait is not None]
    if blocked:
        raise TooManyRequests("Too many failed logins; try again later.", retry_after=max(blocked))


# Key of the PostgreSQL advisory lock that serializes failure reservations; an
# arbitrary constant ("cplogin" in ASCII, fits a signed 64-bit integer).
LOGIN_LOCK_KEY = 0x63706C6F67696E


def _serialize_login_reservations() -> None:
    """Hold, until this transaction ends, the lock that orders failure reservations."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(LOGIN_LOCK_KEY)))
    else:
        # SQLite: the database write lock, taken before the count is read.
        begin_immediate(connection)


def reserve_login_attempt(email: str, address: str, now: datetime) -> int:
    """Count this login as a failure before its password is checked; returns the id
    of the reserved `LoginFailure` row (deleted again by a successful login).

    Raises `TooManyRequests` (reserving nothing) when the account or the address has
    reached its limit in the window. Count and insert run in one transaction under
    a lock that every process takes, so concurrent logins cannot all see room.
    """
    settings = current_app.config["CERTPREP_SETTINGS"]
    window = timedelta(seconds=settings.login_window_seconds)
    db.session.rollback()  # start a fresh transaction that takes the lock first
    try:
        _serialize_login_reservations()
        check_login_throttle(email, address, now)
        db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - window))
        reservation = LoginFailure(email=email, address=address, failed_at=now)
        db.session.add(reservation)
        db.session.flush()
        reservation_id = reservation.id
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return reservation_id


def login(email: str, password: str, address: str | None) -> IssuedToken:
    """Check a password login and issue a token.

    Raises `TooManyRequests` when the account or client address is throttled (checked
    before the password, so a throttled caller learns nothing), `Unauthorized` for an
    unknown email, a wrong password or a deactivated account (one message for all).
    """
    email = normalize_email(email)
    address = (address or UNKNOWN_ADDRESS)[:64]
    reserve_login_attempt(email, address, utcnow())

    user = db.session.scalar(select(User).where(User.email == email))
    stored_hash = user.password_hash if user is not None else None
    password_ok = verify_password(stored_hash or _dummy_hash(), password)
    if user is None or stored_hash is None or not password_ok or not user.is_active:
        # The reserved row is the recorded failure.
        db.session.rollback()
        raise Unauthorized(BAD_CREDENTIALS)

    # A success clears the account's failures (its own reservation among them) but not
    # the address's other rows: otherwise one valid account would reset the counter
    # between guesses at other accounts.
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    if _hasher().check_needs_rehash(stored_hash):
        user.password_hash = hash_password(password)
    issued = issue_token(user, label="login", commit=False)
    db.session.commit()
    return issued
