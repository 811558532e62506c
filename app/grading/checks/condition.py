"""`condition_stable`: an object's status condition has held a status for a while,
measured on the cluster's clock from the condition's `lastTransitionTime`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import fields, validate

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
from app.grading.timeparse import parse_k8s_time


class ConditionSchema(SelectionSchema):
    type = fields.String(required=True)
    status = fields.String(
        load_default="True", validate=validate.OneOf(("True", "False", "Unknown"))
    )
    for_seconds = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))


class ConditionStable(SimpleKind):
    """Every selected object (at least one) has the condition at the status for
    `for_seconds` or longer."""

    name = "condition_stable"
    schema = ConditionSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        objects = select(params, env)
        what = describe_selection(params)
        want = f"{params['type']}={params['status']}"
        if not objects:
            return Outcome(False, f"expected {what} to exist, found none")
        now = env.context.now()
        problems, evidence = [], []
        for obj in objects:
            problem, condition = _judge(obj, params, now)
            evidence.append(evidence_of(obj, condition=condition))
            if problem:
                problems.append(f"{object_name(obj)}: {problem}")
        if problems:
            return Outcome(
                False,
                f"expected {want} for >= {params['for_seconds']}s; " + "; ".join(problems[:5]),
                evidence[:20],
            )
        return Outcome(True, f"{what}: {want} for >= {params['for_seconds']}s", evidence[:20])


def _judge(
    obj: dict[str, Any], params: dict[str, Any], now: datetime
) -> tuple[str | None, dict[str, Any] | None]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    condition = next((c for c in conditions if c.get("type") == params["type"]), None)
    if condition is None:
        return f"no {params['type']} condition", None
    shown = {k: condition.get(k) for k in ("type", "status", "lastTransitionTime", "reason")}
    if condition.get("status") != params["status"]:
        return f"{params['type']} is {condition.get('status')}", shown
    since = parse_k8s_time(condition.get("lastTransitionTime"))
    if since is None:
        return f"{params['type']} has no lastTransitionTime", shown
    held = (now - since).total_seconds()
    if held < params["for_seconds"]:
        return f"{params['type']}={params['status']} for only {max(held, 0):.0f}s", shown
    return None, shown
