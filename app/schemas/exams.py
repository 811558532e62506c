"""Schemas of mock exams, exam attempts and their grades.

Candidate-facing output has no checks before grading and never the checks' expected
values: an exam lists its tasks by title, domain, context and weight; an attempt adds
the task texts; a grade's checks for candidates are trimmed by the service
(`app.services.exam_grading.grade_view`) to id, points, earned, pass/fail and message.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.schemas.common import InputSchema, OutputSchema


class ExamNodeSchema(OutputSchema):
    name = fields.String()
    role = fields.String()


class ExamContextSchema(OutputSchema):
    name = fields.String(metadata={"description": "The kubeconfig context of one cluster."})
    nodes = fields.List(fields.Nested(ExamNodeSchema))


class ExamDomainSchema(OutputSchema):
    domain = fields.String()
    weight = fields.Float()


class ExamTaskSummarySchema(OutputSchema):
    number = fields.Integer()
    id = fields.String()
    title = fields.String()
    domain = fields.String()
    context = fields.String()
    weight = fields.Float(metadata={"description": "Percentage points of the exam."})


class ExamTaskSchema(ExamTaskSummarySchema):
    text = fields.String(metadata={"description": "What the candidate reads (Markdown)."})


class ExamSummarySchema(OutputSchema):
    slug = fields.String()
    version = fields.Integer()
    title = fields.String()
    description = fields.String()
    time_limit_minutes = fields.Integer()
    pass_percent = fields.Float()


class ExamSchema(ExamSummarySchema):
    contexts = fields.List(fields.Nested(ExamContextSchema))
    domains = fields.List(fields.Nested(ExamDomainSchema))
    tasks = fields.List(fields.Nested(ExamTaskSummarySchema))


class ExamGradeSummarySchema(OutputSchema):
    id = fields.Integer()
    number = fields.Integer()
    status = fields.String(metadata={"description": "pending, running, done or failed"})
    final = fields.Boolean()
    requested_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    score = fields.Float(allow_none=True)
    passed = fields.Boolean(allow_none=True)
    error = fields.String(allow_none=True)


class ExamAttemptSchema(OutputSchema):
    id = fields.Integer()
    exam = fields.String()
    title = fields.String()
    status = fields.String(
        metadata={"description": "provisioning, running, grading, graded or failed"}
    )
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    deadline_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    auto_submitted = fields.Boolean()
    remaining_seconds = fields.Integer(
        allow_none=True, metadata={"description": "Seconds left on the timer while running."}
    )
    time_limit_minutes = fields.Integer()
    pass_percent = fields.Float()
    score = fields.Float(allow_none=True)
    passed = fields.Boolean(allow_none=True)
    error = fields.String(allow_none=True)
    contexts = fields.List(fields.Nested(ExamContextSchema))
    tasks = fields.List(fields.Nested(ExamTaskSchema))
    grades = fields.List(fields.Nested(ExamGradeSummarySchema))
    # Trainers and admins only.
    user_id = fields.Integer()
    clusters = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True))


class ExamAttemptQuerySchema(InputSchema):
    exam = fields.String(metadata={"description": "Only attempts of this exam slug."})


class ExamExecInSchema(InputSchema):
    context = fields.String(required=True, validate=validate.Length(min=1, max=64))
    node = fields.String(required=True, validate=validate.Length(min=1, max=64))
    command = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class ExamExecResultSchema(OutputSchema):
    context = fields.String()
    node = fields.String()
    command = fields.String()
    exit_code = fields.Integer()
    stdout = fields.String()
    stderr = fields.String()


class ExamCheckField(fields.Raw):
    """A check result: id, points, earned, passed and message for candidates; the full
    result with detail and evidence for trainers and admins."""


class ExamTaskResultSchema(OutputSchema):
    id = fields.String()
    title = fields.String()
    domain = fields.String()
    context = fields.String()
    weight = fields.Float()
    score = fields.Float()
    percentage = fields.Float()
    capped = fields.Boolean()
    checks = fields.List(ExamCheckField())
    solution = fields.String(
        allow_none=True, metadata={"description": "The reference solution (after grading)."}
    )


class ExamDomainResultSchema(OutputSchema):
    domain = fields.String()
    weight = fields.Float()
    score = fields.Float()


class ExamGradeSchema(ExamGradeSummarySchema):
    attempt_id = fields.Integer()
    pass_percent = fields.Float()
    tasks = fields.List(fields.Nested(ExamTaskResultSchema))
    domains = fields.List(fields.Nested(ExamDomainResultSchema))
