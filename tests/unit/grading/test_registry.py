"""The registry of check kinds and the grading context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import fields

from app.grading.checks import REGISTRY, CheckEnv, CheckRegistry, Outcome
from app.grading.checks.base import KindSchema
from app.grading.context import GradeContext

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class _Demo:
    name = "demo"

    class schema(KindSchema):
        value = fields.Integer()

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        return Outcome(True, "ok")


def test_every_documented_kind_is_registered() -> None:
    assert REGISTRY.names() == [
        "absent",
        "access_review",
        "condition_stable",
        "count",
        "event_provenance",
        "exists",
        "jmespath",
        "match",
        "node_command",
        "node_file",
        "pod_command",
        "probe_pod",
    ]


def test_registry_rejects_a_duplicate_name() -> None:
    registry = CheckRegistry()
    registry.register(_Demo())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_Demo())


def test_registry_rejects_a_kind_that_redefines_common_fields() -> None:
    class Clash(_Demo):
        name = "clash"

        class schema(KindSchema):
            points = fields.Integer()

    with pytest.raises(ValueError, match="common fields"):
        CheckRegistry().register(Clash())


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: absent, access_review"):
        REGISTRY.get("nope")


def _context(**kwargs: Any) -> GradeContext:
    return GradeContext("grade-1", T0, T0, **kwargs)


def test_probe_pod_name_is_stable_per_grade_and_check_and_a_dns_label() -> None:
    name = _context().probe_pod_name("scheduler-works")
    assert name == _context().probe_pod_name("scheduler-works")
    assert name != _context().probe_pod_name("other-check")
    assert name != GradeContext("grade-2", T0, T0).probe_pod_name("scheduler-works")
    assert name.startswith("certprep-probe-") and len(name) <= 63
    assert name.replace("-", "").isalnum() and name.islower()


@pytest.mark.parametrize(
    ("policy", "previous", "allowed"),
    [
        ("never", 5, False),
        ("always", 0, True),
        ("after_first_grade", 0, False),
        ("after_first_grade", 1, True),
    ],
)
def test_hint_policy(policy: str, previous: int, allowed: bool) -> None:
    assert _context(hint_policy=policy, previous_grades=previous).hints_allowed is allowed


def test_context_refuses_naive_times_and_unknown_policies() -> None:
    with pytest.raises(ValueError, match="timezone"):
        GradeContext("g", datetime(2026, 1, 1), T0)
    with pytest.raises(ValueError, match="hint_policy"):
        _context(hint_policy="sometimes")
