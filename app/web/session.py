"""Browser sessions for the dashboard, on top of the API's token service.

Logging in issues an ordinary API token (`app.services.auth.login`), kept in Flask's
signed session cookie; every page re-checks it with `authenticate_token`, so logging
out, revoking the account's tokens or deactivating the account ends the browser session
too. Forms carry a per-session CSRF token (synchroniser token pattern) compared in
constant time.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, redirect, request, session, url_for

from app.models.user import Role, User
from app.services.auth import IssuedToken, authenticate_token, revoke_token
from app.services.errors import Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

SESSION_TOKEN = "api_token"
SESSION_CSRF = "csrf_token"
CSRF_FIELD = "csrf_token"


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    token = session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def check_csrf() -> None:
    """Abort with 400 unless the submitted form carries this session's CSRF token."""
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(SESSION_CSRF, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form expired or did not come from this site; try again.")


def start_session(issued: IssuedToken) -> None:
    """Bind a freshly issued token to a new browser session (new CSRF token too, so a
    token planted before login is useless afterwards)."""
    session.clear()
    session[SESSION_TOKEN] = issued.token
    session[SESSION_CSRF] = secrets.token_urlsafe(32)


def web_user() -> User | None:
    """The account of the browser session, or None when not (or no longer) logged in."""
    token = session.get(SESSION_TOKEN)
    if not token:
        return None
    try:
        return authenticate_token(token).user
    except Unauthorized:
        session.pop(SESSION_TOKEN, None)
        return None


def end_session() -> None:
    """Revoke the session's token and forget it."""
    token = session.get(SESSION_TOKEN)
    if token:
        with contextlib.suppress(Unauthorized):
            revoke_token(authenticate_token(token))
    session.clear()


def login_required(*roles: Role) -> Callable[[F], F]:
    """Decorator for a page: redirect to the login page without a session, 403 when the
    account holds none of `roles` (admins hold every role). Passes `user=` to the view."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = web_user()
            if user is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if roles and user.role is not Role.ADMIN and user.role not in roles:
                abort(403, description="This page is for trainers.")
            return func(*args, user=user, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
