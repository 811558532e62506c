"""Tokens and the current account: `POST/DELETE /auth/token`, `GET /me`."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from app.api.common import auth_required, client_address, current_user
from app.api.parsing import Blueprint
from app.models.user import User
from app.schemas.auth import TokenRequestSchema, TokenSchema
from app.schemas.common import ErrorSchema
from app.schemas.users import UserSchema
from app.services import auth as auth_service
from app.services.auth import IssuedToken

blp = Blueprint("auth", __name__, description="Log in, log out, and who am I.")

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before the next attempt.",
        "schema": {"type": "integer"},
    }
}


@blp.route("/auth/token")
class Token(MethodView):
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(
        429,
        schema=ErrorSchema,
        description="Too many failed logins for this account or address.",
        headers=RETRY_AFTER_HEADER,
    )
    def post(self, data: dict[str, Any]) -> tuple[IssuedToken, dict[str, str]]:
        """Exchange email and password for a bearer token.

        Repeated failures for one account or one client address are throttled: the
        answer is then 429 with `Retry-After`, even for the right password.
        """
        issued = auth_service.login(data["email"], data["password"], client_address())
        # A response carrying a credential must not be cached (RFC 6749 section 5.1).
        return issued, {"Cache-Control": "no-store"}

    @auth_required()
    @blp.response(204)
    def delete(self) -> None:
        """Revoke the token this request presents (log out)."""
        auth_service.revoke_token(g.current_token)


@blp.route("/me")
class Me(MethodView):
    @auth_required()
    @blp.response(200, UserSchema)
    def get(self) -> User:
        """The account that owns the presented token."""
        return current_user()
