"""SchedulingGates: a pod with `spec.schedulingGates` waits outside the active queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.framework import Status, unresolvable

NAME = "SchedulingGates"


class SchedulingGates:
    name = NAME

    def pre_enqueue(self, pod: Mapping[str, Any]) -> Status | None:
        gates = [g.get("name", "") for g in (pod.get("spec") or {}).get("schedulingGates") or ()]
        if not gates:
            return None
        # schedulinggates/scheduling_gates.go formats the gate names as a Go slice.
        return unresolvable(NAME, f"waiting for scheduling gates: [{' '.join(gates)}]")

    def events_to_register(self) -> frozenset[str]:
        return frozenset()


def new(args: Mapping[str, Any]) -> SchedulingGates:
    return SchedulingGates()
