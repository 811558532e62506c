"""Account request and response bodies."""

from __future__ import annotations

import marshmallow as ma

from app.models.user import Role
from app.schemas.common import InputSchema, OutputSchema
from app.services.users import MAX_ACCOMMODATION, MIN_ACCOMMODATION, MIN_PASSWORD_LENGTH

_accommodation_range = ma.validate.Range(min=MIN_ACCOMMODATION, max=MAX_ACCOMMODATION)


class UserSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    accommodation = ma.fields.Float(
        required=True, metadata={"description": "Time multiplier for timed quizzes."}
    )
    is_active = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class UserCreateSchema(InputSchema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    role = ma.fields.Enum(Role, by_value=True, load_default=Role.LEARNER)
    password = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=MIN_PASSWORD_LENGTH, max=1024),
        metadata={"description": "Omit for an account that only uses issued tokens."},
    )
    accommodation = ma.fields.Float(load_default=1.0, validate=_accommodation_range)


class UserUpdateSchema(InputSchema):
    role = ma.fields.Enum(Role, by_value=True)
    accommodation = ma.fields.Float(validate=_accommodation_range)
    is_active = ma.fields.Boolean()
    password = ma.fields.String(validate=ma.validate.Length(min=MIN_PASSWORD_LENGTH, max=1024))


class RevokedTokensSchema(OutputSchema):
    revoked = ma.fields.Integer(
        required=True, metadata={"description": "How many live tokens were revoked."}
    )
