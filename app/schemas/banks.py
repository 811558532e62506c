"""Question bank response bodies (trainers and admins)."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import OutputSchema


class BankSchema(OutputSchema):
    slug = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    source_file = ma.fields.String(required=True)
    question_count = ma.fields.Integer(
        required=True, metadata={"description": "Current, non-retired questions."}
    )
    retired_count = ma.fields.Integer(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)
    retired_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "Set when the bank left the content folder."}
    )
