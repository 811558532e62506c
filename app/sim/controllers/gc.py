"""The garbage collector's periodic part.

The store already collects synchronously when an owner is deleted (Background,
Foreground and Orphan propagation). What it cannot see is added here, as upstream's
garbagecollector does from its dependency graph:

* dependents whose owners are all gone (an owner deleted while the dependent was
  being created, a restored snapshot, an ownerReference written by hand) are
  deleted; owners that are gone are removed from dependents that still have another;
* objects being deleted with the `foregroundDeletion` finalizer wait until their
  dependents are gone, then lose the finalizer; with `orphan` their dependents lose
  the ownerReference first.
"""

from __future__ import annotations

from app.sim.controllers.base import (
    ANY_KIND,
    ControllerContext,
    Obj,
    deleting,
    fresh,
    guarded,
    name_of,
    namespace_of,
    without_owner,
)
from app.sim.controllers.timing import EVENT_RESYNC_SECONDS

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

Entry = tuple[str, str, Obj]  # (group, plural, object)


def _index(ctx: ControllerContext) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for group, plural in ctx.store.kinds():
        if (group, plural) == ("", "events"):
            continue
        for obj in ctx.client.list(group, plural):
            uid = obj["metadata"].get("uid")
            if uid:
                out[uid] = (group, plural, obj)
    return out


def _owner_present(index: dict[str, Entry], dependent: Obj, ref: Obj) -> bool:
    entry = index.get(ref.get("uid", ""))
    if entry is None:
        return False
    owner = entry[2]
    if owner.get("kind") and ref.get("kind") and owner["kind"] != ref["kind"]:
        return False
    # A namespaced owner must live in the dependent's namespace (upstream treats a
    # cross-namespace owner reference as absent).
    owner_ns = namespace_of(owner)
    return not owner_ns or owner_ns == namespace_of(dependent)


class GarbageCollector:
    name = "garbage-collector-controller"
    watches = ANY_KIND
    resync_seconds = EVENT_RESYNC_SECONDS

    def reconcile(self, ctx: ControllerContext) -> None:
        index = _index(ctx)
        candidates = [
            (uid, entry)
            for uid, entry in index.items()
            if any(
                not _owner_present(index, entry[2], ref)
                for ref in entry[2]["metadata"].get("ownerReferences") or []
            )
        ]
        if candidates:
            # Look again before acting: an owner and its dependent created between two
            # lists of one pass must not look like an orphan.
            index = _index(ctx)
            for uid, _ in candidates:
                if uid in index:
                    entry = index[uid]
                    guarded(lambda c, _, e=entry: self.collect(c, index, e), ctx, entry[2], "gc")
        for entry in list(index.values()):
            finalizers = entry[2]["metadata"].get("finalizers") or []
            if deleting(entry[2]) and (FOREGROUND in finalizers or ORPHAN in finalizers):
                guarded(lambda c, _, e=entry: self.finish_owner(c, index, e), ctx, entry[2], "gc")

    def collect(self, ctx: ControllerContext, index: dict[str, Entry], entry: Entry) -> None:
        group, plural, obj = entry
        refs = obj["metadata"].get("ownerReferences") or []
        solid = [r for r in refs if _owner_present(index, obj, r)]
        if len(solid) == len(refs) or deleting(obj):
            return
        if not solid:
            ctx.client.delete(
                group, plural, namespace_of(obj), name_of(obj), uid=obj["metadata"]["uid"]
            )
            return
        updated = fresh(obj)
        updated["metadata"]["ownerReferences"] = solid
        ctx.client.update(group, plural, updated)

    def finish_owner(self, ctx: ControllerContext, index: dict[str, Entry], entry: Entry) -> None:
        group, plural, owner = entry
        uid = owner["metadata"]["uid"]
        finalizers = list(owner["metadata"].get("finalizers") or [])
        dependents = [
            e
            for e in index.values()
            if any(r.get("uid") == uid for r in e[2]["metadata"].get("ownerReferences") or [])
        ]
        if ORPHAN in finalizers:
            for dgroup, dplural, dep in dependents:
                ctx.client.update(dgroup, dplural, without_owner(dep, uid))
            finalizers.remove(ORPHAN)
        elif FOREGROUND in finalizers:
            waiting = False
            for dgroup, dplural, dep in dependents:
                waiting = True
                if not deleting(dep):
                    ctx.client.delete(
                        dgroup, dplural, namespace_of(dep), name_of(dep), propagation="Foreground"
                    )
            if waiting:
                return
            finalizers.remove(FOREGROUND)
        current = ctx.client.get(group, plural, namespace_of(owner), name_of(owner))
        if current is None:
            return
        if finalizers:
            current["metadata"]["finalizers"] = finalizers
        else:
            current["metadata"].pop("finalizers", None)
        ctx.client.update(group, plural, current)
