"""The cluster's dynamic provisioner: Rancher's local-path provisioner, as CKA practice
clusters run it behind their default StorageClass `local-path`.

It provisions a directory on the node the scheduler picked for the claim's first
consumer: a `hostPath` volume `pvc-<claim uid>` under `/opt/local-path-provisioner`
pinned to that node by `nodeAffinity` (kubernetes.io/hostname). Its refusals are
worded as upstream's (github.com/rancher/local-path-provisioner, provisioner.go):
no selected node (a class with `Immediate` binding), access modes other than
ReadWriteOnce/ReadWriteOncePod, a claim selector, block volumes.

Deviation, on purpose: upstream local-path cannot expand volumes; here a class with
`allowVolumeExpansion: true` expands them (CKA expansion tasks assume a driver that
can), see `volume_expand.py`.
"""

from __future__ import annotations

from typing import Any

from app.sim.controllers.base import Obj, name_of, namespace_of, uid_of

PROVISIONER = "rancher.io/local-path"
# The provisioner's identity as its events show it (`<driver>_<pod>_<uuid>`).
IDENTITY = (
    "rancher.io/local-path_local-path-provisioner-7599fd788b-x2mk9_"
    "5e0d7bb1-3c5e-4f0e-9d4c-4c1c2f2ad1b3"
)
ROOT = "/opt/local-path-provisioner"
SELECTED_NODE_ANNOTATION = "local.path.provisioner/selected-node"
SUPPORTED_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})


def provision_error(pvc: Obj, node_name: str | None) -> str | None:
    """Why local-path refuses the claim (its error text), or None."""
    spec = pvc.get("spec") or {}
    if spec.get("selector") is not None:
        return "claim.Spec.Selector is not supported"
    if spec.get("volumeMode") == "Block":
        return f"{PROVISIONER} does not support block volume provisioning"
    if not set(spec.get("accessModes") or []) <= SUPPORTED_MODES:
        return "NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes"
    if not node_name:
        return "configuration error, no node was specified"
    return None


def volume_path(pvc: Obj) -> str:
    return f"{ROOT}/pvc-{uid_of(pvc)}_{namespace_of(pvc)}_{name_of(pvc)}"


def volume_for(pvc: Obj, storage_class: Obj, class_name: str, node_name: str) -> Obj:
    """The PersistentVolume local-path creates for `pvc` on `node_name`."""
    pvc_spec = pvc.get("spec") or {}
    request = ((pvc_spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    spec: dict[str, Any] = {
        "capacity": {"storage": request},
        "accessModes": list(pvc_spec.get("accessModes") or ["ReadWriteOnce"]),
        "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
        "storageClassName": class_name,
        "volumeMode": "Filesystem",
        "hostPath": {"path": volume_path(pvc), "type": "DirectoryOrCreate"},
        # Created pre-bound to its claim, as external provisioners do.
        "claimRef": {
            "kind": "PersistentVolumeClaim",
            "namespace": namespace_of(pvc),
            "name": name_of(pvc),
            "uid": uid_of(pvc),
            "apiVersion": "v1",
            "resourceVersion": (pvc.get("metadata") or {}).get("resourceVersion", ""),
        },
        "nodeAffinity": {
            "required": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/hostname",
                                "operator": "In",
                                "values": [node_name],
                            }
                        ]
                    }
                ]
            }
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{uid_of(pvc)}",
            "annotations": {
                "pv.kubernetes.io/provisioned-by": PROVISIONER,
                SELECTED_NODE_ANNOTATION: node_name,
            },
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": spec,
        "status": {"phase": "Pending"},
    }
