"""Attempts: read, autosave a response, submit, review; trainers list them and set
accommodations."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, jsonify, request
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import Select
from webargs.core import parse_json
from webargs.flaskparser import is_json_request

from app.api.common import SelectPage, auth_required, bearer_token, current_user, current_user_id
from app.api.parsing import Blueprint, argument_problem, request_body
from app.clock import now
from app.models.attempt import Attempt
from app.models.user import Role, User
from app.schemas.attempts import (
    AccommodationInSchema,
    AccommodationSchema,
    AttemptQuerySchema,
    AttemptSchema,
    AttemptSummarySchema,
    ResponseInSchema,
    ReviewSchema,
    SavedResponseSchema,
)
from app.services import attempts as attempts_service
from app.services import autosave, cohorts
from app.services.auth import TokenGrant, hash_token

blp = Blueprint("attempts", __name__, description="Quiz attempts, responses and reviews.")


@blp.route("/attempts")
class Attempts(MethodView):
    @auth_required()
    @blp.arguments(AttemptQuerySchema, location="query")
    @blp.response(200, AttemptSummarySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Select[tuple[Attempt]]:
        """Attempts, newest first (paginated). Learners see their own; trainers their
        cohorts' learners', admins everyone's; filtered by `quiz` slug and `user` id."""
        return attempts_service.visible_attempts_query(
            current_user(), args.get("quiz"), args.get("user")
        )


@blp.route("/attempts/<int:attempt_id>")
class AttemptById(MethodView):
    @auth_required()
    @blp.response(200, AttemptSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, attempt_id: int) -> dict[str, Any]:
        """The attempt with its questions (no answer data), saved responses and remaining
        time: what a learner needs to resume."""
        return attempts_service.attempt_view(
            attempts_service.get_attempt(current_user(), attempt_id)
        )


_RESPONSE_IN = ResponseInSchema()
_SAVED_OUT = SavedResponseSchema()


def _autosaved_in_one_statement(attempt_id: int, question_id: str) -> Response | None:
    """The autosave's answer when `app.services.autosave` wrote it in one statement;
    None when the request must take the ordinary path (which gives every refusal)."""
    if not autosave.enabled() or not is_json_request(request):
        return None
    digest = _credential_digest()
    if digest is None:
        return None
    try:
        data = _RESPONSE_IN.load(parse_json(request_body(request)))
    except (ValueError, RecursionError, ValidationError):
        return None
    if argument_problem(data) is not None:
        return None
    saved = autosave.save(digest, attempt_id, question_id, data["response"], now())
    if saved is None:
        return None
    g.current_grant = TokenGrant(token_id=saved.token_id, user_id=saved.user_id, role=saved.role)
    response: Response = jsonify(_SAVED_OUT.dump(saved.result))
    return response


def _credential_digest() -> str | None:
    """The stored hash of the request's credential: its bearer token, else (with this
    page's CSRF token) its browser session's; None without either."""
    token = bearer_token()
    if token is not None:
        return hash_token(token)
    from app.web.session import api_write_digest

    return api_write_digest()


def _one_statement_first(view: Callable[..., Any]) -> Callable[..., Any]:
    """Try `_autosaved_in_one_statement` before the decorated autosave view."""

    @wraps(view)
    def wrapper(self: MethodView, attempt_id: int, question_id: str) -> Any:
        saved = _autosaved_in_one_statement(attempt_id, question_id)
        if saved is not None:
            return saved
        return view(self, attempt_id=attempt_id, question_id=question_id)

    return wrapper


@blp.route("/attempts/<int:attempt_id>/responses/<question_id>")
class AttemptResponse(MethodView):
    # The hottest route (many autosaves a minute per learner). On PostgreSQL a
    # well-formed autosave (bearer token, or browser session with its CSRF token) is
    # written in one statement
    # (`app.services.autosave`); anything that statement does not write takes the path
    # below, whose token check reads plain columns instead of loading the account.
    @_one_statement_first
    @auth_required(load_account=False)
    @blp.arguments(ResponseInSchema)
    @blp.response(200, SavedResponseSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, data: dict[str, Any], attempt_id: int, question_id: str) -> dict[str, Any]:
        """Autosave the response to one question. 409 after the deadline or submit (the
        reason is in `errors.reason`), 422 when it does not fit the question type."""
        return attempts_service.save_response_of(
            current_user_id(), attempt_id, question_id, data["response"]
        )


@blp.route("/attempts/<int:attempt_id>/submit")
class AttemptSubmit(MethodView):
    @auth_required()
    @blp.response(200, AttemptSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, attempt_id: int) -> dict[str, Any]:
        """Score and close the attempt. Idempotent: a second submit returns the same
        result. 409 when the expiry policy abandoned it."""
        return attempts_service.attempt_view(
            attempts_service.submit_attempt(current_user(), attempt_id)
        )


@blp.route("/attempts/<int:attempt_id>/review")
class AttemptReview(MethodView):
    @auth_required()
    @blp.response(200, ReviewSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def get(self, attempt_id: int) -> dict[str, Any]:
        """Score, and as much detail as the quiz's review policy allows now
        (`level`). 409 before submit."""
        return attempts_service.review_view(current_user(), attempt_id)


@blp.route("/users/<int:user_id>/accommodation")
class UserAccommodation(MethodView):
    @auth_required(Role.TRAINER)
    @blp.arguments(AccommodationInSchema)
    @blp.response(200, AccommodationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], user_id: int) -> User:
        """Set a learner's time multiplier for all their attempts: those started later and
        those in progress whose deadline has not passed. 404 for a user outside the
        trainer's cohorts."""
        staff = current_user()
        # Logged with the change (the service commits both); no cohort in this path.
        cohorts.record_action(
            staff, None, "set accommodation", user_id, accommodation=data["accommodation"]
        )
        return attempts_service.set_accommodation(staff, user_id, data["accommodation"])
