"""`node_file`: a file on a node exists (or not), contains text, matches a pattern, or,
parsed as YAML, satisfies JMESPath assertions (a static pod manifest's flags, the
kubelet's config.yaml)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from marshmallow import ValidationError, fields, validate, validates_schema

from app.grading.checks.base import AssertionSchema, CheckEnv, KindSchema, Outcome, SimpleKind
from app.grading.matchers import evaluate_assertions, show
from app.grading.node_access import NodeAccessError

FILE_TESTS = ("exists", "contains", "not_contains", "regex", "equals", "yaml")


class NodeFileSchema(KindSchema):
    node = fields.String(required=True)
    path = fields.String(required=True, validate=validate.Regexp(r"^/", error="must be absolute"))
    exists = fields.Boolean()
    contains = fields.String()
    not_contains = fields.String()
    regex = fields.String()
    equals = fields.String()
    yaml = fields.List(fields.Nested(AssertionSchema), validate=validate.Length(min=1))

    @validates_schema
    def some_test(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(k in data for k in FILE_TESTS):
            raise ValidationError(f"needs at least one of {', '.join(FILE_TESTS)}")
        if data.get("exists") is False and len([k for k in FILE_TESTS if k in data]) > 1:
            raise ValidationError("exists: false cannot be combined with content tests")
        if "regex" in data:
            try:
                re.compile(data["regex"])
            except re.error as exc:
                raise ValidationError(f"invalid regular expression: {exc}", "regex") from exc


class NodeFile(SimpleKind):
    name = "node_file"
    schema = NodeFileSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        node, path = params["node"], params["path"]
        where = f"{node}:{path}"
        evidence: dict[str, Any] = {"node": node, "path": path}
        try:
            text = env.nodes.read_file(node, path)
        except NodeAccessError as exc:
            evidence["readable"] = False
            if params.get("exists") is False:
                return Outcome(True, f"{where} does not exist", [evidence])
            return Outcome(False, f"{where}: cannot read file ({exc})", [evidence])
        evidence["readable"] = True
        evidence["size"] = len(text)
        if params.get("exists") is False:
            return Outcome(False, f"expected {where} not to exist, found it", [evidence])
        problems = []
        if "contains" in params and params["contains"] not in text:
            problems.append(f"expected to contain {show(params['contains'])}")
        if "not_contains" in params and params["not_contains"] in text:
            problems.append(f"expected not to contain {show(params['not_contains'])}")
        if "regex" in params and re.search(params["regex"], text, re.MULTILINE) is None:
            problems.append(f"expected a line matching {show(params['regex'])}")
        if "equals" in params and text.rstrip("\n") != params["equals"].rstrip("\n"):
            problems.append("expected the exact content given, found other content")
        if "yaml" in params:
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                problems.append(f"not valid YAML ({str(exc).splitlines()[0]})")
            else:
                failures, evidence["fields"] = evaluate_assertions(params["yaml"], data)
                problems.extend(failures)
        if problems:
            return Outcome(False, f"{where}: " + "; ".join(problems), [evidence])
        return Outcome(True, f"{where}: as expected", [evidence])
