"""Schemas of labs, lab sessions, node access and grades.

Learner-facing output never has check internals: a lab's checks are id, points and
message; a grade's checks for learners are trimmed by the service before they get here
(`app.services.grades.grade_view`), and `CheckFeedbackSchema` has no field for the
expected values, detail or evidence.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.schemas.common import InputSchema, OutputSchema


class LabNodeSchema(OutputSchema):
    name = fields.String()
    role = fields.String()


class LabCheckSummarySchema(OutputSchema):
    id = fields.String()
    points = fields.Float()
    message = fields.String()


class LabSummarySchema(OutputSchema):
    slug = fields.String()
    version = fields.Integer()
    title = fields.String()
    domain = fields.String()
    section = fields.String()
    difficulty = fields.String()
    time_limit_minutes = fields.Integer()


class LabSchema(LabSummarySchema):
    description = fields.String()
    backends = fields.List(fields.String())
    hint_policy = fields.String()
    nodes = fields.List(fields.Nested(LabNodeSchema))
    tasks = fields.List(fields.String())
    checks = fields.List(fields.Nested(LabCheckSummarySchema))
    total_points = fields.Float()


class GradeSummarySchema(OutputSchema):
    id = fields.Integer()
    number = fields.Integer()
    status = fields.String()
    final = fields.Boolean()
    percentage = fields.Float(allow_none=True)


class LabSessionSchema(OutputSchema):
    id = fields.Integer()
    lab = fields.String()
    lab_title = fields.String()
    status = fields.String(
        metadata={"description": "provisioning, ready, grading, graded, expired, failed or ended"}
    )
    provider = fields.String()
    created_at = fields.DateTime()
    ready_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)
    nodes = fields.List(fields.String())
    tasks = fields.List(fields.String())
    grades = fields.List(fields.Nested(GradeSummarySchema))
    # Trainers and admins only.
    user_id = fields.Integer()
    cluster = fields.Dict(allow_none=True)


class LabSessionQuerySchema(InputSchema):
    lab = fields.String(metadata={"description": "Only sessions of this lab slug."})


class NodeSchema(OutputSchema):
    name = fields.String()
    role = fields.String()


class NodeFileQuerySchema(InputSchema):
    path = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=4096),
            validate.Regexp(r"^/", error="must be absolute"),
        ],
    )


class NodeFileInSchema(InputSchema):
    content = fields.String(required=True, validate=validate.Length(max=1024 * 1024))


class NodeFileSchema(OutputSchema):
    node = fields.String()
    path = fields.String()
    content = fields.String()


class NodeFileWrittenSchema(OutputSchema):
    node = fields.String()
    path = fields.String()
    size = fields.Integer()


class ExecInSchema(InputSchema):
    command = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class ExecResultSchema(OutputSchema):
    node = fields.String()
    command = fields.String()
    exit_code = fields.Integer()
    stdout = fields.String()
    stderr = fields.String()


class GradeWaitQuerySchema(InputSchema):
    wait = fields.Float(
        load_default=0,
        validate=validate.Range(min=0, max=60),
        metadata={"description": "Long-poll: wait up to this many seconds for the result."},
    )


class CheckFeedbackSchema(OutputSchema):
    """One check's feedback for a learner."""

    id = fields.String()
    passed = fields.Boolean()
    points = fields.Float()
    earned = fields.Float()
    message = fields.String()
    hint = fields.String(allow_none=True)
    error = fields.Boolean()


class CheckResultField(fields.Raw):
    """A check result: learner feedback, or the full result with detail and evidence
    for trainers and admins."""


class GradeSchema(OutputSchema):
    id = fields.Integer()
    session_id = fields.Integer()
    number = fields.Integer()
    status = fields.String(metadata={"description": "pending, running, done or failed"})
    final = fields.Boolean()
    requested_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    earned = fields.Float(allow_none=True)
    possible = fields.Float(allow_none=True)
    percentage = fields.Float(allow_none=True)
    raw_percentage = fields.Float(allow_none=True)
    capped = fields.Boolean()
    passed_checks = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    checks = fields.List(CheckResultField(), allow_none=True)
