"""Quiz request and response bodies."""

from __future__ import annotations

import marshmallow as ma

from app.banks.schemas import QuizSchema as BlueprintQuizSchema
from app.models.quiz import ExpiryPolicy, GradingMethod, QuizSource, ReviewAfter, ReviewPolicy
from app.schemas.common import OutputSchema


class QuizCreateSchema(BlueprintQuizSchema):
    """A trainer's custom quiz: the blueprint format of docs/content-format.md as JSON."""


class StandingSchema(OutputSchema):
    attempts_used = ma.fields.Integer(required=True)
    attempts_left = ma.fields.Integer(
        allow_none=True, metadata={"description": "null: unlimited attempts."}
    )
    result_percent = ma.fields.Float(
        allow_none=True, metadata={"description": "By the quiz's grading method."}
    )
    passed = ma.fields.Boolean(allow_none=True)


class QuizOutSchema(OutputSchema):
    slug = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    time_limit_minutes = ma.fields.Integer(required=True)
    question_count = ma.fields.Function(
        lambda quiz: sum(rule["count"] for rule in quiz.draw), required=True
    )
    pass_mark = ma.fields.Float(required=True)
    attempts_allowed = ma.fields.Integer(required=True, metadata={"description": "0: unlimited."})
    grading_method = ma.fields.Enum(GradingMethod, by_value=True, required=True)
    shuffle_questions = ma.fields.Boolean(required=True)
    shuffle_options = ma.fields.Boolean(required=True)
    expiry_policy = ma.fields.Enum(ExpiryPolicy, by_value=True, required=True)
    grace_minutes = ma.fields.Integer(required=True)
    review_policy = ma.fields.Enum(ReviewPolicy, by_value=True, required=True)
    review_after = ma.fields.Enum(ReviewAfter, by_value=True, required=True)
    close_at = ma.fields.AwareDateTime(allow_none=True)
    source = ma.fields.Enum(QuizSource, by_value=True, required=True)


class QuizDetailSchema(QuizOutSchema):
    draw = ma.fields.List(ma.fields.Dict(), required=True)
    standing = ma.fields.Nested(
        StandingSchema,
        allow_none=True,
        metadata={"description": "The caller's attempts and result at this quiz."},
    )
