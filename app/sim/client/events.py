"""Recording core/v1 Events the way client-go's event recorder does.

An event names the object it is about (`involvedObject`), a CamelCase `reason`, a
human `message`, `source.component` (`deployment-controller`, `default-scheduler`,
...), and `count` with `firstTimestamp`/`lastTimestamp`: the same reason and message
about the same object within the aggregation window bump `count` on one Event
instead of creating a new one (client-go's EventCorrelator). Events about
cluster-scoped objects (Nodes) live in the `default` namespace, as upstream.

Any simulator component may use it:

    recorder = EventRecorder(store, clock, "default-scheduler")
    recorder.normal(pod, "Scheduled", "Successfully assigned default/web to node01")
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from app.sim.machinery.clock import Clock, parse_time, rfc3339
from app.sim.machinery.errors import ApiError
from app.sim.machinery.store import ObjectStore

NORMAL = "Normal"
WARNING = "Warning"

# client-go EventCorrelator: identical events within 10 minutes are merged by count
# (defaultAggregateIntervalInSeconds = 600 in tools/record/events_cache.go).
AGGREGATE_WINDOW_SECONDS = 600
# events_cache.go maxLruCacheEntries: how many distinct events are remembered.
CACHE_ENTRIES = 4096

_KIND_API_VERSIONS = {
    "Pod": "v1",
    "Node": "v1",
    "Service": "v1",
    "Namespace": "v1",
    "PersistentVolume": "v1",
    "PersistentVolumeClaim": "v1",
    "Endpoints": "v1",
    "ServiceAccount": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Lease": "coordination.k8s.io/v1",
}


class EventRecorder:
    """Writes Events for one component; `for_component` shares its aggregation cache."""

    def __init__(
        self,
        store: ObjectStore,
        clock: Clock,
        component: str,
        host: str = "",
        *,
        _cache: dict[tuple, tuple[str, str]] | None = None,
        _lock: Any = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.component = component
        self.host = host
        # (object uid, kind, name, reason, message, component) -> (namespace, event name)
        self._cache: dict[tuple, tuple[str, str]] = {} if _cache is None else _cache
        self._lock = _lock or threading.Lock()

    def for_component(self, component: str, host: str = "") -> EventRecorder:
        return EventRecorder(
            self.store, self.clock, component, host, _cache=self._cache, _lock=self._lock
        )

    def normal(self, obj: dict[str, Any], reason: str, message: str) -> dict[str, Any] | None:
        return self.record(obj, NORMAL, reason, message)

    def warning(self, obj: dict[str, Any], reason: str, message: str) -> dict[str, Any] | None:
        return self.record(obj, WARNING, reason, message)

    def record(
        self,
        obj: dict[str, Any],
        event_type: str,
        reason: str,
        message: str,
        *,
        kind: str | None = None,
        field_path: str | None = None,
    ) -> dict[str, Any] | None:
        """Create or bump the Event; returns it, or None when the store refused it
        (an event is best effort upstream too: a failed write is dropped)."""
        meta = obj.get("metadata") or {}
        kind = kind or obj.get("kind") or ""
        involved: dict[str, Any] = {
            "kind": kind,
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion") or _KIND_API_VERSIONS.get(kind, "v1"),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        namespace = meta.get("namespace") or "default"
        ns = self.store.get("", "namespaces", None, namespace)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp"):
            # The API refuses new content in a missing or terminating namespace.
            return None
        now = self.clock.now()
        stamp = rfc3339(now)
        key = (involved["uid"], kind, involved["name"], reason, message, self.component)
        with self._lock:
            try:
                bumped = self._bump(key, now, stamp)
                if bumped is not None:
                    return bumped
                return self._create(key, namespace, involved, event_type, reason, message, now)
            except ApiError:
                return None

    def _bump(self, key: tuple, now: datetime, stamp: str) -> dict[str, Any] | None:
        where = self._cache.get(key)
        if where is None:
            return None
        event = self.store.get("", "events", where[0], where[1])
        if event is None:
            return None
        last = event.get("lastTimestamp") or event.get("firstTimestamp")
        if last and (now - parse_time(last)).total_seconds() > AGGREGATE_WINDOW_SECONDS:
            return None
        event["count"] = int(event.get("count") or 1) + 1
        event["lastTimestamp"] = stamp
        return self.store.update("", "events", event)

    def _create(
        self,
        key: tuple,
        namespace: str,
        involved: dict[str, Any],
        event_type: str,
        reason: str,
        message: str,
        now: datetime,
    ) -> dict[str, Any]:
        stamp = rfc3339(now)
        # client-go names events `<object>.<unix nanoseconds in hex>`.
        nanos = int(now.timestamp() * 1_000_000_000)
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        for attempt in range(64):
            event["metadata"]["name"] = f"{involved['name']}.{nanos + attempt:x}"
            try:
                created = self.store.create("", "events", event)
            except ApiError as exc:
                if exc.code == 409:
                    continue
                raise
            if len(self._cache) >= CACHE_ENTRIES:
                # Forget the oldest half (dicts keep insertion order), as an LRU would.
                for old in list(self._cache)[: CACHE_ENTRIES // 2]:
                    del self._cache[old]
            self._cache[key] = (namespace, created["metadata"]["name"])
            return created
        raise ApiError(409, "no free event name")

    def events_for(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """Events about `obj` (by uid), oldest first; handy for tests and checks."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        items = self.store.list("", "events", namespace)[0]
        mine = [e for e in items if (e.get("involvedObject") or {}).get("uid") == meta.get("uid")]
        return sorted(mine, key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
