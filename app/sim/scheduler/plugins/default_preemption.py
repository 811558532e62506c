"""DefaultPreemption: the PostFilter plugin that evicts lower-priority pods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.sim.scheduler.framework import CycleState, PostFilterResult, Status
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.preemption import Evaluator
from app.sim.scheduler.snapshot import Snapshot

if TYPE_CHECKING:
    from app.sim.scheduler.framework import Framework

NAME = "DefaultPreemption"


class DefaultPreemption:
    name = NAME

    def __init__(self) -> None:
        self._evaluator: Evaluator | None = None

    def set_framework(self, framework: Framework) -> None:
        """Called by the Framework once built: preemption re-runs its filters."""
        self._evaluator = Evaluator(framework)

    def post_filter(
        self,
        state: CycleState,
        pod: PodInfo,
        snapshot: Snapshot,
        statuses: Mapping[str, Status],
    ) -> PostFilterResult:
        if self._evaluator is None:
            raise RuntimeError("DefaultPreemption used outside a Framework")
        return self._evaluator.preempt(state, pod, snapshot, statuses)

    def events_to_register(self) -> frozenset[str]:
        return frozenset()


def new(args: Mapping[str, Any]) -> DefaultPreemption:
    return DefaultPreemption()
