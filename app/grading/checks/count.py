"""`count`: how many objects match, compared with a number (e.g. Running pods with
app=web >= 3)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import (
    CheckEnv,
    Outcome,
    SelectionSchema,
    SimpleKind,
    describe_selection,
    evidence_of,
    select,
)
from app.grading.matchers import OPERATORS, search


class CountSchema(SelectionSchema):
    # JMESPath each object must satisfy to be counted, e.g. "status.phase == 'Running'".
    where = fields.String()
    op = fields.String(load_default=">=", validate=validate.OneOf(tuple(OPERATORS)))
    value = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class Count(SimpleKind):
    name = "count"
    schema = CountSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        objects = select(params, env)
        where = params.get("where")
        counted = [o for o in objects if search(where, o)] if where else objects
        what = describe_selection(params) + (f" where {where}" if where else "")
        op, value, found = params["op"], params["value"], len(counted)
        evidence = []
        for obj in objects[:30]:
            shown = {"counted": any(obj is c for c in counted)}
            phase = (obj.get("status") or {}).get("phase")
            if phase:
                shown["phase"] = phase
            evidence.append(evidence_of(obj, **shown))
        if OPERATORS[op](found, value):
            return Outcome(True, f"{what}: {found} {op} {value}", evidence)
        return Outcome(False, f"{what}: expected count {op} {value}, found {found}", evidence)
