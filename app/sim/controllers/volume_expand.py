"""Volume expansion: a Bound claim whose storage request grew past its volume.

The API server already refused the edit unless the claim's StorageClass has
`allowVolumeExpansion: true` (PersistentVolumeClaimResize admission) and refuses
shrinking (validation). What follows plays three upstream parts in turn, with their
events:

1. kube-controller-manager's expand controller hands the claim to the driver's
   resizer (`ExternalExpanding`, from `volume_expand`).
2. The resizer of the class's provisioner (only `rancher.io/local-path` runs here; a
   claim of any other provisioner waits) grows the PersistentVolume's
   `spec.capacity` and marks the claim `FileSystemResizePending` (`Resizing`,
   `FileSystemResizeRequired`); `status.allocatedResources` holds the new size.
3. The kubelet of a node where a running pod mounts the claim grows the file system
   (NodeExpandVolume): `status.capacity` takes the new size and the condition goes
   (`FileSystemResizeSuccessful` on the pod and the claim). Without such a pod the
   claim stays FileSystemResizePending until one starts.
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers import local_path
from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    fresh,
    name_of,
    namespace_of,
    uid_of,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.quantity import QuantityError, parse_quantity

PENDING = "FileSystemResizePending"
PENDING_MESSAGE = (
    "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
)


def _size(value: Any) -> int:
    try:
        return int(parse_quantity(value or "0"))
    except (QuantityError, ValueError, TypeError):
        return 0


def _request(pvc: Obj) -> Any:
    return (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


def _pending(pvc: Obj) -> bool:
    return any(c.get("type") == PENDING for c in (pvc.get("status") or {}).get("conditions") or [])


class PersistentVolumeExpander:
    name = "persistentvolume-expander-controller"
    watches = frozenset(
        {
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("", "pods"),
            ("storage.k8s.io", "storageclasses"),
        }
    )

    def __init__(self) -> None:
        self._told: set[tuple[str, str, str]] = set()

    def reconcile(self, ctx: ControllerContext) -> None:
        claims = [
            c
            for c in ctx.client.list("", "persistentvolumeclaims")
            if not deleting(c) and (c.get("status") or {}).get("phase") == "Bound"
        ]
        if not claims:
            return
        classes = {name_of(sc): sc for sc in ctx.client.list("storage.k8s.io", "storageclasses")}
        pods = ctx.client.list("", "pods")
        for pvc in claims:
            pv = ctx.client.get("", "persistentvolumes", None, str(pvc["spec"].get("volumeName")))
            if pv is None:
                continue
            try:
                self.sync(ctx, pvc, pv, classes, pods)
            except ApiError:
                continue

    def sync(
        self, ctx: ControllerContext, pvc: Obj, pv: Obj, classes: dict[str, Obj], pods: list[Obj]
    ) -> None:
        request = _size(_request(pvc))
        volume_size = _size(((pv.get("spec") or {}).get("capacity") or {}).get("storage"))
        if request > volume_size:
            storage_class = classes.get(str(pvc["spec"].get("storageClassName") or ""))
            if storage_class is not None and storage_class.get("allowVolumeExpansion") is True:
                self.resize(ctx, pvc, pv, storage_class)
            return
        if _pending(pvc):
            consumer = self.running_consumer(pvc, pods)
            if consumer is not None:
                self.finish(ctx, pvc, pv, consumer)

    def tell(
        self, ctx: ControllerContext, component: str, obj: Obj, reason: str, text: str
    ) -> None:
        key = (uid_of(obj), reason, text)
        if key not in self._told:
            self._told.add(key)
            ctx.events.for_component(component).normal(obj, reason, text)

    def resize(self, ctx: ControllerContext, pvc: Obj, pv: Obj, storage_class: Obj) -> None:
        self.tell(
            ctx,
            "volume_expand",
            pvc,
            "ExternalExpanding",
            "waiting for an external controller to expand this PVC",
        )
        provisioner = str(storage_class.get("provisioner") or "")
        if provisioner != local_path.PROVISIONER:
            return  # no resizer for that driver runs in this cluster
        resizer = f"external-resizer {provisioner}"
        request = _request(pvc)
        ctx.events.for_component(resizer).normal(
            pvc, "Resizing", f"External resizer is resizing volume {name_of(pv)}"
        )
        grown = fresh(pv)
        grown["spec"].setdefault("capacity", {})["storage"] = request
        ctx.client.update("", "persistentvolumes", grown)
        updated = fresh(pvc)
        status = updated.setdefault("status", {})
        status["allocatedResources"] = {"storage": request}
        status["allocatedResourceStatuses"] = {"storage": "NodeResizePending"}
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != PENDING]
        conditions.append(
            {
                "type": PENDING,
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": ctx.now_str(),
                "message": PENDING_MESSAGE,
            }
        )
        status["conditions"] = conditions
        ctx.client.update("", "persistentvolumeclaims", updated)
        ctx.events.for_component(resizer).normal(
            pvc, "FileSystemResizeRequired", "Require file system resize of volume on node"
        )

    def running_consumer(self, pvc: Obj, pods: list[Obj]) -> Obj | None:
        for pod in pods:
            spec = pod.get("spec") or {}
            if (
                namespace_of(pod) == namespace_of(pvc)
                and spec.get("nodeName")
                and (pod.get("status") or {}).get("phase") == "Running"
                and any(
                    (v.get("persistentVolumeClaim") or {}).get("claimName") == name_of(pvc)
                    for v in spec.get("volumes") or []
                )
            ):
                return pod
        return None

    def finish(self, ctx: ControllerContext, pvc: Obj, pv: Obj, pod: Obj) -> None:
        """The kubelet's NodeExpandVolume on the consumer's node."""
        updated = fresh(pvc)
        status = updated.setdefault("status", {})
        status["capacity"] = dict((pv.get("spec") or {}).get("capacity") or {})
        status.pop("allocatedResourceStatuses", None)
        status["conditions"] = [
            c for c in status.get("conditions") or [] if c.get("type") != PENDING
        ]
        if not status["conditions"]:
            status.pop("conditions")
        ctx.client.update("", "persistentvolumeclaims", updated)
        node = str(pod["spec"]["nodeName"])
        message = f'MountVolume.NodeExpandVolume succeeded for volume "{name_of(pv)}" {node}'
        kubelet = ctx.events.for_component("kubelet", node)
        kubelet.normal(pod, "FileSystemResizeSuccessful", message)
        kubelet.normal(pvc, "FileSystemResizeSuccessful", message)
