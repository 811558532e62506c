"""VolumeBinding: PersistentVolumeClaims decide where a pod may run.

A claim bound to a volume pins the pod to nodes the volume's node affinity allows. An
unbound claim whose StorageClass uses `WaitForFirstConsumer` is bound while scheduling:
to a matching Available volume reachable from the node, or (with a provisioner) to a
volume provisioned for the chosen node. An unbound claim with `Immediate` binding must
be bound by the volume controller before the pod can be scheduled at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.actions import Action, PatchObject
from app.sim.scheduler.events import (
    CLAIM_CHANGE,
    NODE_ADD,
    NODE_LABEL_CHANGE,
    STORAGE_CLASS_CHANGE,
    VOLUME_CHANGE,
)
from app.sim.scheduler.framework import SKIP, CycleState, StateKey, Status, unresolvable
from app.sim.scheduler.plugins.helpers import node_selector_matches
from app.sim.scheduler.podinfo import PodInfo, safe_selector
from app.sim.scheduler.snapshot import NodeInfo, Snapshot, storage_request

NAME = "VolumeBinding"
# volumebinding/binder.go and volume_binding.go reasons (1.33+ wording for the node
# affinity conflict, formerly "node(s) had volume node affinity conflict").
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) didn't match PersistentVolume's node affinity"
ERR_REASON_PV_NOT_EXIST = (
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
)
ERR_UNBOUND_IMMEDIATE_PVC = "pod has unbound immediate PersistentVolumeClaims"
# Annotation the scheduler sets on a claim for dynamic provisioning on the chosen node
# (volume.kubernetes.io/selected-node, pkg/controller/volume/persistentvolume/util).
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


class _Claims:
    __slots__ = ("bound", "chosen", "delayed")

    def __init__(self) -> None:
        self.bound: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]] = []
        self.delayed: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]] = []
        # node name -> [(claim, volume or None for dynamic provisioning)]
        self.chosen: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]] = {}


_STATE: StateKey[_Claims] = StateKey("PreFilterVolumeBinding")
_STATE_SNAPSHOT: StateKey[Snapshot] = StateKey("PreFilterVolumeBindingSnapshot")


def _claim_names(pod: PodInfo) -> list[str]:
    names = []
    for volume in (pod.pod.get("spec") or {}).get("volumes") or ():
        if volume.get("persistentVolumeClaim"):
            names.append(volume["persistentVolumeClaim"].get("claimName") or "")
        elif volume.get("ephemeral"):
            # Generic ephemeral volumes get a claim named <pod>-<volume>.
            names.append(f"{pod.name}-{volume.get('name')}")
    return names


def _volume_fits_node(volume: Mapping[str, Any], node: NodeInfo) -> bool:
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    return required is None or node_selector_matches(required, node)


def _class_name(claim: Mapping[str, Any]) -> str:
    return (claim.get("spec") or {}).get("storageClassName") or ""


def _volume_matches_claim(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
    spec = volume.get("spec") or {}
    claim_spec = claim.get("spec") or {}
    # A new volume is Pending until the volume controller first marks it Available.
    phase = (volume.get("status") or {}).get("phase")
    if spec.get("claimRef") or phase not in (None, "Pending", "Available"):
        return False
    if (volume.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (spec.get("storageClassName") or "") != _class_name(claim):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (claim_spec.get("volumeMode") or "Filesystem"):
        return False
    if not set(claim_spec.get("accessModes") or ()) <= set(spec.get("accessModes") or ()):
        return False
    capacity = storage_request({"spec": {"resources": {"requests": spec.get("capacity") or {}}}})
    if capacity < storage_request(claim):
        return False
    selector = claim_spec.get("selector")
    if selector is not None:
        labels = (volume.get("metadata") or {}).get("labels") or {}
        if not safe_selector(selector).matches(labels):
            return False
    return True


def _topology_allows(storage_class: Mapping[str, Any], node: NodeInfo) -> bool:
    allowed = storage_class.get("allowedTopologies") or ()
    if not allowed:
        return True
    for term in allowed:
        exprs = term.get("matchLabelExpressions") or ()
        if all(node.labels.get(e.get("key")) in (e.get("values") or ()) for e in exprs):
            return True
    return False


class VolumeBinding:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        names = _claim_names(pod)
        if not names:
            return SKIP
        data = _Claims()
        has_immediate_unbound = False
        for name in names:
            claim = snapshot.claims.get((pod.namespace, name))
            if claim is None:
                return unresolvable(NAME, f'persistentvolumeclaim "{name}" not found')
            if (claim.get("metadata") or {}).get("deletionTimestamp"):
                return unresolvable(NAME, f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if volume_name:
                data.bound.append((claim, snapshot.volumes.get(volume_name)))
                continue
            storage_class = snapshot.storage_classes.get(_class_name(claim))
            if storage_class is not None and (
                storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"
            ):
                data.delayed.append((claim, storage_class))
            else:
                has_immediate_unbound = True
        if has_immediate_unbound:
            return unresolvable(NAME, ERR_UNBOUND_IMMEDIATE_PVC)
        state.write(_STATE, data)
        state.write(_STATE_SNAPSHOT, snapshot)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        data = state.read(_STATE)
        for _claim, volume in data.bound:
            if volume is None:
                return unresolvable(NAME, ERR_REASON_PV_NOT_EXIST)
            if not _volume_fits_node(volume, node):
                return unresolvable(NAME, ERR_REASON_NODE_CONFLICT)
        if not data.delayed:
            return None
        snapshot = state.read(_STATE_SNAPSHOT)
        taken: set[str] = set()
        chosen: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]] = []
        for claim, storage_class in data.delayed:
            candidates = [
                v
                for v in snapshot.volumes.values()
                if (v.get("metadata") or {}).get("name") not in taken
                and _volume_matches_claim(v, claim)
                and _volume_fits_node(v, node)
            ]
            if candidates:
                # The smallest volume that is large enough, as the PV controller picks.
                best = min(
                    candidates,
                    key=lambda v: storage_request(
                        {
                            "spec": {
                                "resources": {
                                    "requests": (v.get("spec") or {}).get("capacity") or {}
                                }
                            }
                        }
                    ),
                )
                taken.add((best.get("metadata") or {}).get("name") or "")
                chosen.append((claim, best))
                continue
            provisioner = (storage_class or {}).get("provisioner") or NO_PROVISIONER
            if provisioner != NO_PROVISIONER and _topology_allows(storage_class or {}, node):
                chosen.append((claim, None))
                continue
            return unresolvable(NAME, ERR_REASON_BIND_CONFLICT)
        data.chosen[node.name] = chosen
        return None

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> list[Action]:
        """Bind chosen volumes (claimRef) or ask for provisioning on the node."""
        data = state.get(_STATE)
        if data is None:
            return []
        actions: list[Action] = []
        for claim, volume in data.chosen.get(node_name, ()):
            meta = claim.get("metadata") or {}
            if volume is None:
                actions.append(
                    PatchObject(
                        "v1",
                        "PersistentVolumeClaim",
                        meta.get("namespace") or pod.namespace,
                        meta.get("name") or "",
                        {"metadata": {"annotations": {SELECTED_NODE_ANNOTATION: node_name}}},
                    )
                )
            else:
                claim_ref = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta.get("namespace") or pod.namespace,
                    "name": meta.get("name") or "",
                    "uid": meta.get("uid") or "",
                }
                actions.append(
                    PatchObject(
                        "v1",
                        "PersistentVolume",
                        "",
                        (volume.get("metadata") or {}).get("name") or "",
                        {
                            "metadata": {
                                "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}
                            },
                            "spec": {"claimRef": claim_ref},
                        },
                    )
                )
        return actions

    def events_to_register(self) -> frozenset[str]:
        return frozenset(
            {NODE_ADD, NODE_LABEL_CHANGE, CLAIM_CHANGE, VOLUME_CHANGE, STORAGE_CLASS_CHANGE}
        )


def new(args: Mapping[str, Any]) -> VolumeBinding:
    return VolumeBinding()
