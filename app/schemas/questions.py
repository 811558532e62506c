"""Question bodies for trainers and admins: the full item, answer key included.

Learners never receive this schema (`GET /questions` answers them 403).
"""

from __future__ import annotations

import marshmallow as ma

from app.banks.schemas import DIFFICULTIES, DOMAINS, SECTIONS, TYPE_SCHEMAS
from app.schemas.common import InputSchema, OutputSchema


class QuestionQuerySchema(InputSchema):
    bank = ma.fields.String()
    section = ma.fields.String(validate=ma.validate.OneOf(SECTIONS))
    domain = ma.fields.String(validate=ma.validate.OneOf(DOMAINS))
    topic = ma.fields.String()
    difficulty = ma.fields.String(validate=ma.validate.OneOf(DIFFICULTIES))
    type = ma.fields.String(validate=ma.validate.OneOf(list(TYPE_SCHEMAS)))
    include_retired = ma.fields.Boolean(load_default=False)


class QuestionWithKeySchema(OutputSchema):
    id = ma.fields.String(attribute="uid", required=True)
    revision = ma.fields.Integer(required=True)
    version = ma.fields.Integer(attribute="declared_version", required=True)
    bank = ma.fields.Function(lambda q: q.bank.slug, required=True)
    type = ma.fields.String(required=True)
    difficulty = ma.fields.String(required=True)
    domain = ma.fields.String(required=True)
    section = ma.fields.String(required=True)
    topic = ma.fields.String(required=True)
    seed_section = ma.fields.String(required=True)
    points = ma.fields.Float(required=True)
    body = ma.fields.Dict(
        required=True,
        metadata={"description": "The validated YAML item: stem, options, answer key, why."},
    )
    retired_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
