"""What every controller shares: the context it runs in and small helpers over objects.

A controller is level-triggered: `reconcile(ctx)` lists the objects it owns, compares
them with what they should be and writes the difference. Every call looks at
everything it owns (upstream's periodic resync re-queues all objects, so a missed
watch event self-heals); a call that finds nothing to do writes nothing, which is how
the manager knows the cluster is quiet.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.sim.client.events import EventRecorder
from app.sim.controllers.client import ApiClient
from app.sim.machinery.clock import Clock, parse_ts, rfc3339
from app.sim.machinery.errors import ApiError
from app.sim.machinery.store import ObjectStore

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class ControllerContext:
    """The store, clock, client and event recorder a controller works with."""

    store: ObjectStore
    clock: Clock
    client: ApiClient
    events: EventRecorder

    def now(self) -> datetime:
        return self.clock.now()

    def now_str(self) -> str:
        return rfc3339(self.clock.now())


# `watches` of a controller that depends on every kind (garbage collector, quota): it
# wakes when any object is created or deleted, or gets a deletionTimestamp.
ANY_KIND: frozenset[tuple[str, str]] = frozenset({("*", "*")})


class Controller(Protocol):
    """One control loop; `name` is its `--controllers` name upstream.

    A controller may declare `watches`, the (group, plural) kinds it reads: the
    manager then runs it only when one of them changed or its resync period passed
    (`resync_seconds`, default `timing.RESYNC_SECONDS`; controllers also driven by the
    clock, such as node lifecycle, CronJob and Job deadlines, declare
    `timing.CLOCK_RESYNC_SECONDS`), as informers wake a controller upstream. Without
    `watches` it runs every step.
    """

    name: str

    def reconcile(self, ctx: ControllerContext) -> None: ...


# ---- object helpers -------------------------------------------------------------------


def meta(obj: Obj) -> Obj:
    return obj.setdefault("metadata", {})


def name_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def namespace_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("namespace") or ""


def uid_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("uid", "")


def deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def labels_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def owner_reference(owner: Obj, api_version: str, kind: str) -> Obj:
    """A controller ownerReference to `owner` (blockOwnerDeletion as upstream sets)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_ref(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owned_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


def plus(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def fresh(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


# ---- pods -----------------------------------------------------------------------------


def pod_condition(pod: Obj, kind: str) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def pod_ready(pod: Obj) -> bool:
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least minReadySeconds (upstream podutil.IsPodAvailable)."""
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    cond = pod_condition(pod, "Ready") or {}
    since = parse_ts(cond.get("lastTransitionTime"))
    return since is not None and plus(since, min_ready_seconds) <= now


def pod_phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def pod_active(pod: Obj) -> bool:
    """Not finished and not being deleted (upstream controller.IsPodActive)."""
    return pod_phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


def pod_from_template(
    template: Obj,
    namespace: str,
    owner_ref: Obj,
    *,
    name: str | None = None,
    generate_name: str | None = None,
) -> Obj:
    """A Pod built from a pod template, owned by `owner_ref`."""
    tmeta = template.get("metadata") or {}
    metadata: Obj = {"namespace": namespace, "ownerReferences": [owner_ref]}
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name or ""
    if tmeta.get("labels"):
        metadata["labels"] = dict(tmeta["labels"])
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """Resolve an IntOrString such as maxSurge: 25% of `total` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            return 0
        scaled = percent * total
        return -(-scaled // 100) if round_up else scaled // 100
    try:
        return int(text)
    except ValueError:
        return 0


def guarded(fn: Callable[..., None], ctx: ControllerContext, obj: Obj, what: str) -> None:
    """Run `fn(ctx, obj)`; an API error (conflict, quota, gone) is logged and the
    object is retried on the next resync, as a work queue requeues it upstream."""
    try:
        fn(ctx, obj)
    except ApiError as exc:
        log.debug("%s %s/%s: %s (requeued)", what, namespace_of(obj), name_of(obj), exc.message)


def claim(
    ctx: ControllerContext,
    owner: Obj,
    selector: Any,
    candidates: list[Obj],
    resource: tuple[str, str],
    api_version: str,
    kind: str,
) -> list[Obj]:
    """Adopt orphans that match `selector`, release owned objects that no longer match;
    returns what `owner` controls afterwards (upstream ControllerRefManager.Claim*)."""
    group, plural = resource
    mine: list[Obj] = []
    owner_uid = uid_of(owner)
    for obj in candidates:
        labels = labels_of(obj)
        ref = controller_ref(obj)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if selector.matches(labels) or deleting(owner):
                mine.append(obj)
                continue
            # Released: its labels changed, so it is no longer ours.
            ctx.client.update(group, plural, without_owner(obj, owner_uid))
            continue
        if deleting(owner) or deleting(obj) or not selector.matches(labels):
            continue
        updated = fresh(obj)
        updated["metadata"].setdefault("ownerReferences", []).append(
            owner_reference(owner, api_version, kind)
        )
        mine.append(ctx.client.update(group, plural, updated))
    return mine


def set_condition(conditions: list[Obj], condition: Obj) -> list[Obj]:
    """Replace the condition of the same type, keeping lastTransitionTime when the
    status did not change; a condition equal in status and reason is left as it was
    (upstream SetDeploymentCondition / SetJobCondition semantics)."""
    current = next((c for c in conditions if c.get("type") == condition.get("type")), None)
    if current is not None:
        if current.get("status") == condition.get("status") and current.get(
            "reason"
        ) == condition.get("reason"):
            return conditions
        if current.get("status") == condition.get("status") and current.get("lastTransitionTime"):
            condition["lastTransitionTime"] = current["lastTransitionTime"]
    return [c for c in conditions if c.get("type") != condition.get("type")] + [condition]


def write_status(
    ctx: ControllerContext, resource: tuple[str, str], obj: Obj, status: Obj
) -> Obj | None:
    """Store `status` on the current version of `obj` (re-read, so a spec change made
    since the list is kept) when it differs; None when the object is gone or was
    replaced by another of the same name."""
    group, plural = resource
    if status == (obj.get("status") or {}):
        return None
    current = ctx.client.get(group, plural, namespace_of(obj) or None, name_of(obj))
    if current is None or uid_of(current) != uid_of(obj):
        return None
    current["status"] = status
    return ctx.client.update(group, plural, current)


def without_owner(obj: Obj, owner_uid: str) -> Obj:
    """A copy of `obj` without its ownerReference to `owner_uid`."""
    updated = fresh(obj)
    refs = [
        r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
    ]
    if refs:
        updated["metadata"]["ownerReferences"] = refs
    else:
        updated["metadata"].pop("ownerReferences", None)
    return updated


def pod_ref(pod: Obj) -> Obj:
    """The `targetRef` of an endpoint backed by `pod`."""
    return {"kind": "Pod", "namespace": namespace_of(pod), "name": name_of(pod), "uid": uid_of(pod)}


def sync_per_namespace(
    ctx: ControllerContext,
    owners: list[Obj],
    related: list[tuple[str, str]],
    sync: Callable[..., None],
    what: str,
) -> None:
    """Call `sync(ctx, owner, *related lists)` for each owner, listing each related
    kind once per namespace; an API error requeues only that owner."""
    cache: dict[str, list[list[Obj]]] = {}
    for owner in owners:
        ns = namespace_of(owner)
        if ns not in cache:
            cache[ns] = [ctx.client.list(group, plural, ns) for group, plural in related]
        lists = cache[ns]
        guarded(lambda c, o, x=lists: sync(c, o, *x), ctx, owner, what)
