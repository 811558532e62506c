"""VolumeRestrictions: a ReadWriteOncePod claim is used by one pod in the whole cluster.

A pod whose claim has the ReadWriteOncePod access mode while another scheduled pod
already uses that claim fits no node (Unschedulable, so preemption may look for a
victim), worded as upstream's
pkg/scheduler/framework/plugins/volumerestrictions/volume_restrictions.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sim.scheduler.events import ASSIGNED_POD_DELETE, CLAIM_CHANGE
from app.sim.scheduler.framework import SKIP, CycleState, StateKey, Status, unschedulable
from app.sim.scheduler.podinfo import PodInfo
from app.sim.scheduler.snapshot import NodeInfo, Snapshot

NAME = "VolumeRestrictions"
ERR_REASON_RWOP_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)

_STATE: StateKey[int] = StateKey("PreFilterVolumeRestrictions")


def _claims(pod: Mapping[str, Any]) -> set[str]:
    meta = pod.get("metadata") or {}
    names = set()
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        if volume.get("persistentVolumeClaim"):
            names.add(str(volume["persistentVolumeClaim"].get("claimName") or ""))
        elif volume.get("ephemeral"):
            names.add(f"{meta.get('name')}-{volume.get('name')}")
    return names


class VolumeRestrictions:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        exclusive = set()
        for claim_name in _claims(pod.pod):
            claim = snapshot.claims.get((pod.namespace, claim_name))
            modes = ((claim or {}).get("spec") or {}).get("accessModes") or ()
            if "ReadWriteOncePod" in modes:
                exclusive.add(claim_name)
        if not exclusive:
            return SKIP
        conflicts = sum(
            1
            for _, other in snapshot.all_pods()
            if other.uid != pod.uid
            and other.namespace == pod.namespace
            and exclusive & _claims(other.pod)
        )
        state.write(_STATE, conflicts)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if state.get(_STATE):
            return unschedulable(NAME, ERR_REASON_RWOP_CONFLICT)
        return None

    def events_to_register(self) -> frozenset[str]:
        return frozenset({ASSIGNED_POD_DELETE, CLAIM_CHANGE})


def new(args: Mapping[str, Any]) -> VolumeRestrictions:
    return VolumeRestrictions()
