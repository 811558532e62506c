"""The PersistentVolume controller (binder) with the cluster's dynamic provisioner.

* A Pending claim binds to the smallest Available volume with the same
  storageClassName (`""` matches only volumes without a class), every requested
  access mode, enough capacity, the same volumeMode and matching labels; a claim
  naming `volumeName` binds that volume only, and a volume whose `claimRef` names a
  claim is kept for it.
* A claim without `storageClassName` gets the default class when one exists, also
  after creation (retroactive default class assignment, 1.28+).
* With `volumeBindingMode: WaitForFirstConsumer` nothing happens until a pod using
  the claim is scheduled (its `spec.nodeName`, or the scheduler's
  `volume.kubernetes.io/selected-node` annotation on the claim); the volume must then
  be reachable from that node (its nodeAffinity). Meanwhile the claim's event says
  whether a consumer exists (WaitForFirstConsumer, or WaitForPodScheduled naming the
  unscheduled pods).
* When no volume matches, the events say why as upstream's pv_controller.go does
  (FailedBinding without a class, ProvisioningFailed for a missing class or an in-tree
  plugin name, ExternalProvisioning otherwise); the class's provisioner
  `rancher.io/local-path` then provisions (local_path.py).
* Volumes are Available, Bound, or Released once their claim is gone (deleted with
  reclaimPolicy Delete); a Bound claim whose volume vanished is Lost.
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers import local_path
from app.sim.controllers.base import (
    ControllerContext,
    Obj,
    deleting,
    fresh,
    labels_of,
    name_of,
    namespace_of,
    uid_of,
)
from app.sim.machinery.errors import ApiError
from app.sim.machinery.matching import requirement_matches
from app.sim.machinery.quantity import QuantityError, parse_quantity
from app.sim.machinery.selectors import selector_from_object

COMPONENT = "persistentvolume-controller"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"


def _size(value: Any) -> int:
    try:
        return int(parse_quantity(value or "0"))
    except (QuantityError, ValueError, TypeError):
        return 0


def claim_class(pvc: Obj, default_class: str | None) -> str:
    spec = pvc.get("spec") or {}
    if "storageClassName" in spec and spec["storageClassName"] is not None:
        return str(spec["storageClassName"])
    return default_class or ""


def volume_fits_node(pv: Obj, node: Obj | None) -> bool:
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    if node is None:
        return False
    labels = labels_of(node)
    for term in required.get("nodeSelectorTerms") or []:
        expressions = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if (
            (expressions or fields)
            and all(requirement_matches(e, labels.get(e.get("key", ""))) for e in expressions)
            and all(requirement_matches(e, name_of(node)) for e in fields)
        ):
            return True
    return False


def volume_matches(pv: Obj, pvc: Obj, class_name: str, node: Obj | None, wffc: bool) -> bool:
    pv_spec = pv.get("spec") or {}
    pvc_spec = pvc.get("spec") or {}
    claim_ref = pv_spec.get("claimRef")
    if claim_ref and not (
        claim_ref.get("name") == name_of(pvc)
        and claim_ref.get("namespace") == namespace_of(pvc)
        and claim_ref.get("uid") in (None, "", uid_of(pvc))
    ):
        return False
    if deleting(pv) or (pv.get("status") or {}).get("phase") in ("Released", "Failed"):
        return False
    if (pv_spec.get("storageClassName") or "") != class_name:
        return False
    if (pv_spec.get("volumeMode") or "Filesystem") != (pvc_spec.get("volumeMode") or "Filesystem"):
        return False
    if not set(pvc_spec.get("accessModes") or []) <= set(pv_spec.get("accessModes") or []):
        return False
    request = ((pvc_spec.get("resources") or {}).get("requests") or {}).get("storage")
    if _size((pv_spec.get("capacity") or {}).get("storage")) < _size(request):
        return False
    if pvc_spec.get("selector") is not None:
        try:
            if not selector_from_object(pvc_spec["selector"]).matches(labels_of(pv)):
                return False
        except ApiError:
            return False
    return not wffc or volume_fits_node(pv, node)


def uses_claim(pod: Obj, pvc: Obj) -> bool:
    """Whether the pod mounts the claim (by name, or as a generic ephemeral volume)."""
    return any(
        (v.get("persistentVolumeClaim") or {}).get("claimName") == name_of(pvc)
        or (v.get("ephemeral") and f"{name_of(pod)}-{v.get('name')}" == name_of(pvc))
        for v in (pod.get("spec") or {}).get("volumes") or []
    )


def waiting_for_consumer(pvc: Obj, pods: list[Obj]) -> tuple[str, str]:
    """Why a WaitForFirstConsumer claim waits, as emitEventForUnboundDelayBindingClaim
    in upstream's pv_controller.go says it: no pod uses it yet, or the pods that use it
    are not scheduled (listed by name)."""
    waiting = sorted(
        name_of(pod)
        for pod in pods
        if namespace_of(pod) == namespace_of(pvc)
        and not (pod.get("spec") or {}).get("nodeName")
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and uses_claim(pod, pvc)
    )
    if not waiting:
        return "WaitForFirstConsumer", "waiting for first consumer to be created before binding"
    if len(waiting) == 1:
        return "WaitForPodScheduled", f"waiting for pod {waiting[0]} to be scheduled"
    return "WaitForPodScheduled", f"waiting for pods {','.join(waiting)} to be scheduled"


def _volume_phase(pv: Obj, phase: str, now: str) -> None:
    """Set a volume's phase, with `lastPhaseTransitionTime` when it changes (1.31+)."""
    status = pv.setdefault("status", {})
    if status.get("phase") != phase:
        status["phase"] = phase
        status["lastPhaseTransitionTime"] = now


def newest_default(classes: dict[str, Obj]) -> str | None:
    """The default StorageClass: the newest of those annotated default (as the
    DefaultStorageClass admission plugin picks)."""
    defaults = [
        sc
        for sc in classes.values()
        if ((sc.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)
        == "true"
    ]
    if not defaults:
        return None
    newest = max(
        defaults, key=lambda sc: ((sc["metadata"].get("creationTimestamp") or ""), name_of(sc))
    )
    return name_of(newest)


class PersistentVolumeBinder:
    name = "persistentvolume-binder-controller"
    watches = frozenset(
        {
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("", "pods"),
            ("", "nodes"),
            ("storage.k8s.io", "storageclasses"),
        }
    )

    def __init__(self) -> None:
        # Claims already told why they wait (the event is not repeated every pass).
        self._told: set[tuple[str, str, str]] = set()

    def reconcile(self, ctx: ControllerContext) -> None:
        classes = {name_of(sc): sc for sc in ctx.client.list("storage.k8s.io", "storageclasses")}
        default_class = newest_default(classes)
        pvs = {name_of(pv): pv for pv in ctx.client.list("", "persistentvolumes")}
        pvcs = ctx.client.list("", "persistentvolumeclaims")
        nodes = {name_of(n): n for n in ctx.client.list("", "nodes")}
        pods = ctx.client.list("", "pods") if pvcs else []
        for pvc in sorted(
            pvcs, key=lambda c: (c["metadata"].get("creationTimestamp") or "", name_of(c))
        ):
            if deleting(pvc):
                continue
            try:
                self.sync_claim(ctx, pvc, pvs, classes, default_class, nodes, pods)
            except ApiError:
                continue
        claims = {
            (namespace_of(c), name_of(c)): c for c in ctx.client.list("", "persistentvolumeclaims")
        }
        for pv in ctx.client.list("", "persistentvolumes"):
            try:
                self.sync_volume(ctx, pv, claims)
            except ApiError:
                continue

    def tell(self, ctx: ControllerContext, pvc: Obj, kind: str, reason: str, message: str) -> None:
        key = (uid_of(pvc), reason, message)
        if key in self._told:
            return
        self._told.add(key)
        ctx.events.for_component(COMPONENT).record(pvc, kind, reason, message)

    def sync_claim(
        self,
        ctx: ControllerContext,
        pvc: Obj,
        pvs: dict[str, Obj],
        classes: dict[str, Obj],
        default_class: str | None,
        nodes: dict[str, Obj],
        pods: list[Obj],
    ) -> None:
        spec = pvc.get("spec") or {}
        if spec.get("volumeName"):
            self.sync_named_claim(ctx, pvc, pvs)
            return
        reserved = next(
            (
                pv
                for pv in pvs.values()
                if ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") == uid_of(pvc)
            ),
            None,
        )
        if reserved is not None:
            # The scheduler's VolumeBinding (or an admin) already chose this volume.
            pvs[name_of(reserved)] = self.bind(ctx, reserved, pvc)
            return
        if spec.get("storageClassName") is None and default_class:
            pvc = self.assign_default_class(ctx, pvc, default_class)
        class_name = claim_class(pvc, default_class)
        storage_class = classes.get(class_name)
        wffc = (
            bool(storage_class) and storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"
        )
        node_name = ((pvc.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE)
        if wffc and not node_name:
            node_name = self.consumer_node(pvc, pods)
            if node_name is None:
                self.tell(ctx, pvc, "Normal", *waiting_for_consumer(pvc, pods))
                return
        node = nodes.get(node_name) if node_name else None
        candidates = [pv for pv in pvs.values() if volume_matches(pv, pvc, class_name, node, wffc)]
        if candidates:
            # A volume pre-bound to this claim wins (findBestMatchForClaim), then the
            # smallest that fits.
            best = min(
                candidates,
                key=lambda pv: (
                    not pv["spec"].get("claimRef"),
                    _size((pv["spec"].get("capacity") or {}).get("storage")),
                    name_of(pv),
                ),
            )
            pvs[name_of(best)] = self.bind(ctx, best, pvc)
            return
        self.provision_or_report(ctx, pvc, pvs, storage_class, class_name, node_name)

    def sync_named_claim(self, ctx: ControllerContext, pvc: Obj, pvs: dict[str, Obj]) -> None:
        """A claim that names its volume binds that one only."""
        phase = (pvc.get("status") or {}).get("phase")
        pv = pvs.get(str(pvc["spec"]["volumeName"]))
        if pv is None:
            if phase == "Bound":
                self.set_claim_phase(ctx, pvc, "Lost")
                ctx.events.for_component(COMPONENT).warning(
                    pvc,
                    "ClaimLost",
                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                )
            return
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if not ref or (ref.get("name"), ref.get("namespace")) == (
            name_of(pvc),
            namespace_of(pvc),
        ):
            self.bind(ctx, pv, pvc)
        elif phase != "Bound":
            self.tell(
                ctx, pvc, "Warning", "FailedBinding", "volume already bound to a different claim."
            )

    def assign_default_class(self, ctx: ControllerContext, pvc: Obj, default_class: str) -> Obj:
        """Retroactive default StorageClass assignment (GA in 1.28): an unbound claim
        created before any default class existed gets it now."""
        updated = fresh(pvc)
        updated["spec"]["storageClassName"] = default_class
        return ctx.client.update("", "persistentvolumeclaims", updated)

    def consumer_node(self, pvc: Obj, pods: list[Obj]) -> str | None:
        for pod in pods:
            if namespace_of(pod) != namespace_of(pvc) or deleting(pod):
                continue
            spec = pod.get("spec") or {}
            if uses_claim(pod, pvc) and spec.get("nodeName"):
                return str(spec["nodeName"])
        return None

    def provision_or_report(
        self,
        ctx: ControllerContext,
        pvc: Obj,
        pvs: dict[str, Obj],
        storage_class: Obj | None,
        class_name: str,
        node_name: str | None,
    ) -> None:
        """No volume fits: provision one, or say why the claim stays Pending
        (pv_controller.go provisionClaimOperation and findProvisionablePlugin)."""
        if not class_name:
            self.tell(ctx, pvc, "Normal", "FailedBinding", NO_CLASS_MESSAGE)
            return
        if storage_class is None:
            message = f'storageclass.storage.k8s.io "{class_name}" not found'
            self.tell(ctx, pvc, "Warning", "ProvisioningFailed", message)
            return
        provisioner = str(storage_class.get("provisioner") or "")
        if provisioner.startswith("kubernetes.io/"):
            # An in-tree plugin name with no plugin behind it (no-provisioner included).
            message = f"no volume plugin matched name: {provisioner}"
            self.tell(ctx, pvc, "Warning", "ProvisioningFailed", message)
            return
        self.annotate_provisioner(ctx, pvc, provisioner)
        self.tell(
            ctx,
            pvc,
            "Normal",
            "ExternalProvisioning",
            f"Waiting for a volume to be created either by the external provisioner "
            f"'{provisioner}' or manually by the system administrator. If volume creation "
            "is delayed, please verify that the provisioner is running and correctly "
            "registered.",
        )
        if provisioner != local_path.PROVISIONER:
            return  # nothing in this cluster runs that provisioner
        pv = self.provision(ctx, pvc, storage_class, class_name, node_name)
        if pv is not None:
            pvs[name_of(pv)] = self.bind(ctx, pv, pvc)

    def annotate_provisioner(self, ctx: ControllerContext, pvc: Obj, provisioner: str) -> None:
        current = ctx.client.get("", "persistentvolumeclaims", namespace_of(pvc), name_of(pvc))
        if current is None:
            return
        updated = fresh(current)
        annotations = updated["metadata"].setdefault("annotations", {})
        annotations[STORAGE_PROVISIONER] = provisioner
        annotations[BETA_STORAGE_PROVISIONER] = provisioner
        if updated != current:
            ctx.client.update("", "persistentvolumeclaims", updated)

    def provision(
        self,
        ctx: ControllerContext,
        pvc: Obj,
        storage_class: Obj,
        class_name: str,
        node_name: str | None,
    ) -> Obj | None:
        """The local-path provisioner's turn: a volume on the selected node, or its
        ProvisioningFailed event."""
        events = ctx.events.for_component(local_path.IDENTITY)
        claim_key = f"{namespace_of(pvc)}/{name_of(pvc)}"
        error = local_path.provision_error(pvc, node_name)
        key = (uid_of(pvc), "Provisioning", error or "")
        if key not in self._told:
            self._told.add(key)
            events.normal(
                pvc,
                "Provisioning",
                f'External provisioner is provisioning volume for claim "{claim_key}"',
            )
        if error is not None or not node_name:
            key = (uid_of(pvc), "ProvisioningFailed", error or "")
            if key not in self._told:
                self._told.add(key)
                events.warning(
                    pvc,
                    "ProvisioningFailed",
                    f'failed to provision volume with StorageClass "{class_name}": {error}',
                )
            return None
        pv = ctx.client.store.create(
            "",
            "persistentvolumes",
            local_path.volume_for(pvc, storage_class, class_name, node_name),
        )
        message = f"Successfully provisioned volume {name_of(pv)}"
        events.normal(pvc, "ProvisioningSucceeded", message)
        return pv

    def bind(self, ctx: ControllerContext, pv: Obj, pvc: Obj) -> Obj:
        """Point volume and claim at each other and mark both Bound (idempotent)."""
        updated_pv = fresh(pv)
        updated_pv["spec"]["claimRef"] = {
            "kind": "PersistentVolumeClaim",
            "namespace": namespace_of(pvc),
            "name": name_of(pvc),
            "uid": uid_of(pvc),
            "apiVersion": "v1",
            "resourceVersion": pvc["metadata"].get("resourceVersion", ""),
        }
        if (pv["spec"].get("claimRef") or {}).get("uid") == uid_of(pvc):
            updated_pv["spec"]["claimRef"] = pv["spec"]["claimRef"]
        if not pv["spec"].get("claimRef"):
            updated_pv["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
        _volume_phase(updated_pv, "Bound", ctx.now_str())
        if updated_pv != pv:
            pv = ctx.client.update("", "persistentvolumes", updated_pv)
        current = ctx.client.get("", "persistentvolumeclaims", namespace_of(pvc), name_of(pvc))
        if current is None:
            return pv
        updated = fresh(current)
        annotations = updated["metadata"].setdefault("annotations", {})
        if not current["spec"].get("volumeName"):
            annotations[BOUND_BY_CONTROLLER] = "yes"
        annotations[BIND_COMPLETED] = "yes"
        updated["spec"]["volumeName"] = name_of(pv)
        status = updated.setdefault("status", {})
        status["phase"] = "Bound"
        status["accessModes"] = list(pv["spec"].get("accessModes") or [])
        if not status.get("capacity"):
            # Once bound, the capacity changes only through expansion (volume_expand.py).
            status["capacity"] = dict(pv["spec"].get("capacity") or {})
        if updated != current:
            ctx.client.update("", "persistentvolumeclaims", updated)
        return pv

    def set_claim_phase(self, ctx: ControllerContext, pvc: Obj, phase: str) -> None:
        updated = fresh(pvc)
        updated.setdefault("status", {})["phase"] = phase
        if updated != pvc:
            ctx.client.update("", "persistentvolumeclaims", updated)

    def sync_volume(
        self, ctx: ControllerContext, pv: Obj, claims: dict[tuple[str, str], Obj]
    ) -> None:
        ref = (pv.get("spec") or {}).get("claimRef")
        phase = (pv.get("status") or {}).get("phase")
        if not ref or (
            not ref.get("uid") and (ref.get("namespace"), ref.get("name")) not in claims
        ):
            # Free, or reserved for a claim that does not exist yet.
            want = "Available"
        else:
            claim = claims.get((ref.get("namespace", ""), ref.get("name", "")))
            if claim is None or (ref.get("uid") and ref.get("uid") != uid_of(claim)):
                want = "Released"
            else:
                bound = (claim.get("spec") or {}).get("volumeName") == name_of(pv)
                want = "Bound" if bound else "Available"  # pre-bound, not yet claimed
        if (
            want == "Released"
            and (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete"
        ):
            # The provisioner deletes the volume once its claim is gone.
            current = fresh(pv)
            current["metadata"].pop("finalizers", None)
            if current != pv:
                ctx.client.update("", "persistentvolumes", current)
            ctx.client.delete("", "persistentvolumes", None, name_of(pv))
            return
        if want != phase:
            updated = fresh(pv)
            _volume_phase(updated, want, ctx.now_str())
            ctx.client.update("", "persistentvolumes", updated)
