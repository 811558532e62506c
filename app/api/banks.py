"""Question banks (trainers and admins)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.common import auth_required
from app.api.parsing import Blueprint
from app.models.user import Role
from app.schemas.banks import BankSchema
from app.services import banks as banks_service

blp = Blueprint("banks", __name__, description="Question banks; trainers and admins.")


@blp.route("/banks")
class Banks(MethodView):
    @auth_required(Role.TRAINER)
    @blp.response(200, BankSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every imported bank with its count of live and retired questions."""
        return banks_service.banks_overview()
