"""The ephemeral volume controller: a pod's generic ephemeral volume
(`volumes[].ephemeral.volumeClaimTemplate`) gets its claim `<pod>-<volume>`, owned by
the pod so that it goes with it (pkg/controller/volume/ephemeral). The claim is then
bound or provisioned like any other (WaitForFirstConsumer binds it when the pod is
scheduled)."""

from __future__ import annotations

import copy

from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    name_of,
    namespace_of,
    owned_by,
    owner_reference,
)
from app.sim.machinery.errors import ApiError


class EphemeralVolumeController:
    name = "ephemeral-volume-controller"
    watches = frozenset({("", "pods"), ("", "persistentvolumeclaims")})

    def reconcile(self, ctx: ControllerContext) -> None:
        for pod in ctx.client.list("", "pods"):
            if deleting(pod):
                continue
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                template = (volume.get("ephemeral") or {}).get("volumeClaimTemplate")
                if isinstance(template, dict):
                    self.ensure_claim(ctx, pod, str(volume.get("name")), template)

    def ensure_claim(self, ctx: ControllerContext, pod: Obj, volume: str, template: Obj) -> None:
        name = f"{name_of(pod)}-{volume}"
        existing = ctx.client.get("", "persistentvolumeclaims", namespace_of(pod), name)
        if existing is not None:
            if not owned_by(existing, pod):
                ctx.events.for_component("ephemeral_volume").warning(
                    pod,
                    "FailedBinding",
                    f"PVC {namespace_of(pod)}/{name} was not created for pod "
                    f"{namespace_of(pod)}/{name_of(pod)} (pod is not owner)",
                )
            return
        meta = template.get("metadata") or {}
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": namespace_of(pod),
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [owner_reference(pod, "v1", "Pod")],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        try:
            ctx.client.create("", "persistentvolumeclaims", claim)
        except ApiError as error:
            ctx.events.for_component("ephemeral_volume").warning(
                pod, "FailedCreate", f"create PVC {name} failed: {error}"
            )
