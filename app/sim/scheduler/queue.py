"""The scheduling queue: activeQ, backoffQ and the unschedulable pods.

As upstream (`pkg/scheduler/backend/queue/scheduling_queue.go`):
- activeQ holds pods ready to be tried, highest priority first, then oldest;
- a pod that failed goes to the unschedulable set and waits for a cluster event that
  one of the plugins that rejected it registered for (a node added, a pod deleted...);
  such an event moves it to backoffQ if its back-off has not expired yet, else to
  activeQ;
- back-off is 1 s after the first failed attempt, doubling up to 10 s;
- a pod left unschedulable for 5 minutes is retried anyway;
- a pod that failed with an error (not a rejection) goes straight to backoffQ;
- a pod with scheduling gates is parked until its gates are removed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# kube-scheduler defaults: --pod-initial-backoff-seconds=1, --pod-max-backoff-seconds=10
DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
# scheduling_queue.go DefaultPodMaxInUnschedulablePodsDuration
DEFAULT_MAX_UNSCHEDULABLE_DURATION = 300.0

ACTIVE = "active"
BACKOFF = "backoff"
UNSCHEDULABLE = "unschedulable"
GATED = "gated"


@dataclass(slots=True)
class QueuedPod:
    """A pending pod and its scheduling history."""

    key: str
    pod: Mapping[str, Any]
    priority: int
    # When the pod last entered the queue or last failed (back-off counts from here).
    timestamp: float
    initial_attempt: float | None = None
    attempts: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()
    where: str = ACTIVE
    gate_message: str = ""
    sequence: int = 0


def _seconds(now: Callable[[], Any]) -> Callable[[], float]:
    def read() -> float:
        value = now()
        if isinstance(value, datetime):
            return value.timestamp()
        return float(value)

    return read


class SchedulingQueue:
    """Priority queue of pending pods with back-off; `clock` returns a datetime or seconds."""

    def __init__(
        self,
        clock: Callable[[], Any],
        *,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_unschedulable_duration: float = DEFAULT_MAX_UNSCHEDULABLE_DURATION,
        plugin_events: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self._now = _seconds(clock)
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable_duration = max_unschedulable_duration
        # plugin name -> cluster events that may make a pod it rejected schedulable
        self.plugin_events: Mapping[str, frozenset[str]] = plugin_events or {}
        self.pods: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._counter = itertools.count()

    # ---- adding and removing ----------------------------------------------------------

    def add(
        self, key: str, pod: Mapping[str, Any], priority: int, gate_message: str = ""
    ) -> QueuedPod:
        """A new pending pod: into activeQ, or parked when `gate_message` says it is gated."""
        now = self._now()
        existing = self.pods.get(key)
        if existing is not None:
            existing.pod = pod
            existing.priority = priority
            return existing
        qp = QueuedPod(key, pod, priority, now, gate_message=gate_message)
        self.pods[key] = qp
        if gate_message:
            qp.where = GATED
        else:
            self._push_active(qp)
        return qp

    def update(
        self, key: str, pod: Mapping[str, Any], priority: int, gate_message: str = ""
    ) -> None:
        """The pending pod's spec changed: a gated pod whose gates are gone, or an
        unschedulable pod, is retried (through back-off if still backing off)."""
        qp = self.pods.get(key)
        if qp is None:
            self.add(key, pod, priority, gate_message)
            return
        qp.pod = pod
        qp.priority = priority
        qp.gate_message = gate_message
        if gate_message:
            qp.where = GATED
            return
        if qp.where in (GATED, UNSCHEDULABLE):
            if qp.where == GATED:
                qp.timestamp = self._now()
            self._requeue(qp)

    def delete(self, key: str) -> None:
        """The pod was deleted or bound elsewhere."""
        self.pods.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self.pods

    def __len__(self) -> int:
        return len(self.pods)

    # ---- popping ---------------------------------------------------------------------

    def _push_active(self, qp: QueuedPod) -> None:
        qp.where = ACTIVE
        qp.sequence = next(self._counter)
        # PrioritySort: higher priority first, then earlier timestamp.
        heapq.heappush(self._active, (-qp.priority, qp.timestamp, qp.sequence, qp.key))

    def pop(self) -> QueuedPod | None:
        """The next pod to schedule from activeQ (None when empty); counts an attempt."""
        while self._active:
            _, _, sequence, key = heapq.heappop(self._active)
            qp = self.pods.get(key)
            if qp is None or qp.where != ACTIVE or qp.sequence != sequence:
                continue  # stale heap entry
            qp.where = "in-flight"
            qp.attempts += 1
            if qp.initial_attempt is None:
                qp.initial_attempt = self._now()
            return qp
        return None

    # ---- after an attempt --------------------------------------------------------------

    def backoff_duration(self, qp: QueuedPod) -> float:
        """1 s, 2 s, 4 s, ... capped at max_backoff, by number of attempts (0 before any)."""
        if qp.attempts == 0:
            return 0.0
        duration = self.initial_backoff
        for _ in range(1, qp.attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return min(duration, self.max_backoff)

    def backoff_expiry(self, qp: QueuedPod) -> float:
        return qp.timestamp + self.backoff_duration(qp)

    def is_backing_off(self, qp: QueuedPod) -> bool:
        return self.backoff_expiry(qp) > self._now()

    def add_unschedulable(self, qp: QueuedPod, plugins: Iterable[str]) -> None:
        """The attempt was rejected by `plugins`; wait for an event that may help."""
        if qp.key not in self.pods:
            return
        qp.timestamp = self._now()
        qp.unschedulable_plugins = frozenset(plugins)
        qp.where = UNSCHEDULABLE

    def add_backoff(self, qp: QueuedPod) -> None:
        """The attempt failed with an error (or its binding failed): retry after back-off."""
        if qp.key not in self.pods:
            return
        qp.timestamp = self._now()
        qp.where = BACKOFF

    def done(self, key: str) -> None:
        """The pod was scheduled (assumed on a node): it leaves the queue."""
        self.pods.pop(key, None)

    def _requeue(self, qp: QueuedPod) -> None:
        if self.is_backing_off(qp):
            qp.where = BACKOFF
        else:
            self._push_active(qp)

    # ---- time and events ------------------------------------------------------------

    def flush(self) -> None:
        """Move pods whose back-off expired to activeQ, and pods unschedulable for too
        long to activeQ or backoffQ (upstream runs these every 1 s and 30 s)."""
        now = self._now()
        for qp in list(self.pods.values()):
            if qp.where == BACKOFF and self.backoff_expiry(qp) <= now:
                self._push_active(qp)
            elif (
                qp.where == UNSCHEDULABLE and now - qp.timestamp >= self.max_unschedulable_duration
            ):
                self._requeue(qp)

    def move_on_event(self, event: str) -> int:
        """A cluster event happened: retry unschedulable pods it may help; returns how many."""
        moved = 0
        for qp in list(self.pods.values()):
            if qp.where != UNSCHEDULABLE:
                continue
            if qp.unschedulable_plugins and not any(
                event in self.plugin_events.get(name, frozenset())
                for name in qp.unschedulable_plugins
            ):
                continue
            self._requeue(qp)
            moved += 1
        return moved

    def next_wakeup(self) -> float | None:
        """Seconds until the earliest back-off expires (None if nothing is backing off)."""
        now = self._now()
        waits = [self.backoff_expiry(qp) - now for qp in self.pods.values() if qp.where == BACKOFF]
        return max(0.0, min(waits)) if waits else None

    def where(self, key: str) -> str | None:
        qp = self.pods.get(key)
        return qp.where if qp is not None else None
