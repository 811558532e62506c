"""Pieces every resource module uses: authentication, get-or-404, pagination.

Authentication::

    @blp.route("/things/<int:thing_id>")
    class ThingById(MethodView):
        @auth_required("trainer")          # outermost: runs before argument parsing
        @blp.arguments(ThingUpdateSchema)
        @blp.response(200, ThingSchema)
        def put(self, data, thing_id):
            return things.update(current_user(), thing_id, data)

A browser page's script may use the session cookie instead of a bearer token (plus the
`X-CSRF-Token` header on requests that change something; `app.web.session`).

`auth_required` answers 401 (with `WWW-Authenticate: Bearer`) without a valid token and
403 when the account lacks the role; it sets `flask.g.current_user` and
`flask.g.current_token`, and documents the bearer security scheme plus the 401/403
responses on the operation in OpenAPI. Admins pass every role check.

`auth_required(load_account=False)` is for the hottest routes (autosave): the same checks
(`app.services.auth.check_token`), but the token and account are read as plain columns
instead of ORM objects. The view reads `current_user_id()`; `current_user()` still works
there and loads the account on first use; `g.current_token` is not set.

Pagination, one way: return a `select()` from the view and decorate with
`@blp.paginate(SelectPage)` (under `@blp.response`). When each row is rendered by a
service view, subclass `SelectPage` and override `view(row)`.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Page
from sqlalchemy import Select, func, select

from app.extensions import BEARER_SCHEME_NAME, db
from app.models.user import ApiToken, Role, User
from app.services.auth import TokenGrant, authenticate_token, check_token
from app.services.errors import Forbidden, NotFound, Unauthorized

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")


def bearer_token() -> str | None:
    """The token from the request's `Authorization: Bearer` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate_request(*roles: Role | str) -> ApiToken:
    """Authenticate the current request and check its role.

    Raises `Unauthorized` (401) without a usable token and `Forbidden` (403) when the
    account holds none of `roles` (admins hold every role). Sets `g.current_user` and
    `g.current_token`.
    """
    token = bearer_token()
    if token is None and _has_web_session():
        record = _web_session_token()
    else:
        record = authenticate_token(token)
    user = record.user
    _check_role(user.role, roles)
    g.current_user = user
    g.current_token = record
    g.current_grant = TokenGrant(token_id=record.id, user_id=user.id, role=user.role)
    return record


def authorize_request(*roles: Role | str) -> TokenGrant:
    """`authenticate_request` without loading the token and account as ORM objects (a
    browser session's token is loaded as before). Sets `g.current_grant`."""
    token = bearer_token()
    if token is None and _has_web_session():
        authenticate_request(*roles)
        session_grant: TokenGrant = g.current_grant
        return session_grant
    grant = check_token(token)
    _check_role(grant.role, roles)
    g.current_grant = grant
    return grant


def _check_role(role: Role, roles: tuple[Role | str, ...]) -> None:
    """`Forbidden` unless `role` is one of `roles` (none: any role; admins hold every one)."""
    if roles and role is not Role.ADMIN and role not in {Role(r) for r in roles}:
        wanted = ", ".join(Role(r).value for r in roles)
        raise Forbidden(f"This needs the role {wanted}; you are {role.value}.")


def _has_web_session() -> bool:
    from app.web.session import has_web_session

    return has_web_session()


def _web_session_token() -> ApiToken:
    """The token of the browser session that calls the API from a page's script.

    A request that changes something must also carry the session's CSRF token in the
    `X-CSRF-Token` header: a cookie alone is sent by any site's forms."""
    from app.web.session import CSRF_HEADER, csrf_matches, web_token

    record = web_token()
    if record is None:
        raise Unauthorized("The browser session ended; log in again.", invalid_token=True)
    if request.method not in SAFE_METHODS and not csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Forbidden(f"Send this page's CSRF token in the {CSRF_HEADER} header.")
    return record


def auth_required(*roles: Role | str, load_account: bool = True) -> Callable[[F], F]:
    """Decorator for a view method: require a valid bearer token (and one of `roles`).

    Put it above `@blp.arguments` so a request without a token gets 401, not 422.
    `load_account=False`: check with `authorize_request` (see the module docstring).
    """
    allowed = tuple(Role(r) for r in roles)
    check = authenticate_request if load_account else authorize_request

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(*allowed)
            return func(*args, **kwargs)

        # flask-smorest reads operation docs from `_apidoc`; copy so the wrapped
        # function's docs stay untouched.
        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        apidoc.setdefault("manual_doc", {})["security"] = [{BEARER_SCHEME_NAME: []}]
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        if allowed:
            responses.setdefault(403, []).append("FORBIDDEN")
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def current_user() -> User:
    """The account of the authenticated request; raises `Unauthorized` outside one.
    After `authorize_request` the account is loaded here, on first use."""
    user = g.get("current_user")
    if user is None:
        user = db.session.get(User, current_user_id())
        if user is None:  # deleted since the token was checked
            raise Unauthorized("The token is not valid.", invalid_token=True)
        g.current_user = user
    account: User = user
    return account


def current_user_id() -> int:
    """The account id of the authenticated request; raises `Unauthorized` outside one."""
    grant = g.get("current_grant")
    if grant is None:
        raise Unauthorized()
    user_id: int = grant.user_id
    return user_id


def get_or_404(model: type[M], ident: Any, message: str | None = None) -> M:
    """The `model` row with primary key `ident`; raises `NotFound` (404)."""
    obj = db.session.get(model, ident)
    if obj is None:
        raise NotFound(message or f"{model.__name__} {ident} not found.")
    return obj


def count_rows(stmt: Select[Any]) -> int:
    """How many rows `stmt` returns, counted in the database through a subquery."""
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    return db.session.scalar(counted) or 0


class SelectPage(Page):
    """flask-smorest pager for a SQLAlchemy `select()` returned by a view: the page's
    rows are fetched with OFFSET/LIMIT, the total counted through a subquery, and each
    row passed through `view` (the row itself unless a subclass renders it)."""

    def view(self, row: Any) -> Any:
        return row

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        page = self.collection.offset(params.first_item).limit(params.page_size)
        return [self.view(row) for row in db.session.scalars(page)]

    @property
    def item_count(self) -> int:
        return count_rows(self.collection)


def client_address() -> str:
    """The caller's address as seen by this app (after the configured proxies)."""
    return request.remote_addr or "unknown"


# OpenAPI schema of a plain-text response body (CSV, YAML, server-sent events).
TEXT_BODY = {"type": "string"}
