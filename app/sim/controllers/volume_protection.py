"""The pvc-protection and pv-protection controllers: a claim a pod still uses, and a
volume still bound to a claim, stay (`Terminating`) after their deletion until that
ends (pkg/controller/volume/pvcprotection and pvprotection). The finalizers come from
the StorageObjectInUseProtection admission plugin."""

from __future__ import annotations

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    fresh,
    name_of,
    namespace_of,
)
from app.sim.machinery.errors import ApiError

PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"


def _drop(ctx: ControllerContext, plural: str, obj: Obj, finalizer: str) -> None:
    updated = fresh(obj)
    updated["metadata"]["finalizers"] = [
        f for f in obj["metadata"].get("finalizers") or [] if f != finalizer
    ]
    try:
        ctx.client.update("", plural, updated)
    except ApiError:
        return


def holds_claims(pod: Obj) -> bool:
    """Whether a pod's claims are in use: the pod is scheduled and has not finished.
    Upstream's controller only counts scheduled pods (pvc_protection_controller.go,
    podUsesPVC): the kubelet sees a pod once it is bound to a node and refuses to start
    one whose claim is being deleted, so a Pending, unscheduled pod never holds it."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _claims_in_use(pods: list[Obj]) -> set[tuple[str, str]]:
    """(namespace, claim) of every claim a scheduled pod that has not finished mounts."""
    used = set()
    for pod in pods:
        if not holds_claims(pod):
            continue
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if volume.get("ephemeral"):
                claim = f"{name_of(pod)}-{volume.get('name')}"
            if claim:
                used.add((namespace_of(pod), str(claim)))
    return used


class PVCProtectionController:
    name = "persistentvolumeclaim-protection-controller"
    watches = frozenset({("", "persistentvolumeclaims"), ("", "pods")})

    def reconcile(self, ctx: ControllerContext) -> None:
        doomed = [
            c
            for c in ctx.client.list("", "persistentvolumeclaims")
            if deleting(c) and PVC_FINALIZER in (c["metadata"].get("finalizers") or [])
        ]
        if not doomed:
            return
        used = _claims_in_use(ctx.client.list("", "pods"))
        for claim in doomed:
            if (namespace_of(claim), name_of(claim)) not in used:
                _drop(ctx, "persistentvolumeclaims", claim, PVC_FINALIZER)


class PVProtectionController:
    name = "persistentvolume-protection-controller"
    watches = frozenset({("", "persistentvolumes")})

    def reconcile(self, ctx: ControllerContext) -> None:
        for volume in ctx.client.list("", "persistentvolumes"):
            if not deleting(volume) or PV_FINALIZER not in (
                volume["metadata"].get("finalizers") or []
            ):
                continue
            if (volume.get("status") or {}).get("phase") != "Bound":
                _drop(ctx, "persistentvolumes", volume, PV_FINALIZER)
