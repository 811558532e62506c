"""`exists` and `absent`: whether objects matching a selection are there."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from app.grading.checks.base import (
    CheckEnv,
    Outcome,
    SelectionSchema,
    SimpleKind,
    describe_selection,
    evidence_of,
    object_name,
    select,
)
from app.grading.matchers import search


class PresenceSchema(SelectionSchema):
    # Optional JMESPath filter each object must satisfy (truthy) to count as present.
    where = fields.String()


def _present(params: dict[str, Any], env: CheckEnv) -> list[dict[str, Any]]:
    objects = select(params, env)
    if params.get("where"):
        objects = [o for o in objects if search(params["where"], o)]
    return objects


class Exists(SimpleKind):
    """Passes when at least one object matches."""

    name = "exists"
    schema = PresenceSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        found = _present(params, env)
        what = describe_selection(params)
        if found:
            return Outcome(True, f"found {what}", [evidence_of(o) for o in found[:20]])
        return Outcome(False, f"expected {what} to exist, found none")


class Absent(SimpleKind):
    """Passes when no object matches."""

    name = "absent"
    schema = PresenceSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        found = _present(params, env)
        what = describe_selection(params)
        if not found:
            return Outcome(True, f"no {what}")
        names = ", ".join(object_name(o) for o in found[:5])
        return Outcome(
            False,
            f"expected no {what}, found {len(found)}: {names}",
            [evidence_of(o) for o in found[:20]],
        )
