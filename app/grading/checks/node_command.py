"""`node_command`: a command run on a node exits with the expected code and prints the
expected text (`systemctl is-active kubelet`, `crictl ps`)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from app.grading.checks.base import CheckEnv, Outcome, SimpleKind
from app.grading.checks.output import CommandOutputSchema, first_line, output_problems
from app.grading.node_access import NodeAccessError


class NodeCommandSchema(CommandOutputSchema):
    node = fields.String(required=True)
    command = fields.String(required=True, validate=validate.Length(min=1))


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
        problems = output_problems(params, code, stdout)
        if problems:
            found = first_line(stdout, stderr)
            return Outcome(False, f"{node}$ {command}: " + "; ".join(problems) + found, [evidence])
        return Outcome(True, f"{node}$ {command}: as expected", [evidence])
