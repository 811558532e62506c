"""Object metadata: names, generateName, labels, annotations, and what an update
may not change.
"""

from __future__ import annotations

from typing import Any

from app.sim.apiserver.validation.names import (
    MAX_ANNOTATIONS_BYTES,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    forbidden_field,
    immutable,
    invalid_value,
    label_value,
    path_segment_name,
    qualified_name,
    required,
)
from app.sim.machinery.errors import FieldCause
from app.sim.machinery.resources import ResourceType

# ---------------------------------------------------------------------------- metadata

# Kinds whose names follow other rules than a DNS-1123 subdomain.
_LABEL_NAMED = {("", "Namespace")}
_DNS1035_NAMED = {("", "Service")}
_PATH_NAMED = {
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
}


def _name_errors(rt: ResourceType, name: str) -> list[str]:
    key = (rt.group, rt.kind)
    if key in _LABEL_NAMED:
        return dns1123_label(name)
    if key in _DNS1035_NAMED:
        return dns1035_label(name)
    if key in _PATH_NAMED:
        return path_segment_name(name)
    return dns1123_subdomain(name)


def validate_labels(causes: list[FieldCause], path: str, labels: Any) -> None:
    """Append causes for label keys and values that are not valid at `path`."""
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        for err in qualified_name(str(key)):
            causes.append(invalid_value(path, key, err))
        if not isinstance(value, str):
            causes.append(invalid_value(path, value, "label values must be strings"))
            continue
        for err in label_value(value):
            causes.append(invalid_value(path, value, err))


def _metadata(causes: list[FieldCause], obj: dict, rt: ResourceType) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        causes.append(required("metadata.name", "name or generateName is required"))
        return
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            causes.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        causes.append(invalid_value("metadata.name", name, "name must be a string"))
    else:
        for err in _name_errors(rt, name):
            causes.append(invalid_value("metadata.name", name, err))
    namespace = meta.get("namespace")
    if rt.namespaced and isinstance(namespace, str) and namespace:
        for err in dns1123_label(namespace):
            causes.append(invalid_value("metadata.namespace", namespace, err))
    elif not rt.namespaced and namespace:
        causes.append(forbidden_field("metadata.namespace", "not allowed on this type"))
    validate_labels(causes, "metadata.labels", meta.get("labels"))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            for err in qualified_name(str(key)):
                causes.append(invalid_value("metadata.annotations", key, err))
            total += len(str(key)) + len(str(value))
        if total > MAX_ANNOTATIONS_BYTES:
            causes.append(
                FieldCause(
                    "metadata.annotations",
                    f"Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes",
                    "FieldValueTooLong",
                )
            )
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        for err in qualified_name(str(finalizer)):
            causes.append(invalid_value(f"metadata.finalizers[{i}]", finalizer, err))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        if not isinstance(ref, dict):
            continue
        for field in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(field):
                causes.append(required(f"metadata.ownerReferences[{i}].{field}"))


def _metadata_update(causes: list[FieldCause], obj: dict, old: dict) -> None:
    meta = obj.get("metadata") or {}
    old_meta = old.get("metadata") or {}
    for field in ("name", "namespace", "uid", "creationTimestamp"):
        if old_meta.get(field) and meta.get(field) and meta.get(field) != old_meta.get(field):
            causes.append(immutable(f"metadata.{field}", meta.get(field)))
