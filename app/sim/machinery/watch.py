"""Watch events, the bounded event history and the fan-out to subscribers.

Every write to a cluster's store becomes one `WatchEvent` carrying the encoded object
(the same bytes the store keeps, so history costs little extra memory). The history
keeps the most recent events so a client can resume from a resourceVersion; a client
further behind than the history gets 410 Gone ("too old resource version"), as from
the upstream watch cache.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.sim.machinery.codec import decode
from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import FieldSelector, LabelSelector

# Events kept per cluster for resuming watches. The upstream watch cache keeps a
# capacity-bounded window per resource (100 to 100k, sized by load); one shared window
# of this size covers a lab's traffic while keeping idle clusters small.
HISTORY_LIMIT = 1000
# ...and at most this much object data, whichever comes first.
HISTORY_BYTES = 16 * 1024 * 1024
# ...and, beyond the most recent HISTORY_FLOOR events, none older than this (wall
# seconds): the upstream cache sizes its window to hold about eventFreshDuration
# (75 s) of events. Without it an idle cluster's Lease renewals (one every 2-10 s)
# would grow every cluster's history up to the limit over a quarter of an hour; with
# it an idle cluster holds about HISTORY_FLOOR events and its memory stays flat.
HISTORY_SECONDS = 75.0
HISTORY_FLOOR = 100

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change: `data` is the object after the change (before it, for DELETED)."""

    type: str
    group: str
    plural: str
    namespace: str
    name: str
    resource_version: int
    data: bytes
    # The object before an update, so selector watches can turn "stopped matching"
    # into DELETED and "started matching" into ADDED.
    old: bytes | None = None

    def object(self) -> dict[str, Any]:
        """A fresh decoded copy of the object."""
        return decode(self.data)


def too_old(resource_version: int) -> ApiError:
    return ApiError(410, f"too old resource version: {resource_version}", reason="Expired")


class EventHistory:
    """The most recent `limit` events, in resourceVersion order, holding at most
    `max_bytes` of object data (an event's object and, for updates, its previous
    state): a few large objects rewritten in a loop cannot pin gigabytes. Beyond the
    latest `floor` events, none older than `max_age` seconds of `clock`."""

    def __init__(
        self,
        limit: int = HISTORY_LIMIT,
        max_bytes: int = HISTORY_BYTES,
        *,
        max_age: float = HISTORY_SECONDS,
        floor: int = HISTORY_FLOOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events: deque[WatchEvent] = deque()
        # When each event was appended (monotonic seconds), for the age bound.
        self._times: deque[float] = deque()
        self._max_age = max_age
        self._floor = floor
        self._clock = clock
        self._limit = limit
        self._max_bytes = max_bytes
        self._bytes = 0
        # Highest resourceVersion that fell out of the window (0: nothing lost yet).
        self._lost_upto = 0

    @staticmethod
    def _size(event: WatchEvent) -> int:
        return len(event.data) + (len(event.old) if event.old is not None else 0)

    def append(self, event: WatchEvent) -> None:
        now = self._clock()
        self._events.append(event)
        self._times.append(now)
        self._bytes += self._size(event)
        stale = now - self._max_age
        while len(self._events) > self._limit or (
            len(self._events) > 1
            and (
                self._bytes > self._max_bytes
                or (len(self._events) > self._floor and self._times[0] < stale)
            )
        ):
            dropped = self._events.popleft()
            self._times.popleft()
            self._bytes -= self._size(dropped)
            self._lost_upto = dropped.resource_version

    @property
    def bytes(self) -> int:
        return self._bytes

    def since(self, resource_version: int) -> list[WatchEvent]:
        """Events newer than `resource_version`; ApiError(410) if some were dropped."""
        if resource_version < self._lost_upto:
            raise too_old(resource_version)
        return [e for e in self._events if e.resource_version > resource_version]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[WatchEvent]:
        return iter(list(self._events))

    def clear(self, lost_upto: int) -> None:
        """Forget everything (after a restore): older resourceVersions become 410."""
        self._events.clear()
        self._times.clear()
        self._bytes = 0
        self._lost_upto = lost_upto


@dataclass(eq=False)
class Subscription:
    """A watcher's filter and its delivery callback.

    `deliver(event_type, obj_bytes, resource_version)` runs synchronously in the writer's
    thread while the store lock is held: it must be quick and must not call the store.
    """

    group: str
    plural: str
    namespace: str | None
    label_selector: LabelSelector
    field_selector: FieldSelector
    deliver: Callable[[WatchEvent], None]
    closed: bool = field(default=False)

    def _matches_bytes(self, data: bytes | None, cache: dict[int, Any]) -> bool:
        if data is None:
            return False
        if self.label_selector.empty() and self.field_selector.empty():
            return True
        key = id(data)
        obj = cache.get(key)
        if obj is None:
            obj = cache[key] = decode(data)
        labels = (obj.get("metadata") or {}).get("labels")
        return self.label_selector.matches(labels) and self.field_selector.matches(obj)

    def translate(self, event: WatchEvent, cache: dict[int, Any]) -> WatchEvent | None:
        """The event as this subscriber sees it, or None when it does not concern it."""
        if event.group != self.group or event.plural != self.plural:
            return None
        if self.namespace and event.namespace != self.namespace:
            return None
        now = self._matches_bytes(event.data, cache)
        if event.type != MODIFIED:
            return event if now else None
        before = self._matches_bytes(event.old, cache) if event.old is not None else now
        if now and before:
            return event
        if now:
            return WatchEvent(
                ADDED,
                event.group,
                event.plural,
                event.namespace,
                event.name,
                event.resource_version,
                event.data,
            )
        if before:
            # Upstream sends the new state of the object in the synthetic DELETED.
            return WatchEvent(
                DELETED,
                event.group,
                event.plural,
                event.namespace,
                event.name,
                event.resource_version,
                event.data,
            )
        return None


class WatchHub:
    """Fan-out of a cluster's events to its subscriptions."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(self, sub: Subscription) -> Subscription:
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, event: WatchEvent) -> None:
        with self._lock:
            subs = list(self._subs)
        cache: dict[int, Any] = {}
        for sub in subs:
            if sub.closed:
                continue
            seen = sub.translate(event, cache)
            if seen is not None:
                sub.deliver(seen)

    def close_all(self) -> None:
        with self._lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.closed = True
            sub.deliver(WatchEvent(ERROR, sub.group, sub.plural, "", "", 0, b"null"))

    def __len__(self) -> int:
        return len(self._subs)
