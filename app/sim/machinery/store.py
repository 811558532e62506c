"""The versioned object store of one simulated cluster (the simulator's etcd).

Objects are kept as compact JSON bytes keyed by (group, plural) then (namespace, name):
callers always get fresh decoded copies, so nothing outside can mutate stored state,
and the bytes are shared with the watch history. One cluster-wide counter gives every
write its resourceVersion, as etcd's revision does upstream.

The store owns the metadata the API server maintains: uid, creationTimestamp,
resourceVersion, generation, deletionTimestamp with finalizers, and a synchronous
garbage collector for ownerReferences (Background, Foreground, Orphan propagation).
It does not validate objects: the request pipeline does that before writing.
"""

from __future__ import annotations

import bisect
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.sim.machinery.clock import Clock, WallClock, rfc3339
from app.sim.machinery.codec import decode, encode
from app.sim.machinery.errors import (
    ApiError,
    FieldCause,
    already_exists,
    conflict,
    invalid,
    not_found,
)
from app.sim.machinery.limits import StorageLimits, storage_error
from app.sim.machinery.selectors import (
    FieldRequirement,
    FieldSelector,
    LabelSelector,
    field_value,
    parse_field_selector,
    parse_label_selector,
)
from app.sim.machinery.watch import (
    ADDED,
    DELETED,
    HISTORY_LIMIT,
    MODIFIED,
    EventHistory,
    Subscription,
    WatchEvent,
    WatchHub,
)

# Kinds whose strategy never sets metadata.generation upstream even though they have a
# spec (pkg/registry/core/*/strategy.go only bumps it for workload-like kinds).
_NO_GENERATION = frozenset(
    {
        ("", "namespaces"),
        ("", "nodes"),
        ("", "services"),
        ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("", "endpoints"),
        ("coordination.k8s.io", "leases"),
    }
)

# generateName suffix: 5 characters from apimachinery's utilrand alphabet (no vowels,
# no confusable digits), as names.SimpleNameGenerator does.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SUFFIX_LEN = 5

PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
# A kind's keys in order (a name of its own: inside ObjectStore, `list` is a method).
KeyList = list[Key]
# Which stored version of an object: (the last load's revision, its resourceVersion).
# Equal stamps mean the very same bytes, so readers may cache what they derive from them.
Stamp = tuple[int, int]


NAMESPACES = ("", "namespaces")


def _held(group: str, plural: str, obj: dict[str, Any]) -> bool:
    """Whether finalizers keep a deleted object: metadata.finalizers, and for a
    Namespace also spec.finalizers (`kubernetes`, removed by the namespace controller)."""
    if obj.get("metadata", {}).get("finalizers"):
        return True
    if (group, plural) == NAMESPACES:
        spec = obj.get("spec")
        return isinstance(spec, dict) and bool(spec.get("finalizers"))
    return False


def check_propagation(policy: str | None) -> None:
    """422 for a propagationPolicy upstream does not know (None means the default)."""
    if policy is not None and policy not in PROPAGATION_POLICIES:
        raise invalid(
            "DeleteOptions",
            "",
            [
                FieldCause(
                    "propagationPolicy",
                    f'Unsupported value: "{policy}": supported values: "Foreground", '
                    '"Background", "Orphan", "nil"',
                    "FieldValueNotSupported",
                )
            ],
        )


def generate_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_SUFFIX_LEN))


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    resource_version: int
    # (namespace, name) of the last item when more remain, for the continue token.
    next_after: Key | None
    remaining: int


@dataclass(frozen=True)
class RawListPage:
    """A `ListPage` of (key, stored JSON bytes, stamp) items."""

    items: list[tuple[Key, bytes, Stamp]]
    resource_version: int
    next_after: Key | None
    remaining: int


class _SelectorView:
    """What selectors read of one stored version (`stamp`) of an object."""

    __slots__ = ("fields", "labels", "stamp")

    def __init__(self, stamp: Stamp) -> None:
        self.stamp = stamp
        self.labels: dict[str, str] | None = None
        self.fields: dict[str, str] = {}

    def read(self, obj: dict[str, Any], fields: list[str]) -> None:
        self.labels = (obj.get("metadata") or {}).get("labels") or {}
        for path in fields:
            self.fields[path] = field_value(obj, path)


def _version(meta: dict[str, Any]) -> int:
    try:
        return int(meta.get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _as_label_selector(sel: LabelSelector | str | None) -> LabelSelector:
    return sel if isinstance(sel, LabelSelector) else parse_label_selector(sel)


def _as_field_selector(sel: FieldSelector | str | None) -> FieldSelector:
    return sel if isinstance(sel, FieldSelector) else parse_field_selector(sel)


# events.k8s.io/v1 Events are core/v1 Events seen through another schema: upstream keeps
# one copy in etcd and converts on every read and write (pkg/apis/events/v1/conversion.go).
EVENTS_V1 = ("events.k8s.io", "events")
CORE_EVENTS = ("", "events")
LEASES = ("coordination.k8s.io", "leases")
# core field -> events.k8s.io field; the same object read either way.
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)
_EVENT_SELECTOR_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
}


def core_event_to_v1(event: dict[str, Any]) -> dict[str, Any]:
    """A core/v1 Event as events.k8s.io/v1 shows it."""
    out = {k: v for k, v in event.items() if k not in {c for c, _ in _EVENT_FIELDS}}
    for core_field, v1_field in _EVENT_FIELDS:
        if event.get(core_field) not in (None, "", {}):
            out[v1_field] = event[core_field]
    if not out.get("reportingController"):
        component = (event.get("source") or {}).get("component")
        if component:
            out["reportingController"] = component
    if not out.get("reportingInstance"):
        host = (event.get("source") or {}).get("host")
        if host:
            out["reportingInstance"] = host
    out["apiVersion"], out["kind"] = "events.k8s.io/v1", "Event"
    return out


def v1_event_to_core(event: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in its core/v1 (stored) form."""
    out = {k: v for k, v in event.items() if k not in {v1 for _, v1 in _EVENT_FIELDS}}
    for core_field, v1_field in _EVENT_FIELDS:
        if event.get(v1_field) not in (None, "", {}):
            out[core_field] = event[v1_field]
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def _core_event_selector(selector: FieldSelector) -> FieldSelector:
    renamed = []
    for req in selector.requirements:
        head, _, rest = req.field.partition(".")
        field = _EVENT_SELECTOR_FIELDS.get(head, head) + (f".{rest}" if rest else "")
        renamed.append(FieldRequirement(field, req.operator, req.value))
    return FieldSelector(tuple(renamed))


def _event_404(exc: ApiError, name: str) -> ApiError:
    return not_found("events", name, "events.k8s.io") if exc.code == 404 else exc


class ObjectStore:
    """All objects of one cluster, with resourceVersions, watch and garbage collection.

    Thread-safe: one re-entrant lock serialises writes and reads. Watch subscribers are
    called synchronously under that lock (see `watch.Subscription`).
    """

    def __init__(self, clock: Clock | None = None, history_limit: int = HISTORY_LIMIT) -> None:
        self.clock: Clock = clock or WallClock()
        self._lock = threading.RLock()
        self._kinds: dict[tuple[str, str], dict[Key, bytes]] = {}
        # Each kind's keys in (namespace, name) order, built at the first list after a
        # key was added or removed (updates keep it): a page of a chunked list finds
        # its place by bisection instead of sorting the whole kind again.
        self._sorted_keys: dict[tuple[str, str], KeyList] = {}
        self._rv = 0
        self._history = EventHistory(history_limit)
        self._hub = WatchHub()
        # Terminating namespaces -> when they started terminating (monotonic seconds).
        self._terminating: dict[str, float] = {}
        # owner uid -> dependents (group, plural, namespace, name)
        self._dependents: dict[str, set[tuple[str, str, str, str]]] = {}
        # Hooks the cluster installs (CRD registration, later controllers):
        # called as hook(event) after each committed write, under the lock.
        self.after_write: list[Callable[[WatchEvent], None]] = []
        # The cluster's storage quota (None: unlimited) and what is stored now.
        self.limits: StorageLimits | None = None
        self._objects = 0
        self._bytes = 0
        # resourceVersion of every stored object, so a watch's initial replay does
        # not decode each object (megabytes each, for large ConfigMaps) to learn it.
        self._versions: dict[tuple[str, str, str, str], int] = {}
        # resourceVersion of the last write per kind: a loop that read a kind at
        # revision N has nothing new to read while it stays N (`kind_revision`).
        self._kind_revisions: dict[tuple[str, str], int] = {}
        # (group, plural, namespace, name) -> what selectors read of the stored version.
        self._selector_views: dict[tuple[str, str, str, str], _SelectorView] = {}
        self._load_revision = 0
        # Lease key -> (stored bytes, that version decoded) for `renew_lease`: a holder
        # renewing every 2 s reuses its last write's object instead of decoding it
        # again. Valid only while the stored bytes are that very object.
        self._renewed: dict[Key, tuple[bytes, dict[str, Any]]] = {}

    # ---- reading ---------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The store's lock: held while a write commits and notifies its watchers."""
        return self._lock

    @property
    def resource_version(self) -> int:
        return self._rv

    def kind_revision(self, group: str, plural: str) -> int:
        """The resourceVersion of the last write to a kind (create, update or delete;
        for a kind never written since the last `load`, that load's). Equal revisions
        mean an unchanged kind; a higher one, that something changed since."""
        return self._kind_revisions.get((group, plural), self._load_revision)

    def get(self, group: str, plural: str, namespace: str | None, name: str) -> dict | None:
        """A fresh copy of the object, or None."""
        if (group, plural) == EVENTS_V1:
            core = self.get(*CORE_EVENTS, namespace, name)
            return core_event_to_v1(core) if core is not None else None
        with self._lock:
            raw = self._kinds.get((group, plural), {}).get((namespace or "", name))
        return decode(raw) if raw is not None else None

    def get_or_404(self, group: str, plural: str, namespace: str | None, name: str) -> dict:
        obj = self.get(group, plural, namespace, name)
        if obj is None:
            raise not_found(plural, name, group)
        return obj

    def list(
        self,
        group: str,
        plural: str,
        namespace: str | None = None,
        label_selector: LabelSelector | str | None = None,
        field_selector: FieldSelector | str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects sorted by (namespace, name), and the store's resourceVersion."""
        page = self.list_page(group, plural, namespace, label_selector, field_selector)
        return page.items, page.resource_version

    def list_page(
        self,
        group: str,
        plural: str,
        namespace: str | None = None,
        label_selector: LabelSelector | str | None = None,
        field_selector: FieldSelector | str | None = None,
        *,
        limit: int = 0,
        after: Key | None = None,
    ) -> ListPage:
        """One page of a list: at most `limit` items (0: all) after key `after`."""
        labels = _as_label_selector(label_selector)
        fields = _as_field_selector(field_selector)
        if (group, plural) == EVENTS_V1:
            page = self.list_page(
                *CORE_EVENTS,
                namespace,
                labels,
                _core_event_selector(fields),
                limit=limit,
                after=after,
            )
            events = [core_event_to_v1(e) for e in page.items]
            return ListPage(events, page.resource_version, page.next_after, page.remaining)
        raw = self.list_raw_page(group, plural, namespace, labels, fields, limit=limit, after=after)
        items = [decode(data) for _, data, _ in raw.items]
        return ListPage(items, raw.resource_version, raw.next_after, raw.remaining)

    def list_raw_page(
        self,
        group: str,
        plural: str,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        *,
        limit: int = 0,
        after: Key | None = None,
    ) -> RawListPage:
        """`list_page` without decoding: each item is its key, its stored bytes (never
        to be changed) and the `Stamp` of that version. The API server's read path
        encodes the bytes as they are (v1 Events excepted: they are converted, so they
        go through `list_page`)."""
        labels = labels or LabelSelector()
        fields = fields or FieldSelector()
        select = not labels.empty() or not fields.empty()
        with self._lock:
            bucket = self._kinds.get((group, plural), {})
            keys = self._keys_in_order(group, plural, bucket)
            start, end = 0, len(keys)
            if namespace:
                start = bisect.bisect_left(keys, (namespace, ""))
                end = bisect.bisect_left(keys, (namespace + "\x00", ""), start)
            if after is not None:
                start = max(start, bisect.bisect_right(keys, after, start, end))
            # Without selectors a page needs only its own items (and one more, to know
            # whether it is the last); with them, every candidate after `after`.
            stop = end if select or not limit else min(end, start + limit + 1)
            versions, epoch = self._versions, self._load_revision
            raws = [
                (k, bucket[k], (epoch, versions.get((group, plural, *k), 0)))
                for k in keys[start:stop]
            ]
            total = end - start
            rv = self._rv
        items: list[tuple[Key, bytes, Stamp]] = []
        next_after: Key | None = None
        remaining = 0
        for index, (key, raw, stamp) in enumerate(raws):
            if select and not self._selected(group, plural, (key, raw, stamp), labels, fields):
                continue
            if limit and len(items) == limit:
                next_after = items[-1][0]
                # Upstream's remainingItemCount is only exact without selectors.
                remaining = total - index
                break
            items.append((key, raw, stamp))
        return RawListPage(items, rv, next_after, remaining)

    def _keys_in_order(self, group: str, plural: str, bucket: dict[Key, bytes]) -> KeyList:
        """The kind's keys sorted; call with the lock held."""
        keys = self._sorted_keys.get((group, plural))
        if keys is None:
            keys = self._sorted_keys[(group, plural)] = sorted(bucket)
        return keys

    def _selected(
        self,
        group: str,
        plural: str,
        item: tuple[Key, bytes, Stamp],
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> bool:
        """Whether a stored object matches both selectors, from what earlier lists
        read of the same stored version (its labels, the fields asked so far): an
        object is decoded once per version and field set, not at every list."""
        key, raw, stamp = item
        view_key = (group, plural, *key)
        view = self._selector_views.get(view_key)
        if view is None or view.stamp != stamp:
            view = _SelectorView(stamp)
        missing = [r.field for r in fields.requirements if r.field not in view.fields]
        if view.labels is None or missing:
            view.read(decode(raw), missing)
            self._selector_views[view_key] = view
        return labels.matches(view.labels) and all(
            (view.fields[r.field] == r.value) == (r.operator == "=") for r in fields.requirements
        )

    def count(self, group: str | None = None, plural: str | None = None) -> int:
        with self._lock:
            if group is None or plural is None:
                return sum(len(b) for b in self._kinds.values())
            return len(self._kinds.get((group, plural), {}))

    def usage(self) -> tuple[int, int]:
        """(objects, bytes) stored now: what the storage quota counts."""
        with self._lock:
            return self._objects, self._bytes

    def kinds(self) -> list[tuple[str, str]]:
        """(group, plural) of every kind with at least one stored object."""
        with self._lock:
            return [k for k, b in self._kinds.items() if b]

    # ---- writing ---------------------------------------------------------------------

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _tracks_generation(self, group: str, plural: str, obj: dict[str, Any]) -> bool:
        return "spec" in obj and (group, plural) not in _NO_GENERATION

    def _commit(
        self,
        event_type: str,
        group: str,
        plural: str,
        key: Key,
        data: bytes,
        rv: int,
        old: bytes | None = None,
    ) -> None:
        bucket = self._kinds.setdefault((group, plural), {})
        previous = bucket.get(key)
        self._kind_revisions[(group, plural)] = rv
        if event_type == DELETED:
            if (group, plural) == LEASES:
                self._renewed.pop(key, None)
            if bucket.pop(key, None) is not None:
                self._sorted_keys.pop((group, plural), None)
            self._versions.pop((group, plural, *key), None)
            self._selector_views.pop((group, plural, *key), None)
            if previous is not None:
                self._objects -= 1
                self._bytes -= len(previous)
        else:
            if previous is None:
                self._sorted_keys.pop((group, plural), None)
            bucket[key] = data
            self._versions[(group, plural, *key)] = rv
            self._objects += previous is None
            self._bytes += len(data) - (len(previous) if previous is not None else 0)
        event = WatchEvent(event_type, group, plural, key[0], key[1], rv, data, old)
        self._history.append(event)
        self._hub.publish(event)
        for hook in list(self.after_write):
            hook(event)

    def _index_owners(self, group: str, plural: str, key: Key, obj: dict | None, old: dict | None):
        dependent = (group, plural, key[0], key[1])
        for ref in ((old or {}).get("metadata") or {}).get("ownerReferences") or []:
            deps = self._dependents.get(ref.get("uid", ""))
            if deps is not None:
                deps.discard(dependent)
                if not deps:
                    del self._dependents[ref.get("uid", "")]
        for ref in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("uid"):
                self._dependents.setdefault(ref["uid"], set()).add(dependent)

    def create(
        self, group: str, plural: str, obj: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Store a new object and return it with its server-set metadata.

        Fills uid, creationTimestamp, resourceVersion, generation and a name from
        generateName. Raises ApiError 409 AlreadyExists or 422 when no name is given.
        """
        if (group, plural) == EVENTS_V1:
            created = self.create(*CORE_EVENTS, v1_event_to_core(obj), dry_run=dry_run)
            return core_event_to_v1(created)
        obj = decode(encode(obj))
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace") or ""
        with self._lock:
            bucket = self._kinds.get((group, plural), {})
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise invalid(
                        obj.get("kind", plural),
                        "",
                        [
                            FieldCause(
                                "metadata.name",
                                "Required value: name or generateName is required",
                                "FieldValueRequired",
                            )
                        ],
                    )
                for _ in range(8):
                    meta["name"] = generate_name(prefix)
                    if (namespace, meta["name"]) not in bucket:
                        break
            key = (namespace, meta["name"])
            if key in bucket:
                raise already_exists(plural, meta["name"], group)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(self.clock.now())
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
            if self._tracks_generation(group, plural, obj):
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if dry_run:
                meta.pop("resourceVersion", None)
                return obj
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            data = encode(obj)
            self._admit(group, plural, key, data, None)
            self._index_owners(group, plural, key, obj, None)
            self._commit(ADDED, group, plural, key, data, rv)
        return obj

    def update(
        self, group: str, plural: str, obj: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Replace an object; 404 if absent, 409 Conflict on a stale resourceVersion.

        Server-owned metadata (uid, creationTimestamp, deletionTimestamp) is kept from
        the stored object; generation increases when `spec` changes. An update that
        changes nothing returns the stored object without a new resourceVersion. When
        the object is being deleted and its last finalizer is removed, it is deleted.
        """
        if (group, plural) == EVENTS_V1:
            try:
                updated = self.update(*CORE_EVENTS, v1_event_to_core(obj), dry_run=dry_run)
            except ApiError as exc:
                raise _event_404(exc, (obj.get("metadata") or {}).get("name", "")) from None
            return core_event_to_v1(updated)
        obj = decode(encode(obj))
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace") or ""
        name = meta.get("name") or ""
        key = (namespace, name)
        with self._lock:
            raw = self._kinds.get((group, plural), {}).get(key)
            if raw is None:
                raise not_found(plural, name, group)
            old = decode(raw)
            old_meta = old["metadata"]
            given_rv = meta.get("resourceVersion")
            if given_rv and given_rv != old_meta.get("resourceVersion"):
                raise conflict(plural, name, group)
            if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
                raise ApiError(
                    409,
                    f"Precondition failed: UID in precondition: {meta['uid']}, "
                    f"UID in object meta: {old_meta.get('uid')}",
                    reason="Conflict",
                )
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if "generation" in old_meta:
                bump = obj.get("spec") != old.get("spec")
                meta["generation"] = old_meta["generation"] + (1 if bump else 0)
            elif self._tracks_generation(group, plural, obj):
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            # Removed once nothing holds it: no finalizers left and no grace period
            # still running (upstream deletes on update only at grace 0).
            finishing = (
                bool(old_meta.get("deletionTimestamp"))
                and not _held(group, plural, obj)
                and not old_meta.get("deletionGracePeriodSeconds")
            )
            if obj == old and not finishing:
                return old
            if dry_run:
                return obj
            if finishing:
                return self._remove(group, plural, key, obj, raw, "Background")
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            data = encode(obj)
            self._admit(group, plural, key, data, raw)
            self._index_owners(group, plural, key, obj, old)
            self._commit(MODIFIED, group, plural, key, data, rv, raw)
        return obj

    def renew_lease(
        self, namespace: str, name: str, holder: str, stamp: str, duration: int
    ) -> bool:
        """The holder's own renewal of a coordination.k8s.io Lease: `spec.renewTime`
        and `spec.leaseDurationSeconds` set on the stored version, committed as `update`
        commits (a new resourceVersion, a MODIFIED watch event, the write hooks) but
        without the copies a full replace makes. What client-go's leader election and
        the kubelet's lease controller send every retry period / renew interval. False,
        writing nothing, when the Lease is missing, held by another identity or being
        deleted: the caller then takes the general path."""
        group, plural = LEASES
        key = (namespace, name)
        with self._lock:
            raw = self._kinds.get(LEASES, {}).get(key)
            if raw is None:
                return False
            # The last renewal's object when it is still the stored version; taken
            # out while it is changed, so a write refused below leaves no stale copy.
            cached = self._renewed.pop(key, None)
            obj = cached[1] if cached is not None and cached[0] is raw else decode(raw)
            meta = obj["metadata"]
            spec = obj.get("spec")
            if (
                not isinstance(spec, dict)
                or spec.get("holderIdentity") != holder
                or meta.get("deletionTimestamp")
            ):
                return False
            if spec.get("renewTime") == stamp and spec.get("leaseDurationSeconds") == duration:
                self._renewed[key] = (raw, obj)
                return True  # unchanged: no new resourceVersion, as `update`
            spec["renewTime"] = stamp
            spec["leaseDurationSeconds"] = duration
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            data = encode(obj)
            self._admit(group, plural, key, data, raw)
            self._commit(MODIFIED, group, plural, key, data, rv, raw)
            self._renewed[key] = (data, obj)
        return True

    def _admit(self, group: str, plural: str, key: Key, data: bytes, old: bytes | None) -> None:
        """Refuse a write past the storage quota (ApiError 403 or 413, see
        `limits.storage_error`); a write that does not grow the store always passes."""
        if self.limits is None:
            return
        growth = len(data) - (len(old) if old is not None else 0)
        if old is not None and growth <= 0:
            return
        error = storage_error(
            self.limits,
            plural=plural,
            name=key[1],
            group=group,
            size=len(data),
            objects=self._objects,
            used_bytes=self._bytes,
            new_object=old is None,
            growth=growth,
        )
        if error is not None:
            raise error

    def delete(
        self,
        group: str,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation: str | None = None,
        dry_run: bool = False,
        grace_seconds: int = 0,
    ) -> tuple[dict[str, Any], bool]:
        """Delete an object: (last state, removed).

        With finalizers the object only gains a deletionTimestamp (removed=False); it
        goes when an update empties its finalizers. With `grace_seconds` > 0 (graceful
        pod deletion) it gains deletionTimestamp = now + grace and
        deletionGracePeriodSeconds, and goes on a later delete with grace 0 (what the
        kubelet sends once the containers stopped). Dependents are handled by
        `propagation` (Background by default). Deleting a Namespace deletes everything
        in it. Raises 404, or 409 when a uid/resourceVersion precondition fails.
        """
        if (group, plural) == EVENTS_V1:
            try:
                obj, removed = self.delete(
                    *CORE_EVENTS,
                    namespace,
                    name,
                    uid=uid,
                    resource_version=resource_version,
                    propagation=propagation,
                    dry_run=dry_run,
                )
            except ApiError as exc:
                raise _event_404(exc, name) from None
            return core_event_to_v1(obj), removed
        key = (namespace or "", name)
        policy = propagation or "Background"
        check_propagation(policy)
        with self._lock:
            raw = self._kinds.get((group, plural), {}).get(key)
            if raw is None:
                raise not_found(plural, name, group)
            obj = decode(raw)
            meta = obj["metadata"]
            if uid and uid != meta.get("uid"):
                raise ApiError(
                    409,
                    f"Precondition failed: UID in precondition: {uid}, "
                    f"UID in object meta: {meta.get('uid')}",
                    reason="Conflict",
                )
            if resource_version and resource_version != meta.get("resourceVersion"):
                raise ApiError(
                    409,
                    f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                    reason="Conflict",
                )
            if dry_run:
                return obj, not meta.get("finalizers") and grace_seconds <= 0
            current = meta.get("deletionGracePeriodSeconds")
            if grace_seconds > 0 and (current is None or grace_seconds < current):
                deadline = self.clock.now() + timedelta(seconds=grace_seconds)
                meta["deletionTimestamp"] = rfc3339(deadline)
                meta["deletionGracePeriodSeconds"] = grace_seconds
                rv = self._next_rv()
                meta["resourceVersion"] = str(rv)
                self._commit(MODIFIED, group, plural, key, encode(obj), rv, raw)
                return obj, False
            if grace_seconds > 0:
                return obj, False  # already terminating with a shorter grace period
            if _held(group, plural, obj):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = rfc3339(self.clock.now())
                    meta["deletionGracePeriodSeconds"] = 0
                    if (group, plural) == NAMESPACES:
                        # Terminating until its content is gone and the `kubernetes`
                        # finalizer removed (the namespace controller's work).
                        obj.setdefault("status", {})["phase"] = "Terminating"
                        self._terminating[name] = time.monotonic()
                    rv = self._next_rv()
                    meta["resourceVersion"] = str(rv)
                    self._commit(MODIFIED, group, plural, key, encode(obj), rv, raw)
                return obj, False
            return self._remove(group, plural, key, obj, raw, policy), True

    def _remove(
        self, group: str, plural: str, key: Key, obj: dict, raw: bytes, policy: str
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        if (group, plural) == NAMESPACES:
            self._terminating.pop(key[1], None)
            self._empty_namespace(key[1])
        if policy == "Foreground":
            self._collect_dependents(meta.get("uid", ""), policy)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        self._index_owners(group, plural, key, None, obj)
        self._commit(DELETED, group, plural, key, encode(obj), rv, raw)
        if policy != "Foreground":
            self._collect_dependents(meta.get("uid", ""), policy)
        return obj

    def _collect_dependents(self, owner_uid: str, policy: str) -> None:
        """The garbage collector, run synchronously when an owner goes away."""
        for group, plural, namespace, name in sorted(self._dependents.pop(owner_uid, set())):
            dep = self.get(group, plural, namespace, name)
            if dep is None:
                continue
            refs = dep["metadata"].get("ownerReferences") or []
            remaining = [r for r in refs if r.get("uid") != owner_uid]
            if policy == "Orphan" or remaining:
                if policy == "Orphan":
                    dep["metadata"]["ownerReferences"] = remaining
                    if not remaining:
                        del dep["metadata"]["ownerReferences"]
                    self.update(group, plural, dep)
                continue
            try:
                self.delete(group, plural, namespace, name, propagation=policy)
            except ApiError:
                continue

    def _empty_namespace(self, namespace: str) -> None:
        # The namespace controller's job upstream; done here when a namespace without
        # the `kubernetes` finalizer goes, or by `finalize_namespace`.
        for group, plural in list(self._kinds):
            for ns, name in sorted(self._kinds[(group, plural)]):
                if ns == namespace:
                    try:
                        self.delete(group, plural, ns, name)
                    except ApiError:
                        continue
                    obj = self.get(group, plural, ns, name)
                    if obj is not None:
                        # Finalizers nobody will remove: drop them so the namespace empties.
                        obj["metadata"].pop("finalizers", None)
                        obj["metadata"].pop("resourceVersion", None)
                        self.update(group, plural, obj)

    def terminating_namespaces(self, older_than: float = 0.0) -> list[str]:
        """Namespaces that have been Terminating for at least `older_than` seconds."""
        now = time.monotonic()
        with self._lock:
            return sorted(n for n, t in self._terminating.items() if now - t >= older_than)

    def finalize_namespace(self, name: str) -> bool:
        """Finish a Terminating namespace: delete its content (dropping finalizers
        nobody will remove) and the namespace. What the namespace controller does when
        one runs; returns True when the namespace is gone."""
        with self._lock:
            ns = self.get(*NAMESPACES, None, name)
            if ns is None:
                self._terminating.pop(name, None)
                return True
            if not ns["metadata"].get("deletionTimestamp"):
                return False
            self._empty_namespace(name)
            ns = self.get(*NAMESPACES, None, name)
            if ns is None:
                return True
            (ns.get("spec") or {}).pop("finalizers", None)
            ns["metadata"].pop("finalizers", None)
            self.update(*NAMESPACES, ns)
            return self.get(*NAMESPACES, None, name) is None

    def delete_kind(self, group: str, plural: str) -> int:
        """Remove every object of a kind (a CRD went away); returns how many."""
        with self._lock:
            keys = sorted(self._kinds.get((group, plural), {}))
            for namespace, name in keys:
                obj = self.get(group, plural, namespace, name)
                if obj is not None:
                    obj["metadata"].pop("finalizers", None)
                    raw = self._kinds[(group, plural)][(namespace, name)]
                    self._remove(group, plural, (namespace, name), obj, raw, "Background")
            return len(keys)

    # ---- watch -----------------------------------------------------------------------

    def watch(
        self,
        group: str,
        plural: str,
        deliver: Callable[[WatchEvent], None],
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | str | None = None,
        field_selector: FieldSelector | str | None = None,
        resource_version: int | None = None,
        send_initial: bool = False,
    ) -> tuple[Subscription, int]:
        """Subscribe `deliver` to changes; returns the subscription and the start rv.

        With `send_initial` (or no resourceVersion) the current matching objects are
        delivered first as ADDED; otherwise history after `resource_version` is
        replayed (ApiError 410 if it is older than the history). Events are delivered
        synchronously under the store lock, so nothing is lost between replay and live.
        """
        if (group, plural) == EVENTS_V1:

            def deliver_v1(event: WatchEvent) -> None:
                converted = encode(core_event_to_v1(decode(event.data)))
                deliver(
                    WatchEvent(
                        event.type,
                        *EVENTS_V1,
                        event.namespace,
                        event.name,
                        event.resource_version,
                        converted,
                    )
                )

            return self.watch(
                *CORE_EVENTS,
                deliver_v1,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=_core_event_selector(_as_field_selector(field_selector)),
                resource_version=resource_version,
                send_initial=send_initial,
            )
        sub = Subscription(
            group,
            plural,
            namespace or None,
            _as_label_selector(label_selector),
            _as_field_selector(field_selector),
            deliver,
        )
        with self._lock:
            start = self._rv
            if send_initial or resource_version is None:
                bucket = self._kinds.get((group, plural), {})
                cache: dict[int, Any] = {}
                for key in self._keys_in_order(group, plural, bucket):
                    if namespace and key[0] != namespace:
                        continue
                    raw = bucket[key]
                    rv = self._versions.get((group, plural, *key))
                    if rv is None:
                        rv = int(decode(raw)["metadata"].get("resourceVersion", "0"))
                    event = WatchEvent(ADDED, group, plural, key[0], key[1], rv, raw)
                    seen = sub.translate(event, cache)
                    if seen is not None:
                        deliver(seen)
            else:
                cache = {}
                for event in self._history.since(resource_version):
                    seen = sub.translate(event, cache)
                    if seen is not None:
                        deliver(seen)
            self._hub.subscribe(sub)
        return sub, start

    def unwatch(self, sub: Subscription) -> None:
        self._hub.unsubscribe(sub)

    @property
    def watcher_count(self) -> int:
        return len(self._hub)

    def close_watches(self) -> None:
        """End every open watch (the cluster is being deleted or restored)."""
        self._hub.close_all()

    # ---- snapshot --------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A JSON-serialisable copy of every object and the resourceVersion counter."""
        with self._lock:
            return {
                "resourceVersion": self._rv,
                "objects": {
                    f"{group}/{plural}": [decode(raw) for _, raw in sorted(bucket.items())]
                    for (group, plural), bucket in self._kinds.items()
                    if bucket
                },
            }

    def load(self, data: dict[str, Any]) -> None:
        """Replace all content with a `dump()`; open watches are closed and older
        resourceVersions answer 410 afterwards."""
        with self._lock:
            self._hub.close_all()
            self._kinds.clear()
            self._sorted_keys.clear()
            self._dependents.clear()
            self._terminating.clear()
            self._objects = self._bytes = 0
            self._versions.clear()
            self._selector_views.clear()
            self._renewed.clear()
            for kind_key, objects in data.get("objects", {}).items():
                group, _, plural = kind_key.rpartition("/")
                bucket = self._kinds.setdefault((group, plural), {})
                for obj in objects:
                    meta = obj["metadata"]
                    key = (meta.get("namespace") or "", meta["name"])
                    bucket[key] = encode(obj)
                    self._versions[(group, plural, *key)] = _version(meta)
                    self._objects += 1
                    self._bytes += len(bucket[key])
                    self._index_owners(group, plural, key, obj, None)
                    if (group, plural) == NAMESPACES and meta.get("deletionTimestamp"):
                        self._terminating[key[1]] = time.monotonic()
            self._rv = max(self._rv, int(data.get("resourceVersion", 0))) + 1
            self._history.clear(self._rv)
            # Everything may have changed: every kind counts as written now.
            self._kind_revisions = dict.fromkeys(self._kinds, self._rv)
            self._load_revision = self._rv
