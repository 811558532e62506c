"""What the command kinds (`node_command`, `pod_command`) expect of a finished command:
an exit code and tests on its standard output."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validates

from app.grading.checks.base import KindSchema
from app.grading.matchers import show


class CommandOutputSchema(KindSchema):
    """`exit_code` (default 0), `stdout_contains`, `stdout_not_contains`, `stdout_regex`
    (a multiline search)."""

    exit_code = fields.Integer(load_default=0, strict=True)
    stdout_contains = fields.String()
    stdout_not_contains = fields.String()
    stdout_regex = fields.String()

    @validates("stdout_regex")
    def compiles(self, value: str, **kwargs: Any) -> None:
        try:
            re.compile(value, re.M)
        except re.error as exc:
            raise ValidationError(f"invalid regular expression: {exc}") from exc


def output_problems(params: dict[str, Any], code: int, stdout: str) -> list[str]:
    """What differs from the expectations, one phrase each (empty: as expected)."""
    problems = []
    if code != params["exit_code"]:
        problems.append(f"expected exit code {params['exit_code']}, found {code}")
    if "stdout_contains" in params and params["stdout_contains"] not in stdout:
        problems.append(f"expected output containing {show(params['stdout_contains'])}")
    if "stdout_not_contains" in params and params["stdout_not_contains"] in stdout:
        problems.append(f"expected output without {show(params['stdout_not_contains'])}")
    if "stdout_regex" in params and not re.search(params["stdout_regex"], stdout, re.M):
        problems.append(f"expected output matching {show(params['stdout_regex'])}")
    return problems


def first_line(stdout: str, stderr: str) -> str:
    """` (output: "...")` with the first line of the output (else of the errors), or
    nothing, for a failure's detail."""
    first = stdout.strip().splitlines()[:1] or stderr.strip().splitlines()[:1]
    return f" (output: {show(first[0])})" if first else ""
