"""Questions with their answer keys (trainers and admins; learners get 403)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app.api.common import SelectPage, auth_required
from app.api.parsing import Blueprint
from app.models.question import Question
from app.models.user import Role
from app.schemas.questions import QuestionQuerySchema, QuestionWithKeySchema
from app.services import banks as banks_service

blp = Blueprint(
    "questions", __name__, description="Questions with answer keys; trainers and admins."
)


@blp.route("/questions")
class Questions(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(QuestionQuerySchema, location="query")
    @blp.response(200, QuestionWithKeySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Select[tuple[Question]]:
        """Current question revisions, filtered by bank/section/domain/topic/difficulty/type
        (paginated)."""
        return banks_service.questions_query(**args)
