"""Login and token bodies."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import InputSchema, OutputSchema


class TokenRequestSchema(InputSchema):
    # 254: the longest usable address (RFC 5321 path limit) and the column size.
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1024))


class TokenSchema(OutputSchema):
    token = ma.fields.String(
        required=True, metadata={"description": "Send as 'Authorization: Bearer <token>'."}
    )
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_at = ma.fields.AwareDateTime(required=True)
