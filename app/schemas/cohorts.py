"""Cohort, membership, assignment, progress and xAPI bodies."""

from __future__ import annotations

import marshmallow as ma

from app.models.cohort import AssignmentKind
from app.schemas.common import InputSchema, OutputSchema


class CohortCreateSchema(InputSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class CohortUpdateSchema(InputSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    archived = ma.fields.Boolean()


class CohortListQuerySchema(InputSchema):
    include_archived = ma.fields.Boolean(load_default=False)


class MemberRefSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)


class AssignmentSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)


class CohortSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    owner_email = ma.fields.String(required=True)
    archived = ma.fields.Boolean(required=True)
    archived_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    members = ma.fields.List(ma.fields.Nested(MemberRefSchema), required=True)
    assignments = ma.fields.List(ma.fields.Nested(AssignmentSchema), required=True)


class MembersAddSchema(InputSchema):
    emails = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=254)),
        required=True,
        validate=ma.validate.Length(min=1, max=5000),
    )


class MembersReportSchema(OutputSchema):
    added = ma.fields.List(ma.fields.String(), required=True)
    already = ma.fields.List(ma.fields.String(), required=True)
    unknown = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "Addresses without an account; nothing was created."},
    )
    refused = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Trainer and admin accounts: a cohort holds learners only."},
    )


class LearnerCreateSchema(InputSchema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=200),
        metadata={"description": "Omit to get a one-time invitation link instead."},
    )


class LearnerCreatedSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    invitation_url = ma.fields.String(
        allow_none=True,
        metadata={"description": "The one-time link that sets the password (shown once)."},
    )


class ExtraAttemptsInSchema(InputSchema):
    quiz = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    extra = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=20))


class ExtraAttemptsSchema(OutputSchema):
    quiz = ma.fields.String(required=True)
    extra_attempts = ma.fields.Integer(required=True)
    attempts_allowed = ma.fields.Integer(
        required=True, metadata={"description": "0 means unlimited."}
    )


class AssignmentCreateSchema(InputSchema):
    kind = ma.fields.Enum(AssignmentKind, by_value=True, required=True)
    slug = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    due_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)


class MasterySchema(OutputSchema):
    score = ma.fields.Float(required=True)
    max_score = ma.fields.Float(required=True)
    percent = ma.fields.Float(required=True)
    evidence = ma.fields.Integer(
        required=True, metadata={"description": "Quiz items and lab checks counted."}
    )


class WeakTopicSchema(OutputSchema):
    topic = ma.fields.String(required=True)
    percent = ma.fields.Float(required=True)
    evidence = ma.fields.Integer(required=True)


class LabResultSchema(OutputSchema):
    slug = ma.fields.String(required=True)
    grades = ma.fields.Integer(required=True)
    best_percent = ma.fields.Float(allow_none=True)
    passed = ma.fields.Boolean()


class AssignmentStatusSchema(OutputSchema):
    id = ma.fields.Integer(allow_none=True)
    kind = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "The learner's due date (extension included)."}
    )
    extended = ma.fields.Boolean(
        metadata={"description": "True when the learner has their own due date."}
    )
    done = ma.fields.Boolean(required=True)
    overdue = ma.fields.Boolean(required=True)


class LearnerProgressSchema(OutputSchema):
    user_id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    attempts = ma.fields.Integer(
        required=True, metadata={"description": "Submitted attempts (the ones with a score)."}
    )
    attempts_in_progress = ma.fields.Integer(required=True)
    attempts_abandoned = ma.fields.Integer(required=True)
    best_percent = ma.fields.Float(allow_none=True)
    last_percent = ma.fields.Float(allow_none=True)
    labs_completed = ma.fields.Integer(required=True)
    labs = ma.fields.List(ma.fields.Nested(LabResultSchema), required=True)
    time_spent_seconds = ma.fields.Integer(required=True)
    last_activity = ma.fields.AwareDateTime(allow_none=True)
    domains = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(MasterySchema), required=True
    )
    topics = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(MasterySchema), required=True
    )
    readiness_percent = ma.fields.Float(allow_none=True)
    ready = ma.fields.Boolean(
        required=True,
        metadata={"description": "True only when `readiness_status` is `ready`."},
    )
    readiness_status = ma.fields.String(
        required=True,
        metadata={
            "description": "`ready` (every CKA domain has enough evidence and readiness >= "
            "66 %), `not ready`, `not enough evidence` (a domain lacks evidence) or "
            "`no results`."
        },
    )
    missing_domains = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "CKA domains without enough evidence yet."},
    )
    weak_topics = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "At most the three weakest."}
    )
    weak_topic_details = ma.fields.List(ma.fields.Nested(WeakTopicSchema), required=True)
    assignments = ma.fields.List(ma.fields.Nested(AssignmentStatusSchema), required=True)


class BucketSchema(OutputSchema):
    low = ma.fields.Integer(required=True)
    high = ma.fields.Integer(required=True)
    count = ma.fields.Integer(required=True)


class CohortAggregateSchema(OutputSchema):
    learners = ma.fields.Integer(required=True)
    with_results = ma.fields.Integer(required=True)
    ready = ma.fields.Integer(required=True)
    mean_readiness = ma.fields.Float(allow_none=True)
    median_readiness = ma.fields.Float(allow_none=True)
    distribution = ma.fields.List(ma.fields.Nested(BucketSchema), required=True)
    domains = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(MasterySchema), required=True
    )
    topics = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(MasterySchema), required=True
    )
    weak_topics = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "At most the five weakest."}
    )
    weak_topic_details = ma.fields.List(ma.fields.Nested(WeakTopicSchema), required=True)


class CohortRefSchema(OutputSchema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class ProgressSchema(OutputSchema):
    cohort = ma.fields.Nested(CohortRefSchema, required=True)
    generated_at = ma.fields.AwareDateTime(required=True)
    pass_mark = ma.fields.Float(required=True)
    assignments = ma.fields.List(ma.fields.Nested(AssignmentSchema), required=True)
    learners = ma.fields.List(ma.fields.Nested(LearnerProgressSchema), required=True)
    aggregate = ma.fields.Nested(CohortAggregateSchema, required=True)


class ProgressQuerySchema(InputSchema):
    format = ma.fields.String(validate=ma.validate.OneOf(["json", "csv"]), load_default=None)


class StatementsQuerySchema(InputSchema):
    since = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "Only events that happened after this."}
    )
    after = ma.fields.Integer(
        load_default=None,
        metadata={"description": "Paging cursor: follow `more` rather than setting it."},
    )
    limit = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=10000))


class StatementResultSchema(OutputSchema):
    statements = ma.fields.List(
        ma.fields.Dict(), required=True, metadata={"description": "xAPI 1.0.3 statements."}
    )
    more = ma.fields.String(
        required=True,
        metadata={"description": "URL of the next page; empty when this is the last one."},
    )


class LearnerAssignmentSchema(OutputSchema):
    cohort = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)


class DueDateInSchema(InputSchema):
    due_at = ma.fields.AwareDateTime(required=True, allow_none=True)
