"""`access_review`: what users may and may not do, asked of the cluster's authorizer
with SubjectAccessReviews (what `kubectl auth can-i --as USER` asks)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import CheckEnv, KindSchema, Outcome, SimpleKind


class CaseSchema(KindSchema):
    user = fields.String(required=True)
    groups = fields.List(fields.String(), load_default=list)
    verb = fields.String(required=True)
    resource = fields.String(required=True)
    group = fields.String(load_default="")  # API group; "" is the core group
    subresource = fields.String()
    namespace = fields.String()
    name = fields.String()
    allowed = fields.Boolean(required=True)


class AccessReviewSchema(KindSchema):
    cases = fields.List(fields.Nested(CaseSchema), required=True, validate=validate.Length(min=1))


def review_body(case: dict[str, Any]) -> dict[str, Any]:
    """The SubjectAccessReview for one case."""
    attributes = {"verb": case["verb"], "resource": case["resource"], "group": case["group"]}
    for key in ("subresource", "namespace", "name"):
        if case.get(key):
            attributes[key] = case[key]
    spec: dict[str, Any] = {"user": case["user"], "resourceAttributes": attributes}
    if case["groups"]:
        spec["groups"] = list(case["groups"])
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def describe_case(case: dict[str, Any]) -> str:
    """`jane: list pods -n dev`, as one would type it after `kubectl auth can-i`."""
    resource = case["resource"] + (f"/{case['subresource']}" if case.get("subresource") else "")
    if case["group"]:
        resource = f"{resource}.{case['group']}"
    if case.get("name"):
        resource = f"{resource}/{case['name']}"
    where = f" -n {case['namespace']}" if case.get("namespace") else ""
    return f"{case['user']}: {case['verb']} {resource}{where}"


class AccessReview(SimpleKind):
    """Every case's allowed/denied answer must be as expected."""

    name = "access_review"
    schema = AccessReviewSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        problems, evidence = [], []
        for case in params["cases"]:
            answer = env.reader.create(review_body(case))
            status = answer.get("status") or {}
            allowed = bool(status.get("allowed"))
            evidence.append(
                {
                    "kind": "SubjectAccessReview",
                    "case": describe_case(case),
                    "expected": "allowed" if case["allowed"] else "denied",
                    "found": "allowed" if allowed else "denied",
                    "reason": status.get("reason", ""),
                }
            )
            if allowed != case["allowed"]:
                problems.append(
                    f"{describe_case(case)}: expected {'allowed' if case['allowed'] else 'denied'}"
                    f", found {'allowed' if allowed else 'denied'}"
                )
        if problems:
            more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
            return Outcome(False, "; ".join(problems[:4]) + more, evidence)
        return Outcome(True, f"all {len(params['cases'])} access cases as expected", evidence)
