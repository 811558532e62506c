"""Quizzes: list, read, create (trainers), and start an attempt."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from sqlalchemy import Select

from app.api.common import SelectPage, auth_required, current_user
from app.api.parsing import Blueprint
from app.models.quiz import Quiz
from app.models.user import Role
from app.schemas.attempts import AttemptSchema
from app.schemas.quizzes import QuizCreateSchema, QuizDetailSchema, QuizOutSchema
from app.services import attempts as attempts_service
from app.services import quizzes as quizzes_service

blp = Blueprint("quizzes", __name__, description="Timed quizzes drawn from the banks.")


@blp.route("/quizzes")
class Quizzes(MethodView):
    @auth_required()
    @blp.response(200, QuizOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[Quiz]:
        """Quizzes open for attempts, by title (paginated)."""
        return quizzes_service.quizzes_query()

    @auth_required(Role.TRAINER)
    @blp.arguments(QuizCreateSchema)
    @blp.response(201, QuizDetailSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Quiz:
        """Create a custom quiz from draw rules over tags. 409 when the slug is taken,
        422 when the banks cannot fill the draw rules."""
        return quizzes_service.create_custom_quiz(current_user(), data)


@blp.route("/quizzes/<slug>")
class QuizBySlug(MethodView):
    @auth_required()
    @blp.response(200, QuizDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, slug: str) -> quizzes_service.QuizWithStanding:
        """One quiz, with the caller's attempts used, attempts left and result."""
        return quizzes_service.quiz_for(current_user(), slug)


@blp.route("/quizzes/<slug>/attempts")
class QuizAttempts(MethodView):
    @auth_required()
    @blp.response(201, AttemptSchema)
    @blp.alt_response(200, schema=AttemptSchema, description="The attempt already in progress.")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, slug: str) -> Any:
        """Start an attempt (201), or get back the one in progress (200). 409 when the
        quiz is closed or every allowed attempt is used."""
        attempt, created = attempts_service.start_attempt(current_user(), slug)
        view = attempts_service.attempt_view(attempt)
        if created:
            return view
        return Response(AttemptSchema().dumps(view), status=200, mimetype="application/json")
