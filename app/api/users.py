"""Accounts (admins only): list, create, read, update, revoke tokens."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app.api.common import SelectPage, auth_required, get_or_404
from app.api.parsing import Blueprint
from app.models.user import Role, User
from app.schemas.users import RevokedTokensSchema, UserCreateSchema, UserSchema, UserUpdateSchema
from app.services import auth as auth_service
from app.services import users as users_service

blp = Blueprint("users", __name__, description="Accounts; admins only.")


@blp.route("/users")
class Users(MethodView):
    @auth_required(Role.ADMIN)
    @blp.response(200, UserSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[tuple[User]]:
        """List accounts, oldest first (paginated: `page`, `page_size`, `X-Pagination`)."""
        return users_service.users_query()

    @auth_required(Role.ADMIN)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> User:
        """Create an account. 409 when the email is taken."""
        return users_service.create_user(**data)


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @auth_required(Role.ADMIN)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, user_id: int) -> User:
        """One account."""
        return get_or_404(User, user_id)

    @auth_required(Role.ADMIN)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, data: dict[str, Any], user_id: int) -> User:
        """Change role, accommodation, password or active flag.

        Deactivating an account or resetting its password revokes its tokens.
        """
        return users_service.update_user(user_id, data)


@blp.route("/users/<int:user_id>/tokens")
class UserTokens(MethodView):
    @auth_required(Role.ADMIN)
    @blp.response(200, RevokedTokensSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, user_id: int) -> dict[str, int]:
        """Revoke every live token of an account."""
        get_or_404(User, user_id)
        return {"revoked": auth_service.revoke_user_tokens(user_id)}
