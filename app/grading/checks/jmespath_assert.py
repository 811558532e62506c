"""`jmespath`: assertions on objects, each a JMESPath expression and an expected value
(the chainsaw way), reported as "expected X, found Y"."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import (
    AssertionSchema,
    CheckEnv,
    Outcome,
    SelectionSchema,
    SimpleKind,
    describe_selection,
    evidence_of,
    object_name,
    select,
)
from app.grading.matchers import evaluate_assertions


class JmespathSchema(SelectionSchema):
    assertions = fields.List(
        fields.Nested(AssertionSchema), required=True, validate=validate.Length(min=1)
    )
    # each: every selected object must pass (at least one must exist);
    # list: the expressions run once over the list of selected objects.
    scope = fields.String(load_default="each", validate=validate.OneOf(("each", "list")))


class Jmespath(SimpleKind):
    name = "jmespath"
    schema = JmespathSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        objects = select(params, env)
        what = describe_selection(params)
        if params["scope"] == "list":
            failures, values = evaluate_assertions(params["assertions"], objects)
            evidence = [evidence_of(o) for o in objects[:20]]
            if evidence or values:
                evidence.append({"list": what, "fields": values})
            if failures:
                return Outcome(False, f"{what}: " + "; ".join(failures), evidence)
            return Outcome(True, f"{what}: all assertions hold", evidence)
        if not objects:
            return Outcome(False, f"expected {what} to exist, found none")
        evidence = []
        problems = []
        for obj in objects:
            failures, values = evaluate_assertions(params["assertions"], obj)
            evidence.append(evidence_of(obj, **values))
            if failures:
                problems.append(f"{obj.get('kind')} {object_name(obj)}: " + "; ".join(failures))
        if problems:
            return Outcome(False, " | ".join(problems[:3]), evidence[:20])
        return Outcome(True, f"{what}: all assertions hold", evidence[:20])
