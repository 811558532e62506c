"""Fixtures for grading against a live simulated cluster.

- `reader`: a `ClusterReader` over the official client for `sim_cluster`.
- `make_context(**overrides)`: a `GradeContext` whose session started a minute ago
  (cluster clock) and whose grade is requested now.
- `run_checks(checks, **context)`: grade a list of `CheckSpec` (or check dicts as in
  lab.yaml) and return the `GradeResult`.
- `scheduler_loop`: `start(reporting_controller=...)` runs the simulator's scheduler
  library against the cluster in a thread, binding through the API and reporting
  `Scheduled` events, until the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from app.grading.context import GradeContext
from app.grading.engine import CheckSpec, GradePolicy, grade
from app.grading.node_access import NodeAccess, NoNodeAccess
from app.grading.reader import ClusterReader
from app.grading.result import GradeResult
from tests.fixtures.grading import SchedulerLoop


@pytest.fixture
def reader(k8s_client: Any) -> ClusterReader:
    return ClusterReader(k8s_client)


@pytest.fixture
def make_context(sim_cluster: Any) -> Callable[..., GradeContext]:
    def make(**overrides: Any) -> GradeContext:
        now = sim_cluster.cluster.clock.now()
        values: dict[str, Any] = {
            "grade_id": "grade-1",
            "session_started_at": now - timedelta(minutes=1),
            "grade_requested_at": now,
            "clock": sim_cluster.cluster.clock,
        }
        values.update(overrides)
        return GradeContext(**values)

    return make


def as_spec(check: CheckSpec | dict[str, Any]) -> CheckSpec:
    """A CheckSpec from a dict written like a check in lab.yaml."""
    if isinstance(check, CheckSpec):
        return check
    common = {"id", "kind", "points", "message", "hint", "hint_penalty", "guard"}
    params = {k: v for k, v in check.items() if k not in common}
    return CheckSpec(
        id=check.get("id", check["kind"]),
        kind=check["kind"],
        points=check.get("points", 1),
        message=check.get("message", check["kind"]),
        params=params,
        hint=check.get("hint"),
        hint_penalty=check.get("hint_penalty", 0),
        guard=check.get("guard", False),
    )


@pytest.fixture
def run_checks(
    reader: ClusterReader, make_context: Callable[..., GradeContext]
) -> Callable[..., GradeResult]:
    def run(
        checks: list[CheckSpec | dict[str, Any]],
        *,
        nodes: NodeAccess | None = None,
        cap: float | None = None,
        **context: Any,
    ) -> GradeResult:
        return grade(
            [as_spec(c) for c in checks],
            reader,
            nodes or NoNodeAccess(),
            make_context(**context),
            GradePolicy(cheat_cap_percent=cap),
        )

    return run


@pytest.fixture
def scheduler_loop(
    sim_cluster: Any, reader: ClusterReader
) -> Iterator[Callable[..., SchedulerLoop]]:
    loops: list[SchedulerLoop] = []

    def start(**kwargs: Any) -> SchedulerLoop:
        loop = SchedulerLoop(sim_cluster, reader, **kwargs)
        loop.start()
        loops.append(loop)
        return loop

    yield start
    for loop in loops:
        loop.stop()
    assert [e for loop in loops for e in loop.errors] == []
