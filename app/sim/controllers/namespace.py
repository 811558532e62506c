"""The Namespace controller: finish the deletion of a namespace.

A deleted namespace first shows phase `Terminating`; the controller deletes every
object in it, waits for objects held by finalizers, then removes the `kubernetes`
finalizer and the namespace goes. Its status conditions say what it waits for
(`NamespaceContentRemaining`, `NamespaceFinalizersRemaining`), worded as upstream's
namespaced_resources_deleter.go, so a namespace stuck in Terminating can be diagnosed
with `kubectl get ns X -o yaml` as on a real cluster.
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    fresh,
    guarded,
    name_of,
)

FINALIZER = "kubernetes"


def _group_resource(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


class NamespaceController:
    name = "namespace-controller"

    def reconcile(self, ctx: ControllerContext) -> None:
        for ns in ctx.client.list("", "namespaces"):
            if deleting(ns):
                guarded(self.finalize, ctx, ns, "namespace")

    def contents(self, ctx: ControllerContext, namespace: str) -> list[tuple[str, str, Obj]]:
        out = []
        for group, plural in sorted(ctx.store.kinds()):
            if (group, plural) == ("", "namespaces"):
                continue
            for obj in ctx.client.list(group, plural, namespace):
                if obj["metadata"].get("namespace") == namespace:
                    out.append((group, plural, obj))
        return out

    def finalize(self, ctx: ControllerContext, ns: Obj) -> None:
        name = name_of(ns)
        for group, plural, obj in self.contents(ctx, name):
            if not deleting(obj):
                ctx.client.delete(group, plural, name, name_of(obj), propagation="Background")
        remaining = self.contents(ctx, name)
        counts: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for group, plural, obj in remaining:
            resource = _group_resource(group, plural)
            counts[resource] = counts.get(resource, 0) + 1
            for finalizer in obj["metadata"].get("finalizers") or []:
                finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        status = self.status(ns, counts, finalizers, ctx.now_str())
        current = ctx.client.get("", "namespaces", None, name)
        if current is None:
            return
        if remaining:
            if current.get("status") != status:
                current["status"] = status
                ctx.client.update("", "namespaces", current)
            return
        updated = fresh(current)
        updated["status"] = status
        spec = updated.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        if not spec["finalizers"]:
            del spec["finalizers"]
        meta_finalizers = [f for f in updated["metadata"].get("finalizers") or [] if f != FINALIZER]
        if meta_finalizers:
            updated["metadata"]["finalizers"] = meta_finalizers
        else:
            updated["metadata"].pop("finalizers", None)
        if updated != current:
            ctx.client.update("", "namespaces", updated)
        gone = ctx.client.get("", "namespaces", None, name) is None
        if not meta_finalizers and not spec.get("finalizers") and not gone:
            ctx.client.delete("", "namespaces", None, name)

    def status(
        self, ns: Obj, counts: dict[str, int], finalizers: dict[str, int], now: str
    ) -> dict[str, Any]:
        old = {c.get("type"): c for c in (ns.get("status") or {}).get("conditions") or []}

        def condition(kind: str, status: str, reason: str, message: str) -> Obj:
            previous = old.get(kind)
            stamp = (
                previous.get("lastTransitionTime")
                if previous and previous.get("status") == status
                else now
            )
            return {
                "type": kind,
                "status": status,
                "lastTransitionTime": stamp,
                "reason": reason,
                "message": message,
            }

        if counts:
            remaining = condition(
                "NamespaceContentRemaining",
                "True",
                "SomeResourcesRemain",
                "Some resources are remaining: "
                + ", ".join(f"{r} has {n} resource instances" for r, n in sorted(counts.items())),
            )
        else:
            remaining = condition(
                "NamespaceContentRemaining",
                "False",
                "ContentRemoved",
                "All content successfully removed",
            )
        if finalizers:
            held = condition(
                "NamespaceFinalizersRemaining",
                "True",
                "SomeFinalizersRemain",
                "Some content in the namespace has finalizers remaining: "
                + ", ".join(
                    f"{f} in {n} resource instances" for f, n in sorted(finalizers.items())
                ),
            )
        else:
            held = condition(
                "NamespaceFinalizersRemaining",
                "False",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            )
        return {
            "phase": "Terminating",
            "conditions": [
                condition(
                    "NamespaceDeletionDiscoveryFailure",
                    "False",
                    "ResourcesDiscovered",
                    "All resources successfully discovered",
                ),
                condition(
                    "NamespaceDeletionGroupVersionParsingFailure",
                    "False",
                    "ParsedGroupVersions",
                    "All legacy kube types successfully parsed",
                ),
                condition(
                    "NamespaceDeletionContentFailure",
                    "False",
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization",
                ),
                remaining,
                held,
            ],
        }
