"""The grading engine: run a lab's checks in order against one cluster and total them.

`grade(lab_checks, reader, node_access, context)` is deterministic: the checks run in
the order the lab wrote them, every list is sorted before it is judged, and nothing is
random except the probe pod's name, which comes from the grade id. A check that cannot
be evaluated (an API error, a bad expression) fails with `error=True` instead of stopping
the grade, so a grade always has one result per check. An unreachable or unavailable API
server is different: `ClusterUnreachableError` propagates, because a grade computed from
a partial read would be wrong; the grading job retries. Unless the cluster's nodes answer
node access while its API server refuses connections: then the API server is down (a
learner's broken kube-apiserver manifest), every check that reads the API fails saying
so, and node checks run as usual (`app.grading.liveness`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from app.grading.checks import REGISTRY, CheckEnv, CheckRegistry, Outcome
from app.grading.context import GradeContext
from app.grading.liveness import api_server_down
from app.grading.matchers import ExpressionError
from app.grading.node_access import NodeAccess
from app.grading.reader import (
    ApiConnectionError,
    ApiServerDownError,
    ClusterReader,
    ClusterReadError,
    ClusterUnreachableError,
)
from app.grading.timeparse import format_time


@dataclass
class CheckSpec:
    """One check of a lab: the common fields and the kind's own fields (`params`)."""

    id: str
    kind: str
    points: float
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    hint: str | None = None
    hint_penalty: float = 0
    # A guard detects a shortcut (a cheat): when it fails, the grade is capped.
    guard: bool = False


@dataclass
class GradePolicy:
    """Lab-wide rules: the cap applied when a guard check fails."""

    cheat_cap_percent: float | None = None


def run_check(
    check: CheckSpec, env: CheckEnv, registry: CheckRegistry = REGISTRY
) -> tuple[Outcome, bool]:
    """Run one check; (outcome, error). Never raises for a check's own failure; raises
    `ClusterUnreachableError` when the API server cannot be reached."""
    try:
        kind = registry.get(check.kind)
        params = kind.schema().load(check.params)
    except KeyError as exc:
        return Outcome(False, f"cannot evaluate: {exc.args[0]}"), True
    except ValidationError as exc:
        return Outcome(False, f"cannot evaluate: invalid check fields {exc.messages}"), True
    try:
        return kind.run(params, env), False
    except ApiServerDownError as exc:
        # A state of the cluster, not a check that cannot be evaluated.
        return Outcome(False, str(exc)), False
    except ClusterUnreachableError:
        raise
    except (ClusterReadError, ExpressionError) as exc:
        return Outcome(False, f"cannot evaluate: {exc}"), True


def grade(
    lab_checks: list[CheckSpec],
    reader: ClusterReader,
    node_access: NodeAccess,
    context: GradeContext,
    policy: GradePolicy | None = None,
    registry: CheckRegistry = REGISTRY,
) -> Any:
    """Grade a cluster against `lab_checks` and return a `GradeResult`.

    Raises `ClusterUnreachableError` (an OSError) when the API server cannot be reached
    or is unavailable: retry the grade later rather than store a partial one.

    Points: a passed check earns its points, minus its `hint_penalty` when its hint was
    shown in an earlier grade (`context.hints_revealed`), never below zero. A failed
    check's hint is included when `context.hints_allowed`; the ids of checks whose hints
    this grade shows are listed in `hints_revealed` for the caller to remember.
    When a guard check fails and the policy sets `cheat_cap_percent`, the percentage is
    capped at it.
    """
    from app.grading.result import CheckResult, GradeResult

    policy = policy or GradePolicy()
    results: list[CheckResult] = []
    revealed = set(context.hints_revealed)
    for check in lab_checks:
        env = CheckEnv(reader, node_access, context, check.id)
        try:
            outcome, error = run_check(check, env, registry)
        except ApiConnectionError as exc:
            if not api_server_down(reader, node_access, exc):
                raise
            # Run it again: what it reads of the API now fails as a check failure.
            outcome, error = run_check(check, env, registry)
        penalty = check.hint_penalty if check.id in context.hints_revealed else 0
        earned = max(check.points - penalty, 0) if outcome.passed else 0
        show_hint = not outcome.passed and context.hints_allowed and bool(check.hint)
        if show_hint:
            revealed.add(check.id)
        results.append(
            CheckResult(
                id=check.id,
                kind=check.kind,
                passed=outcome.passed,
                points=check.points,
                earned=earned,
                message=check.message,
                detail=outcome.detail,
                hint=check.hint if show_hint else None,
                hint_penalty=penalty if outcome.passed else 0,
                guard=check.guard,
                error=error,
                evidence=outcome.evidence,
            )
        )
    earned = sum(r.earned for r in results)
    possible = sum(r.points for r in results)
    raw = round(100 * earned / possible, 2) if possible else 0.0
    cap = policy.cheat_cap_percent
    capped = cap is not None and any(r.guard and not r.passed for r in results) and raw > cap
    return GradeResult(
        grade_id=context.grade_id,
        checks=results,
        earned=earned,
        possible=possible,
        raw_percentage=raw,
        percentage=float(cap) if capped and cap is not None else raw,
        capped=capped,
        cap_percent=cap,
        hints_revealed=sorted(revealed),
        graded_at=format_time(context.now()),
    )
