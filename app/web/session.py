"""Browser sessions for the web pages, on top of the API's token service.

The session cookie (Flask's signed cookie) holds only a random session id and the CSRF
token, never an API token. On the server the session is an ordinary `api_tokens` row
(label `web`) whose stored hash is that of a credential derived from the session id
with the app's secret key (HMAC-SHA256): the cookie's content is not a bearer token,
and the database holds only a hash, as for every token. Each request resolves the id
with `authenticate_token`, so logging out, revoking the account's tokens, deactivating
the account or the token's expiry ends the browser session too.

Forms carry a per-session CSRF token (synchroniser token pattern) compared in constant
time; scripts on the pages send the same token in the `X-CSRF-Token` header when they
call the REST API with the session cookie (see `app.api.common.authenticate_request`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Flask,
    Request,
    Response,
    abort,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from app.extensions import db
from app.models.user import ApiToken, Role, User
from app.services.auth import IssuedToken, authenticate_token, hash_token, revoke_token
from app.services.errors import Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

SESSION_ID = "sid"
SESSION_CSRF = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
WEB_TOKEN_LABEL = "web"
_UNSET = object()


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions without the per-request work for requests that
    carry no session cookie and leave the session alone (API clients with a bearer
    token): Flask builds the cookie signer and reads seven cookie settings on every
    request before looking at the cookie. Cookies, `Vary` headers and signatures are
    unchanged."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not (session or session.accessed or session.modified):
            return
        super().save_session(app, session, response)


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    token = session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def csrf_matches(sent: str | None) -> bool:
    """True when `sent` is this session's CSRF token (constant-time comparison)."""
    expected = session.get(SESSION_CSRF, "")
    return bool(expected) and hmac.compare_digest((sent or "").encode(), expected.encode())


def check_csrf() -> None:
    """Abort with 400 unless the submitted form (or the `X-CSRF-Token` header) carries
    this session's CSRF token."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not csrf_matches(sent):
        abort(400, description="The form expired or did not come from this site; try again.")


def _credential(session_id: str) -> str:
    """The server-side credential of a session id: without the secret key the id alone
    cannot be turned into it, so a copied cookie value is no API token."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return "web_" + hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def start_session(issued: IssuedToken) -> None:
    """Turn a freshly issued login token into a browser session.

    The token's stored hash is replaced by that of the session's credential, so the
    token text `issued.token` stops working and is never kept anywhere. A new CSRF
    token is made too, so a token planted before login is useless afterwards.
    """
    session_id = secrets.token_urlsafe(32)
    record: ApiToken = issued.record
    record.token_hash = hash_token(_credential(session_id))
    record.label = WEB_TOKEN_LABEL
    db.session.commit()
    session.clear()
    session[SESSION_ID] = session_id
    session[SESSION_CSRF] = secrets.token_urlsafe(32)
    g.pop("web_token", None)


def has_web_session() -> bool:
    """True when the request carries a session cookie with a session id."""
    return bool(session.get(SESSION_ID))


def api_write_digest() -> str | None:
    """The stored hash of this browser session's credential, when the request carries a
    session id and this page's CSRF token in the `X-CSRF-Token` header; else None.

    For a REST call that checks the session's token itself, without loading it
    (`app.services.autosave`); whatever it refuses, `web_token` and the CSRF check of
    `app.api.common` decide as for any request."""
    session_id = session.get(SESSION_ID)
    if not session_id or not csrf_matches(request.headers.get(CSRF_HEADER)):
        return None
    return hash_token(_credential(str(session_id)))


def web_token() -> ApiToken | None:
    """The live token row of the browser session, or None (cached per request)."""
    cached = g.get("web_token", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    record = None
    session_id = session.get(SESSION_ID)
    if session_id:
        try:
            record = authenticate_token(_credential(str(session_id)))
        except Unauthorized:
            session.pop(SESSION_ID, None)
    g.web_token = record
    return record


def web_user() -> User | None:
    """The account of the browser session, or None when not (or no longer) logged in."""
    record = web_token()
    return record.user if record is not None else None


def end_session() -> None:
    """Revoke the session's token and forget the session."""
    record = web_token()
    if record is not None:
        with contextlib.suppress(Unauthorized):
            revoke_token(record)
    session.clear()
    g.web_token = None


def login_required(*roles: Role) -> Callable[[F], F]:
    """Decorator for a page: redirect to the login page without a session, 403 when the
    account holds none of `roles` (admins hold every role). Passes `user=` to the view."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = web_user()
            if user is None:
                return redirect(url_for("learner.login", next=request.full_path.rstrip("?")))
            if roles and user.role is not Role.ADMIN and user.role not in roles:
                abort(403, description="This page is for trainers.")
            return func(*args, user=user, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
