"""Marshmallow schemas for content files: question banks and quiz blueprints.

Every schema rejects unknown fields (`unknown=RAISE`, marshmallow's default made explicit)
so a misspelt key is an error with a line, not a silently ignored field. Answer-key checks
raise errors keyed by the offending field so the validator can point at its line.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

QUESTIONS_SPEC = "certprep/questions/v1"
QUIZZES_SPEC = "certprep/quizzes/v1"

DOMAINS = (
    "Cluster Architecture",
    "Workloads & Scheduling",
    "Services & Networking",
    "Storage",
    "Troubleshooting",
)
SECTIONS = (
    "overview",
    "apiserver",
    "etcd",
    "scheduler",
    "controller-manager",
    "kubelet",
    "kube-proxy",
    "openshift",
    "tips",
    # Curriculum banks beyond the control-plane chapter; their questions cite a `source`.
    "networking",
    "storage",
    "workloads",
    "troubleshooting",
    "cluster-lifecycle",
)
# A track keeps certification curricula apart: CKA blueprints never draw OpenShift items.
TRACKS = ("cka", "openshift")
DIFFICULTIES = ("easy", "medium", "hard")
GRADING_METHODS = ("highest", "last", "average")
EXPIRY_POLICIES = ("autosubmit", "grace", "abandon")
REVIEW_POLICIES = ("score_only", "correctness", "answers", "explanations")
REVIEW_AFTER = ("submit", "close")
# Question attributes a blueprint's `where` and `by` may select on.
DRAW_KEYS = ("section", "domain", "topic", "difficulty", "bank", "type", "track")

QUESTION_ID = re.compile(r"[a-z0-9-]{3,80}")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CHOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
# A documentation URL, or an upstream source path such as
# `kubernetes/kubernetes/pkg/proxy/nftables/proxier.go`.
SOURCE = re.compile(r"https?://[^\s/]+\.[^\s]+|[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[^\s]+")
NO_SOURCE = (
    "needs a source: `seed_section` (the chapter section it rests on) or `source`"
    " (a documentation URL or an upstream source path)"
)


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error="must be one of: {choices}; got {input!r}")


class StrictNumber(fields.Field):
    """A finite int or float; strings and booleans are refused (YAML `"2"` is not 2)."""

    default_error_messages = {"invalid": "must be a number"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("invalid")
        return value


class StrictBoolean(fields.Field):
    """`true` or `false` only; marshmallow's Boolean would also take "yes", 1, "on"."""

    default_error_messages = {"invalid": "must be true or false"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Text(fields.String):
    """A non-blank string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=1, error="must not be empty"), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if not value.strip():
            raise ValidationError("must not be empty")
        return value


class UTCTimestamp(fields.AwareDateTime):
    """An ISO-8601 timestamp with a time zone, returned in UTC.

    YAML already turns an unquoted timestamp into a `datetime`; both forms are accepted.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                # PyYAML returns naive UTC for a `Z` timestamp.
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


class ContentSchema(Schema):
    class Meta:
        unknown = RAISE


def _unique_ids(items: list[dict[str, Any]], field_name: str, errors: dict) -> None:
    """Add an error on each item whose `id` repeats an earlier one."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item["id"] in seen:
            errors.setdefault(field_name, {})[index] = {
                "id": [f"duplicate id {item['id']!r} (also item {seen[item['id']] + 1})"]
            }
        else:
            seen[item["id"]] = index


def _add_list_error(errors: dict, field_name: str, message: str) -> None:
    """Attach a message to a whole list field, beside any per-item errors it already has."""
    current = errors.get(field_name)
    if isinstance(current, dict):
        current.setdefault("_schema", []).append(message)
    else:
        errors.setdefault(field_name, []).append(message)


class OptionSchema(ContentSchema):
    id = fields.String(required=True, validate=validate.Regexp(CHOICE_ID))
    text = Text(required=True)
    correct = StrictBoolean(required=True)
    why = Text(required=True)


class ItemSchema(ContentSchema):
    id = fields.String(required=True, validate=validate.Regexp(CHOICE_ID))
    text = Text(required=True)


class PromptSchema(ItemSchema):
    match = fields.String(required=True)


class QuestionBaseSchema(ContentSchema):
    """Fields every question has, whatever its type."""

    id = fields.String(
        required=True,
        validate=validate.Regexp(QUESTION_ID, error="must match [a-z0-9-]{{3,80}}"),
    )
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    type = fields.String(required=True)
    difficulty = fields.String(required=True, validate=_one_of(DIFFICULTIES))
    domain = fields.String(required=True, validate=_one_of(DOMAINS))
    section = fields.String(required=True, validate=_one_of(SECTIONS))
    topic = fields.String(
        required=True, validate=validate.Regexp(SLUG, error="must be short kebab-case")
    )
    track = fields.String(load_default="cka", validate=_one_of(TRACKS))
    # One of the two is required (checked below); a question may cite both.
    seed_section = Text(load_default="")
    source = fields.String(
        validate=validate.Regexp(
            SOURCE, error="must be a URL (https://...) or an upstream path (owner/repo/path)"
        )
    )
    points = StrictNumber(load_default=1, validate=validate.Range(min=0, min_inclusive=False))
    stem = Text(required=True)
    explanation = Text(required=True)

    @validates_schema
    def check_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("seed_section") and not data.get("source"):
            raise ValidationError(NO_SOURCE, "source")


class SingleSchema(QuestionBaseSchema):
    options = fields.List(
        fields.Nested(OptionSchema),
        required=True,
        validate=validate.Length(min=2, max=6, error="needs 2 to 6 options"),
    )

    @validates_schema
    def check_key(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        _unique_ids(data["options"], "options", errors)
        correct = [o["id"] for o in data["options"] if o["correct"]]
        if len(correct) != 1:
            _add_list_error(
                errors,
                "options",
                f"a single-choice question needs exactly one correct option; found {len(correct)}"
                + (f" ({', '.join(correct)})" if correct else ""),
            )
        if errors:
            raise ValidationError(errors)


class MultipleSchema(QuestionBaseSchema):
    options = fields.List(
        fields.Nested(OptionSchema),
        required=True,
        validate=validate.Length(min=2, max=8, error="needs 2 to 8 options"),
    )
    negative_marking = StrictBoolean(load_default=False)

    @validates_schema
    def check_key(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        _unique_ids(data["options"], "options", errors)
        if not any(o["correct"] for o in data["options"]):
            _add_list_error(
                errors, "options", "a multiple-choice question needs at least one correct option"
            )
        if errors:
            raise ValidationError(errors)


class TrueFalseSchema(QuestionBaseSchema):
    answer = StrictBoolean(required=True)


class OrderingSchema(QuestionBaseSchema):
    items = fields.List(
        fields.Nested(ItemSchema),
        required=True,
        validate=validate.Length(min=3, max=8, error="needs 3 to 8 items"),
    )

    @validates_schema
    def check_key(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        _unique_ids(data["items"], "items", errors)
        if errors:
            raise ValidationError(errors)


class MatchingSchema(QuestionBaseSchema):
    prompts = fields.List(
        fields.Nested(PromptSchema),
        required=True,
        validate=validate.Length(min=2, max=10, error="needs 2 to 10 prompts"),
    )
    choices = fields.List(
        fields.Nested(ItemSchema),
        required=True,
        validate=validate.Length(min=2, max=12, error="needs 2 to 12 choices"),
    )

    @validates_schema
    def check_key(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        _unique_ids(data["prompts"], "prompts", errors)
        _unique_ids(data["choices"], "choices", errors)
        choice_ids = {c["id"] for c in data["choices"]}
        for index, prompt in enumerate(data["prompts"]):
            if prompt["match"] not in choice_ids:
                errors.setdefault("prompts", {}).setdefault(index, {})["match"] = [
                    f"matches unknown choice {prompt['match']!r};"
                    f" choices are: {', '.join(sorted(choice_ids))}"
                ]
        if errors:
            raise ValidationError(errors)


class ShortAnswerSchema(QuestionBaseSchema):
    accept = fields.List(Text(), load_default=list)
    accept_regex = fields.List(fields.String(), load_default=list)
    case_sensitive = StrictBoolean(load_default=False)

    @validates_schema
    def check_key(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        if not data["accept"] and not data["accept_regex"]:
            errors["accept"] = ["needs at least one accepted answer (accept or accept_regex)"]
        for index, pattern in enumerate(data["accept_regex"]):
            try:
                re.compile(pattern)
            except re.error as exc:
                errors.setdefault("accept_regex", {})[index] = [
                    f"regular expression does not compile: {exc}"
                ]
        if errors:
            raise ValidationError(errors)


class NumericSchema(QuestionBaseSchema):
    answer = StrictNumber(required=True)
    tolerance = StrictNumber(load_default=0, validate=validate.Range(min=0))
    unit = fields.String()


# Content schema per item type; the single list of the types certprep knows.
TYPE_SCHEMAS: dict[str, type[QuestionBaseSchema]] = {
    "single": SingleSchema,
    "multiple": MultipleSchema,
    "true_false": TrueFalseSchema,
    "ordering": OrderingSchema,
    "matching": MatchingSchema,
    "short_answer": ShortAnswerSchema,
    "numeric": NumericSchema,
}


class QuestionField(fields.Field):
    """A question, loaded by the schema its `type` names."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("a question must be a mapping")
        kind = value.get("type")
        schema_class = TYPE_SCHEMAS.get(kind) if isinstance(kind, str) else None
        if schema_class is None:
            raise ValidationError(
                {"type": [f"unknown question type {kind!r}; one of: {', '.join(TYPE_SCHEMAS)}"]}
            )
        return schema_class().load(value)


class BankFileSchema(ContentSchema):
    spec = fields.String(required=True, validate=validate.Equal(QUESTIONS_SPEC))
    bank = fields.String(
        required=True, validate=validate.Regexp(SLUG, error="must be a kebab-case slug")
    )
    title = Text(required=True)
    description = fields.String(load_default="")
    questions = fields.List(
        QuestionField(), required=True, validate=validate.Length(min=1, error="no questions")
    )


class WhereField(fields.Field):
    """`{section: etcd, difficulty: [medium, hard]}`: each key one of DRAW_KEYS."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("must be a mapping of question attribute to value(s)")
        errors: dict[str, list[str]] = {}
        where: dict[str, list[str]] = {}
        for key, wanted in value.items():
            if key not in DRAW_KEYS:
                errors[key] = [f"unknown attribute; one of: {', '.join(DRAW_KEYS)}"]
                continue
            values = wanted if isinstance(wanted, list) else [wanted]
            if not values or not all(isinstance(v, str) and v for v in values):
                errors[key] = ["must be a string or a list of strings"]
                continue
            where[key] = values
        if errors:
            raise ValidationError(errors)
        return where


class DrawRuleSchema(ContentSchema):
    """One draw rule: `count` questions matching `where`, optionally split by weights."""

    where = WhereField(load_default=dict)
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=200))
    by = fields.String(validate=_one_of(DRAW_KEYS))
    weights = fields.Dict(keys=fields.String(), values=StrictNumber())

    @validates_schema
    def check_weights(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("by" in data) != ("weights" in data):
            raise ValidationError("`by` and `weights` go together", "weights")
        weights = data.get("weights")
        if weights is not None and (not weights or any(w < 0 for w in weights.values())):
            raise ValidationError("weights must be non-negative numbers", "weights")
        if weights is not None and sum(weights.values()) <= 0:
            raise ValidationError("weights must not all be zero", "weights")


class QuizSchema(ContentSchema):
    """A quiz blueprint, as written in YAML or posted by a trainer."""

    slug = fields.String(
        required=True, validate=validate.Regexp(SLUG, error="must be a kebab-case slug")
    )
    title = Text(required=True)
    description = fields.String(load_default="")
    time_limit_minutes = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=600)
    )
    pass_mark = StrictNumber(required=True, validate=validate.Range(min=0, max=100))
    attempts_allowed = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=1000)
    )
    grading_method = fields.String(required=True, validate=_one_of(GRADING_METHODS))
    shuffle_questions = StrictBoolean(load_default=True)
    shuffle_options = StrictBoolean(load_default=True)
    expiry_policy = fields.String(required=True, validate=_one_of(EXPIRY_POLICIES))
    grace_minutes = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(min=0, max=600)
    )
    review_policy = fields.String(required=True, validate=_one_of(REVIEW_POLICIES))
    review_after = fields.String(load_default="submit", validate=_one_of(REVIEW_AFTER))
    close_at = UTCTimestamp(load_default=None, allow_none=True)
    draw = fields.List(
        fields.Nested(DrawRuleSchema),
        required=True,
        validate=validate.Length(min=1, error="needs at least one draw rule"),
    )

    @validates_schema
    def check_policies(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("expiry_policy") == "grace" and not data.get("grace_minutes"):
            errors["grace_minutes"] = ["expiry_policy grace needs grace_minutes > 0"]
        if data.get("review_after") == "close" and data.get("close_at") is None:
            errors["close_at"] = ["review_after close needs a close_at time"]
        if errors:
            raise ValidationError(errors)


class QuizFileSchema(ContentSchema):
    spec = fields.String(required=True, validate=validate.Equal(QUIZZES_SPEC))
    quizzes = fields.List(
        fields.Nested(QuizSchema),
        required=True,
        validate=validate.Length(min=1, error="no quizzes"),
    )
