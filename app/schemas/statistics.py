"""Item statistics and lab statistics bodies."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import InputSchema, OutputSchema


class StatisticsQuerySchema(InputSchema):
    cohort_id = ma.fields.Integer(
        load_default=None, metadata={"description": "Count only this cohort's learners."}
    )
    format = ma.fields.String(validate=ma.validate.OneOf(["json", "csv"]), load_default=None)


class OptionCountSchema(OutputSchema):
    id = ma.fields.String(required=True)
    correct = ma.fields.Boolean(required=True)
    count = ma.fields.Integer(required=True)
    text = ma.fields.String(metadata={"description": "The option as learners saw it."})


class QuestionStatisticsSchema(OutputSchema):
    question_id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    bank = ma.fields.String()
    domain = ma.fields.String(required=True)
    topic = ma.fields.String(required=True)
    stem = ma.fields.String(required=True)
    responses = ma.fields.Integer(required=True)
    unanswered = ma.fields.Integer(required=True)
    facility = ma.fields.Float(allow_none=True, metadata={"description": "0..1"})
    discrimination = ma.fields.Float(
        allow_none=True, metadata={"description": "Upper 27 % minus lower 27 % facility."}
    )
    options = ma.fields.List(
        ma.fields.Nested(OptionCountSchema),
        allow_none=True,
        metadata={"description": "Distractor counts (single, multiple, true/false)."},
    )
    flags = ma.fields.List(ma.fields.String(), required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)


class QuizRefSchema(OutputSchema):
    slug = ma.fields.String(required=True)
    title = ma.fields.String(required=True)


class QuizStatisticsSchema(OutputSchema):
    quiz = ma.fields.Nested(QuizRefSchema, required=True)
    attempts = ma.fields.Integer(required=True)
    mean_percent = ma.fields.Float(allow_none=True)
    alpha = ma.fields.Float(allow_none=True, metadata={"description": "Cronbach's alpha."})
    alpha_questions = ma.fields.Integer(required=True)
    group_size = ma.fields.Integer(required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)
    flagged = ma.fields.List(ma.fields.String(), required=True)
    questions = ma.fields.List(ma.fields.Nested(QuestionStatisticsSchema), required=True)


class LabCheckStatisticsSchema(OutputSchema):
    check_id = ma.fields.String(required=True)
    passed_share = ma.fields.Float(required=True)
    hints_used = ma.fields.Integer(required=True)


class LabStatisticsSchema(OutputSchema):
    lab = ma.fields.String(required=True)
    learners = ma.fields.Integer(required=True)
    grades = ma.fields.Integer(required=True)
    checks = ma.fields.List(ma.fields.Nested(LabCheckStatisticsSchema), required=True)
