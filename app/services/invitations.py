"""One-time invitations: a link that lets a new learner choose a password.

The token appears once, in the link; only its SHA-256 is stored. A link works once
and for `INVITATION_TTL` (seven days); redeeming it sets the password and revokes any
token the account held.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models.base import utcnow
from app.models.staff import Invitation
from app.models.user import User
from app.services.errors import NotFound

INVITATION_TTL = timedelta(days=7)
TOKEN_PREFIX = "inv_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(learner: User, by: User) -> str:
    """Add an invitation for `learner` (committed by the caller); returns its token."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    moment = utcnow()
    db.session.add(
        Invitation(
            user_id=learner.id,
            token_hash=_digest(token),
            created_by=by.id,
            created_at=moment,
            expires_at=moment + INVITATION_TTL,
        )
    )
    return token


def open_invitation(token: str) -> Invitation:
    """The unused, unexpired invitation of `token`; `NotFound` otherwise (one message
    for unknown, used and expired links)."""
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == _digest(token))
    )
    if invitation is None or invitation.used_at is not None or utcnow() >= invitation.expires_at:
        raise NotFound("This invitation link is not valid (used, expired or mistyped).")
    return invitation


def redeem_invitation(token: str, password: str) -> User:
    """Set the invited account's password and spend the link; commits. Raises
    `NotFound` for a link that cannot be used and `ValidationFailed` for a short password."""
    from app.services.users import update_user

    invitation = open_invitation(token)
    invitation.used_at = utcnow()
    db.session.flush()
    return update_user(invitation.user_id, {"password": password})


def invited_email(token: str) -> str:
    """The address an open invitation is for (shown on the form)."""
    invitation = open_invitation(token)
    user = db.session.get(User, invitation.user_id)
    if user is None:
        raise NotFound("This invitation link is not valid (used, expired or mistyped).")
    return user.email
