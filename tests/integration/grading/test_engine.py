"""The engine's totals, hints and penalties, guard cap and error handling on a live
simulated cluster."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from app.grading.engine import CheckSpec, grade
from app.grading.node_access import NoNodeAccess
from app.grading.reader import ClusterReader, ClusterUnreachableError


def _checks() -> list[CheckSpec]:
    """Two passing checks (3 + 2 points) and one failing (5 points) with a hint."""
    namespace = {"apiVersion": "v1", "resource": "Namespace"}
    return [
        CheckSpec(
            "default-ns",
            "exists",
            3,
            "default exists",
            {**namespace, "name": "default"},
            hint="kubectl get ns",
            hint_penalty=1,
        ),
        CheckSpec(
            "system-ns", "exists", 2, "kube-system exists", {**namespace, "name": "kube-system"}
        ),
        CheckSpec(
            "dev-ns",
            "exists",
            5,
            "dev exists",
            {**namespace, "name": "dev"},
            hint="kubectl create namespace dev",
            hint_penalty=2,
        ),
    ]


def test_totals_and_order(run_checks) -> None:
    result = run_checks(_checks())
    assert [c.id for c in result.checks] == ["default-ns", "system-ns", "dev-ns"]
    assert (result.earned, result.possible, result.percentage) == (5, 10, 50.0)
    assert result.passed_checks == 2
    data = result.to_dict()
    assert data["checks"][2]["detail"] == "expected Namespace dev to exist, found none"
    assert data["passed_checks"] == 2


def test_hints_follow_the_policy(run_checks) -> None:
    never = run_checks(_checks(), hint_policy="never", previous_grades=3)
    assert [c.hint for c in never.checks] == [None, None, None]
    assert never.hints_revealed == []
    first = run_checks(_checks(), hint_policy="after_first_grade", previous_grades=0)
    assert first.check("dev-ns").hint is None
    second = run_checks(_checks(), hint_policy="after_first_grade", previous_grades=1)
    # Only failed checks show their hint.
    assert [c.hint for c in second.checks] == [None, None, "kubectl create namespace dev"]
    assert second.hints_revealed == ["dev-ns"]


def test_a_revealed_hint_costs_its_penalty_once_the_check_passes(
    run_checks, reader: ClusterReader
) -> None:
    reader.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    result = run_checks(
        _checks(), hint_policy="always", hints_revealed=frozenset({"dev-ns", "system-ns"})
    )
    dev = result.check("dev-ns")
    assert dev.passed and dev.earned == 3 and dev.hint_penalty == 2
    # system-ns has no penalty configured; default-ns's hint was never shown.
    assert result.check("system-ns").earned == 2
    assert result.check("default-ns").earned == 3
    assert result.earned == 8 and result.percentage == 80.0
    assert result.hints_revealed == ["dev-ns", "system-ns"]


def test_guard_failure_caps_the_percentage(run_checks) -> None:
    checks = _checks()
    checks[2].guard = True
    capped = run_checks(checks, cap=20)
    assert capped.raw_percentage == 50.0
    assert capped.capped and capped.percentage == 20.0
    below = run_checks(checks, cap=60)
    assert not below.capped and below.percentage == 50.0
    no_cap = run_checks(checks)
    assert not no_cap.capped and no_cap.percentage == 50.0


def test_a_check_that_cannot_run_fails_alone(run_checks) -> None:
    broken: list[Any] = [
        CheckSpec("unknown-kind", "telepathy", 1, "?", {}),
        CheckSpec("bad-fields", "count", 1, "?", {"apiVersion": "v1"}),
        CheckSpec("bad-kind", "exists", 1, "?", {"apiVersion": "v9", "resource": "Pod"}),
        *_checks(),
    ]
    result = run_checks(broken)
    assert [c.error for c in result.checks] == [True, True, True, False, False, False]
    assert result.checks[0].detail.startswith("cannot evaluate: unknown check kind 'telepathy'")
    assert "resource" in result.checks[1].detail and "value" in result.checks[1].detail
    assert result.checks[2].detail == (
        "cannot evaluate: the server does not serve kind 'Pod' in v9"
    )
    assert result.earned == 5 and result.possible == 13


def test_an_unreachable_api_server_stops_the_grade(make_context) -> None:
    configuration = Configuration(host="https://127.0.0.1:1")
    configuration.retries = 0
    with ApiClient(configuration) as client, pytest.raises(ClusterUnreachableError) as err:
        grade(_checks(), ClusterReader(client), NoNodeAccess(), make_context())
    # Job retry policies for I/O errors cover it.
    assert isinstance(err.value, OSError)
    assert err.value.args[0].startswith("GET /api/v1: ")
