"""Printers for PersistentVolumes, PersistentVolumeClaims and StorageClasses."""

from __future__ import annotations

from datetime import datetime

from app.sim.apiserver.printers.format import (
    AGE_COL,
    NAME_COL,
    Obj,
    Row,
    _age,
    _meta,
    _name,
    _spec,
    _status,
    col,
)

# Access mode abbreviations kubectl prints (helper.GetAccessModesAsString).
ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _access_modes(modes: list[str] | None) -> str:
    seen = []
    for mode in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"):
        if mode in (modes or []):
            seen.append(ACCESS_MODES[mode])
    return ",".join(seen)


def _pv_row(obj: Obj, now: datetime) -> Row:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    storage_class = spec.get("storageClassName") or (meta.get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", ""
    )
    cells = [
        _name(obj),
        (spec.get("capacity") or {}).get("storage", "0"),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim_text,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]
    return cells, None


PV_COLUMNS = [
    NAME_COL,
    col(
        "Capacity",
        description="capacity is the description of the persistent volume's "
        "resources and capacity.",
    ),
    col("Access Modes", description="accessModes contains all ways the volume can be mounted."),
    col(
        "Reclaim Policy",
        description="persistentVolumeReclaimPolicy defines what happens to "
        "a persistent volume when released from its claim.",
    ),
    col(
        "Status",
        description="phase indicates if a volume is available, bound to a claim, "
        "or released by a claim.",
    ),
    col(
        "Claim",
        description="claimRef is part of a bi-directional binding between "
        "PersistentVolume and PersistentVolumeClaim.",
    ),
    col(
        "StorageClass",
        description="storageClassName is the name of StorageClass to which "
        "this persistent volume belongs.",
    ),
    col(
        "VolumeAttributesClass",
        description="Name of VolumeAttributesClass to which this persistent volume belongs.",
    ),
    col("Reason", description="reason is a brief CamelCase string that describes any failure."),
    AGE_COL,
    col(
        "VolumeMode",
        description="volumeMode defines if a volume is intended to be used "
        "with a formatted filesystem or to remain in raw block state.",
        priority=1,
    ),
]


def _pvc_row(obj: Obj, now: datetime) -> Row:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    capacity = access = ""
    if spec.get("volumeName"):
        access = _access_modes(status.get("accessModes"))
        capacity = (status.get("capacity") or {}).get("storage", "")
    storage_class = spec.get("storageClassName") or (meta.get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", ""
    )
    cells = [
        _name(obj),
        phase,
        spec.get("volumeName", ""),
        capacity,
        access,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]
    return cells, None


PVC_COLUMNS = [
    NAME_COL,
    col("Status", description="phase represents the current phase of PersistentVolumeClaim."),
    col(
        "Volume",
        description="volumeName is the binding reference to the PersistentVolume "
        "backing this claim.",
    ),
    col(
        "Capacity", description="capacity represents the actual resources of the underlying volume."
    ),
    col(
        "Access Modes",
        description="accessModes contains the desired access modes the volume should have.",
    ),
    col(
        "StorageClass",
        description="storageClassName is the name of the StorageClass required by the claim.",
    ),
    col(
        "VolumeAttributesClass",
        description="volumeAttributesClassName may be used to set "
        "the VolumeAttributesClass used by this claim.",
    ),
    AGE_COL,
    col(
        "VolumeMode",
        description="volumeMode defines what type of volume is required by the claim.",
        priority=1,
    ),
]

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storageclass_row(obj: Obj, now: datetime) -> Row:
    annotations = _meta(obj).get("annotations") or {}
    name = _name(obj)
    if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    cells = [
        name,
        obj.get("provisioner", ""),
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        bool(obj.get("allowVolumeExpansion")),
        _age(obj, now),
    ]
    return cells, None


STORAGECLASS_COLUMNS = [
    NAME_COL,
    col("Provisioner", description="provisioner indicates the type of the provisioner."),
    col(
        "ReclaimPolicy",
        description="reclaimPolicy controls the reclaimPolicy for "
        "dynamically provisioned PersistentVolumes of this storage class.",
    ),
    col(
        "VolumeBindingMode",
        description="volumeBindingMode indicates how "
        "PersistentVolumeClaims should be provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        "boolean",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE_COL,
]
