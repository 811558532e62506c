"""Accounts: create, read, update. Each public function commits at most once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.user import Role, User
from app.services.errors import Conflict, NotFound, ValidationFailed

MIN_ACCOMMODATION = 1.0
MAX_ACCOMMODATION = 10.0
MIN_PASSWORD_LENGTH = 8


def normalize_email(email: str) -> str:
    """The stored form of an address: trimmed and lower-cased (lookups use the same form)."""
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "The password is too short.",
            errors={"password": [f"Must be at least {MIN_PASSWORD_LENGTH} characters."]},
        )


def _check_accommodation(accommodation: float) -> None:
    if not MIN_ACCOMMODATION <= accommodation <= MAX_ACCOMMODATION:
        raise ValidationFailed(
            "The accommodation is out of range.",
            errors={
                "accommodation": [f"Must be between {MIN_ACCOMMODATION} and {MAX_ACCOMMODATION}."]
            },
        )


def find_user_by_email(email: str) -> User | None:
    """The account with `email` (any case), or None."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(user_id: int) -> User:
    """The account with `user_id`; raises `NotFound`."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def users_query() -> Select[tuple[User]]:
    """All accounts, oldest first (a statement for pagination)."""
    return select(User).order_by(User.id)


def create_user(
    email: str,
    role: Role | str = Role.LEARNER,
    password: str | None = None,
    accommodation: float = 1.0,
    *,
    commit: bool = True,
) -> User:
    """Create an account. Raises `Conflict` when the email is taken and
    `ValidationFailed` for a short password or out-of-range accommodation.

    With `commit=False` the caller owns the transaction (the row is flushed).
    """
    from app.services.auth import hash_password

    email = normalize_email(email)
    _check_accommodation(accommodation)
    if password is not None:
        _check_password(password)
    if find_user_by_email(email) is not None:
        raise Conflict(
            f"A user with email {email} already exists.",
            errors={"email": ["Already registered."]},
        )
    user = User(
        email=email,
        role=Role(role),
        password_hash=hash_password(password) if password is not None else None,
        accommodation=accommodation,
        is_active=True,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        # Lost a race with a concurrent create of the same address.
        db.session.rollback()
        raise Conflict(
            f"A user with email {email} already exists.",
            errors={"email": ["Already registered."]},
        ) from None
    if commit:
        db.session.commit()
    return user


def _active_admin_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active)
    )


def update_user(user_id: int, changes: dict[str, Any]) -> User:
    """Change `role`, `accommodation`, `is_active` and/or `password` of an account.

    Deactivating an account or setting its password also revokes its tokens. Raises
    `NotFound`, `ValidationFailed`, and `Conflict` when it would leave no active admin.
    """
    from app.services.auth import hash_password, revoke_user_tokens

    user = get_user(user_id)
    loses_admin = user.role is Role.ADMIN and (
        ("role" in changes and Role(changes["role"]) is not Role.ADMIN)
        or ("is_active" in changes and not changes["is_active"])
    )
    if loses_admin and user.is_active and _active_admin_count() <= 1:
        # Nobody could manage accounts any more (recovery would need the CLI).
        raise Conflict("The last active admin cannot be demoted or deactivated.")
    if "role" in changes:
        user.role = Role(changes["role"])
    if "accommodation" in changes:
        _check_accommodation(changes["accommodation"])
        user.accommodation = changes["accommodation"]
    if "password" in changes:
        _check_password(changes["password"])
        user.password_hash = hash_password(changes["password"])
        # A reset password ends every session that the old one opened.
        revoke_user_tokens(user.id, commit=False)
    if "is_active" in changes:
        user.is_active = bool(changes["is_active"])
        if not user.is_active:
            revoke_user_tokens(user.id, commit=False)
    db.session.commit()
    return user
