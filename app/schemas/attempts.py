"""Attempt request and response bodies.

`AttemptSchema` is what a learner reads while taking a quiz: it has no answer field at all
(no `correct`, `why`, `answer`, `accept`, `match`, `explanation`), in any phase. What a
learner may see after submit is `ReviewSchema`, filled as far as the review policy allows.
"""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import InputSchema, OutputSchema
from app.services.users import MAX_ACCOMMODATION, MIN_ACCOMMODATION


class ShownChoiceSchema(OutputSchema):
    id = ma.fields.String(required=True)
    text = ma.fields.String(required=True)


class AttemptItemSchema(OutputSchema):
    question_id = ma.fields.String(required=True)
    position = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True)
    stem = ma.fields.String(required=True)
    points = ma.fields.Float(required=True)
    options = ma.fields.List(ma.fields.Nested(ShownChoiceSchema), allow_none=True)
    items = ma.fields.List(ma.fields.Nested(ShownChoiceSchema), allow_none=True)
    prompts = ma.fields.List(ma.fields.Nested(ShownChoiceSchema), allow_none=True)
    choices = ma.fields.List(ma.fields.Nested(ShownChoiceSchema), allow_none=True)
    unit = ma.fields.String(allow_none=True)
    response = ma.fields.Dict(allow_none=True, metadata={"description": "The saved response."})
    answered_at = ma.fields.AwareDateTime(allow_none=True)

    @ma.post_dump
    def drop_absent(self, data: dict, **kwargs: object) -> dict:
        """Leave out the presentation keys this item type does not have."""
        for key in ("options", "items", "prompts", "choices", "unit"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class ResultSchema(OutputSchema):
    score = ma.fields.Float(required=True)
    max_score = ma.fields.Float(required=True)
    percent = ma.fields.Float(required=True)
    passed = ma.fields.Boolean(required=True)


class AttemptSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    quiz_slug = ma.fields.String(required=True)
    quiz_title = ma.fields.String(required=True)
    user_id = ma.fields.Integer(required=True)
    number = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "in_progress|submitted|abandoned"}
    )
    close_reason = ma.fields.String(allow_none=True)
    started_at = ma.fields.AwareDateTime(required=True)
    deadline_at = ma.fields.AwareDateTime(required=True)
    expires_at = ma.fields.AwareDateTime(required=True)
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    accepting_responses = ma.fields.Boolean(required=True)
    remaining_seconds = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(AttemptItemSchema), required=True)
    result = ma.fields.Nested(ResultSchema, allow_none=True)
    review_level = ma.fields.String(
        allow_none=True, metadata={"description": "What GET /attempts/{id}/review shows now."}
    )


class AttemptSummarySchema(OutputSchema):
    """One row of an attempt list: no items."""

    id = ma.fields.Integer(required=True)
    quiz_slug = ma.fields.Function(lambda a: a.quiz.slug, required=True)
    user_id = ma.fields.Integer(required=True)
    number = ma.fields.Integer(required=True)
    status = ma.fields.Function(lambda a: a.status.value, required=True)
    close_reason = ma.fields.Function(lambda a: a.close_reason.value if a.close_reason else None)
    started_at = ma.fields.AwareDateTime(required=True)
    deadline_at = ma.fields.AwareDateTime(required=True)
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    score = ma.fields.Float(allow_none=True)
    max_score = ma.fields.Float(allow_none=True)
    percent = ma.fields.Float(allow_none=True)
    passed = ma.fields.Boolean(allow_none=True)


class AttemptQuerySchema(InputSchema):
    quiz = ma.fields.String(metadata={"description": "Quiz slug."})
    user = ma.fields.Integer(metadata={"description": "Learner id (trainers and admins)."})


class ResponseInSchema(InputSchema):
    response = ma.fields.Dict(
        required=True,
        metadata={"description": 'The item type\'s response shape, e.g. {"choice": "b"}.'},
    )


class SavedResponseSchema(OutputSchema):
    question_id = ma.fields.String(required=True)
    response = ma.fields.Dict(required=True)
    answered_at = ma.fields.AwareDateTime(required=True)
    remaining_seconds = ma.fields.Integer(required=True)


class ScoreBucketSchema(OutputSchema):
    score = ma.fields.Float(required=True)
    max_score = ma.fields.Float(required=True)
    percent = ma.fields.Float(required=True)


class OptionFeedbackSchema(OutputSchema):
    id = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    correct = ma.fields.Boolean(required=True)
    why = ma.fields.String(required=True)


class ReviewItemSchema(OutputSchema):
    """Correctness level; `answer` from level answers, the rest from explanations."""

    question_id = ma.fields.String(required=True)
    position = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True)
    stem = ma.fields.String(required=True)
    response = ma.fields.Dict(allow_none=True)
    score = ma.fields.Float(allow_none=True)
    max_score = ma.fields.Float(required=True)
    correct = ma.fields.Boolean(required=True)
    answer = ma.fields.Dict()
    explanation = ma.fields.String()
    seed_section = ma.fields.String()
    # The documentation page or upstream source the question rests on (URL or path).
    source = ma.fields.String()
    option_feedback = ma.fields.List(ma.fields.Nested(OptionFeedbackSchema))


class ReviewSchema(OutputSchema):
    attempt_id = ma.fields.Integer(required=True)
    quiz_slug = ma.fields.String(required=True)
    level = ma.fields.String(
        required=True, metadata={"description": "score_only|correctness|answers|explanations"}
    )
    score = ma.fields.Float(allow_none=True)
    max_score = ma.fields.Float(allow_none=True)
    percent = ma.fields.Float(allow_none=True)
    passed = ma.fields.Boolean(allow_none=True)
    pass_mark = ma.fields.Float(required=True)
    domains = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(ScoreBucketSchema))
    topics = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(ScoreBucketSchema))
    items = ma.fields.List(ma.fields.Nested(ReviewItemSchema), required=True)


class AccommodationInSchema(InputSchema):
    accommodation = ma.fields.Float(
        required=True,
        validate=ma.validate.Range(min=MIN_ACCOMMODATION, max=MAX_ACCOMMODATION),
        metadata={"description": "Time multiplier for all of the learner's quiz attempts."},
    )


class AccommodationSchema(OutputSchema):
    user_id = ma.fields.Integer(required=True, attribute="id")
    accommodation = ma.fields.Float(required=True)
