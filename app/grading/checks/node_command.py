"""`node_command`: a command run on a node exits with the expected code and prints the
expected text (`systemctl is-active kubelet`, `crictl ps`)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import CheckEnv, KindSchema, Outcome, SimpleKind
from app.grading.matchers import show
from app.grading.node_access import NodeAccessError


class NodeCommandSchema(KindSchema):
    node = fields.String(required=True)
    command = fields.String(required=True, validate=validate.Length(min=1))
    exit_code = fields.Integer(load_default=0, strict=True)
    stdout_contains = fields.String()
    stdout_not_contains = fields.String()
    stdout_regex = fields.String()


class NodeCommand(SimpleKind):
    name = "node_command"
    schema = NodeCommandSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        node, command = params["node"], params["command"]
        try:
            code, stdout, stderr = env.nodes.exec(node, command)
        except NodeAccessError as exc:
            return Outcome(False, f"{node}: cannot run {command!r} ({exc})")
        evidence = {
            "node": node,
            "command": command,
            "exit_code": code,
            "stdout": stdout[-500:],
            "stderr": stderr[-300:],
        }
        problems = []
        if code != params["exit_code"]:
            problems.append(f"expected exit code {params['exit_code']}, found {code}")
        if "stdout_contains" in params and params["stdout_contains"] not in stdout:
            problems.append(f"expected output containing {show(params['stdout_contains'])}")
        if "stdout_not_contains" in params and params["stdout_not_contains"] in stdout:
            problems.append(f"expected output without {show(params['stdout_not_contains'])}")
        if "stdout_regex" in params and not re.search(params["stdout_regex"], stdout, re.M):
            problems.append(f"expected output matching {show(params['stdout_regex'])}")
        if problems:
            first = stdout.strip().splitlines()[:1] or stderr.strip().splitlines()[:1]
            found = f" (output: {show(first[0])})" if first else ""
            return Outcome(False, f"{node}$ {command}: " + "; ".join(problems) + found, [evidence])
        return Outcome(True, f"{node}$ {command}: as expected", [evidence])
