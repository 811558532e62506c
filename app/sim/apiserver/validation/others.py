"""The other built-in kinds: Ingress, PersistentVolumes and claims, quotas, limit
ranges, priority classes, CRDs.
"""

from __future__ import annotations

from app.sim.apiserver.validation.names import (
    HIGHEST_USER_PRIORITY,
    forbidden_field,
    immutable,
    invalid_value,
    not_supported,
    required,
)
from app.sim.apiserver.validation.quantities import _resource_list, parse_quantity
from app.sim.machinery.errors import FieldCause

# ---------------------------------------------------------------------------- others


def _priority_class(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    value = obj.get("value")
    if value is None:
        causes.append(required("value"))
    system = name in ("system-node-critical", "system-cluster-critical")
    if name.startswith("system-") and not system:
        causes.append(
            invalid_value(
                "metadata.name", name, "priority class names with 'system-' prefix are reserved"
            )
        )
    if isinstance(value, int) and value > HIGHEST_USER_PRIORITY and not system:
        causes.append(
            forbidden_field(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        causes.append(not_supported("preemptionPolicy", policy, ["Never", "PreemptLowerPriority"]))
    if old is not None:
        if old.get("value") != value:
            causes.append(forbidden_field("value", "may not be changed in an update."))
        if old.get("preemptionPolicy") != obj.get("preemptionPolicy"):
            causes.append(immutable("preemptionPolicy", policy))


def _limit_range(causes: list[FieldCause], obj: dict) -> None:
    for i, item in enumerate(((obj.get("spec") or {}).get("limits")) or []):
        if not isinstance(item, dict):
            continue
        path = f"spec.limits[{i}]"
        ltype = item.get("type")
        if ltype not in ("Container", "Pod", "PersistentVolumeClaim"):
            causes.append(
                not_supported(
                    f"{path}.type", ltype or "", ["Container", "Pod", "PersistentVolumeClaim"]
                )
            )
        values = {
            key: _resource_list(causes, f"{path}.{key}", item.get(key))
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
        }
        for name, amount in values["default"].items():
            if name in values["max"] and amount > values["max"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.default[{name}]",
                        str(item["default"][name]),
                        f"default value {item['default'][name]} is greater than max value "
                        f"{item['max'][name]}",
                    )
                )
        for name, amount in values["defaultRequest"].items():
            if name in values["default"] and amount > values["default"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.defaultRequest[{name}]",
                        str(item["defaultRequest"][name]),
                        f"default request value {item['defaultRequest'][name]} is greater than "
                        f"default limit value {item['default'][name]}",
                    )
                )
            if name in values["min"] and amount < values["min"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.defaultRequest[{name}]",
                        str(item["defaultRequest"][name]),
                        f"min value {item['min'][name]} is greater than default request value "
                        f"{item['defaultRequest'][name]}",
                    )
                )
        for name, amount in values["min"].items():
            if name in values["max"] and amount > values["max"][name]:
                causes.append(
                    invalid_value(
                        f"{path}.min[{name}]",
                        str(item["min"][name]),
                        f"min value {item['min'][name]} is greater than max value "
                        f"{item['max'][name]}",
                    )
                )


def _pvc(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    modes = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes", "at least 1 access mode is required"))
    for i, mode in enumerate(spec.get("accessModes") or []):
        if mode not in modes:
            causes.append(not_supported(f"spec.accessModes[{i}]", mode, modes))
    requests = ((spec.get("resources") or {}).get("requests")) or {}
    if "storage" not in requests:
        causes.append(required("spec.resources[storage]"))
    else:
        _resource_list(causes, "spec.resources.requests", requests)
    if old is not None and isinstance(old.get("spec"), dict):
        _pvc_update(causes, spec, old, requests)


def _pvc_update(causes: list[FieldCause], spec: dict, old: dict, requests: dict) -> None:
    """ValidatePersistentVolumeClaimUpdate: only a Bound claim may change its storage
    request (grow it); on a claim that is not bound yet the request is part of the
    immutable spec, as upstream copies the old size into the compared spec only when
    the claim is Bound."""
    bound = (old.get("status") or {}).get("phase") == "Bound"
    if bound:
        old_storage = (((old["spec"].get("resources") or {}).get("requests")) or {}).get("storage")
        try:
            shrinks = "storage" in requests and parse_quantity(requests["storage"]) < (
                parse_quantity(old_storage)
            )
        except ValueError:
            shrinks = False
        if shrinks:
            causes.append(
                forbidden_field(
                    "spec.resources.requests.storage", "field can not be less than previous value"
                )
            )
    strip: tuple[str, ...] = ("volumeAttributesClassName", "volumeName")
    if bound:
        strip += ("resources",)
    if old["spec"].get("storageClassName") is None:
        # A claim without a class may get one later (retroactive default class).
        strip += ("storageClassName",)
    if {k: v for k, v in spec.items() if k not in strip} != {
        k: v for k, v in old["spec"].items() if k not in strip
    }:
        causes.append(
            forbidden_field(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims",
            )
        )


def _storage_class(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    """storage/validation ValidateStorageClass and ValidateStorageClassUpdate."""
    if not obj.get("provisioner"):
        causes.append(required("provisioner"))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        causes.append(not_supported("reclaimPolicy", policy, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.append(
            not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"])
        )
    if old is None:
        return
    for field in ("parameters", "provisioner", "reclaimPolicy"):
        if (obj.get(field) or None) != (old.get(field) or None):
            causes.append(forbidden_field(field, f"updates to {field} are forbidden."))
    if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
        causes.append(immutable("volumeBindingMode", obj.get("volumeBindingMode")))


def _pv(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes"))
    capacity = spec.get("capacity") or {}
    if "storage" not in capacity:
        causes.append(required("spec.capacity", "must specify storage"))
    else:
        _resource_list(causes, "spec.capacity", capacity)
    reclaim = spec.get("persistentVolumeReclaimPolicy")
    if reclaim is not None and reclaim not in ("Delete", "Recycle", "Retain"):
        causes.append(
            not_supported(
                "spec.persistentVolumeReclaimPolicy", reclaim, ["Delete", "Recycle", "Retain"]
            )
        )


def _quota(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec") or {}
    if isinstance(spec, dict):
        _resource_list(causes, "spec.hard", spec.get("hard"))


def _ingress(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return
    if not spec.get("rules") and not spec.get("defaultBackend"):
        causes.append(
            invalid_value(
                "spec",
                "networking.IngressSpec{...}",
                "either `defaultBackend` or `rules` must be specified",
            )
        )
    types = ["Exact", "ImplementationSpecific", "Prefix"]
    for i, rule in enumerate(spec.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        for j, path in enumerate(((rule.get("http") or {}).get("paths")) or []):
            if not isinstance(path, dict):
                continue
            ppath = f"spec.rules[{i}].http.paths[{j}]"
            ptype = path.get("pathType")
            if ptype is None:
                causes.append(required(f"{ppath}.pathType", "pathType must be specified"))
            elif ptype not in types:
                causes.append(not_supported(f"{ppath}.pathType", ptype, types))
            elif ptype in ("Exact", "Prefix") and not str(path.get("path", "")).startswith("/"):
                causes.append(
                    invalid_value(f"{ppath}.path", path.get("path", ""), "must be an absolute path")
                )
            backend = path.get("backend")
            if not isinstance(backend, dict) or not (
                backend.get("service") or backend.get("resource")
            ):
                causes.append(
                    invalid_value(
                        f"{ppath}.backend",
                        "networking.IngressBackend{...}",
                        "one backend must be specified",
                    )
                )


def _crd(causes: list[FieldCause], obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    if not group:
        causes.append(required("spec.group"))
    elif "." not in group:
        causes.append(
            invalid_value("spec.group", group, "should be a domain with at least one dot")
        )
    if not names.get("plural"):
        causes.append(required("spec.names.plural"))
    if not names.get("kind"):
        causes.append(required("spec.names.kind"))
    name = (obj.get("metadata") or {}).get("name")
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        causes.append(
            invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        causes.append(not_supported("spec.scope", scope or "", ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            required("spec.versions", "must have exactly one version marked as storage version")
        )
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(
            invalid_value(
                "spec.versions",
                versions and "[...]",
                "must have exactly one version marked as storage version",
            )
        )
    for i, version in enumerate(versions):
        if isinstance(version, dict) and not ((version.get("schema") or {}).get("openAPIV3Schema")):
            causes.append(
                required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required")
            )
