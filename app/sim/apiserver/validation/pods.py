"""Pods and pod specs: containers, ports, probes, volumes, resources, and what a pod
update may change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.sim.apiserver.validation.metadata import validate_labels
from app.sim.apiserver.validation.names import (
    _full,
    dns1123_label,
    dns1123_subdomain,
    duplicate,
    forbidden_field,
    go_value,
    invalid_value,
    not_supported,
    required,
)
from app.sim.apiserver.validation.quantities import _resource_list
from app.sim.machinery.errors import FieldCause

# ---------------------------------------------------------------------------- pods

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_TAINT_EFFECTS = ["NoExecute", "NoSchedule", "PreferNoSchedule"]
_IANA_SVC_NAME = r"[-a-z0-9]+"


def _port_number(causes: list[FieldCause], path: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
        causes.append(invalid_value(path, value, "must be between 1 and 65535, inclusive"))


def _port_name(causes: list[FieldCause], path: str, name: Any) -> None:
    if not isinstance(name, str):
        return
    if len(name) > 15:
        causes.append(invalid_value(path, name, "must be no more than 15 characters"))
    elif not _full(_IANA_SVC_NAME).match(name) or not re.search("[a-z]", name):
        causes.append(
            invalid_value(
                path,
                name,
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                if not _full(_IANA_SVC_NAME).match(name)
                else "must contain at least one letter (a-z)",
            )
        )


def _container(
    causes: list[FieldCause], path: str, c: Any, volumes: set[str], names: set[str]
) -> None:
    if not isinstance(c, dict):
        causes.append(invalid_value(path, c, "must be an object"))
        return
    name = c.get("name")
    if not name:
        causes.append(required(f"{path}.name"))
    elif isinstance(name, str):
        for err in dns1123_label(name):
            causes.append(invalid_value(f"{path}.name", name, err))
        if name in names:
            causes.append(duplicate(f"{path}.name", name))
        names.add(name)
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    policy = c.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", policy, _PULL_POLICIES))
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(c.get("ports") or []):
        ppath = f"{path}.ports[{i}]"
        if not isinstance(port, dict):
            continue
        if "containerPort" not in port:
            causes.append(required(f"{ppath}.containerPort"))
        else:
            _port_number(causes, f"{ppath}.containerPort", port["containerPort"])
        if "hostPort" in port and port["hostPort"] != 0:
            _port_number(causes, f"{ppath}.hostPort", port["hostPort"])
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            causes.append(not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
        if "name" in port:
            _port_name(causes, f"{ppath}.name", port["name"])
        key = (port.get("containerPort"), protocol)
        if key in seen_ports:
            causes.append(duplicate(ppath, port))
        seen_ports.add(key)
    resources = c.get("resources") or {}
    if isinstance(resources, dict):
        limits = _resource_list(causes, f"{path}.resources.limits", resources.get("limits"))
        requests = _resource_list(causes, f"{path}.resources.requests", resources.get("requests"))
        for resource, amount in requests.items():
            if resource in limits and amount > limits[resource]:
                causes.append(
                    invalid_value(
                        f"{path}.resources.requests",
                        str((resources.get("requests") or {}).get(resource)),
                        f"must be less than or equal to {resource} limit of "
                        f"{(resources.get('limits') or {}).get(resource)}",
                    )
                )
    for i, mount in enumerate(c.get("volumeMounts") or []):
        if not isinstance(mount, dict):
            continue
        mpath = f"{path}.volumeMounts[{i}]"
        if not mount.get("name"):
            causes.append(required(f"{mpath}.name"))
        elif mount["name"] not in volumes:
            causes.append(
                FieldCause(
                    f"{mpath}.name", f"Not found: {go_value(mount['name'])}", "FieldValueNotFound"
                )
            )
        if not mount.get("mountPath"):
            causes.append(required(f"{mpath}.mountPath"))
    env_names: set[str] = set()
    for i, env in enumerate(c.get("env") or []):
        if isinstance(env, dict) and not env.get("name"):
            causes.append(required(f"{path}.env[{i}].name"))
        elif isinstance(env, dict):
            env_names.add(env["name"])


def validate_pod_spec(
    causes: list[FieldCause], path: str, spec: Any, extra_volumes: set[str] | None = None
) -> None:
    """Validate a PodSpec at `path` (`spec`, `spec.template.spec`, ...). `extra_volumes`
    are names mounts may use besides the pod's volumes (a StatefulSet's
    volumeClaimTemplates, which the controller turns into volumes)."""
    if not isinstance(spec, dict):
        causes.append(required(path))
        return
    volumes: set[str] = set(extra_volumes or ())
    for i, volume in enumerate(spec.get("volumes") or []):
        if not isinstance(volume, dict):
            continue
        vname = volume.get("name")
        vpath = f"{path}.volumes[{i}]"
        if not vname:
            causes.append(required(f"{vpath}.name"))
            continue
        for err in dns1123_label(str(vname)):
            causes.append(invalid_value(f"{vpath}.name", vname, err))
        if vname in volumes:
            causes.append(duplicate(f"{vpath}.name", vname))
        volumes.add(str(vname))
    containers = spec.get("containers")
    if not containers:
        causes.append(required(f"{path}.containers"))
    names: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(key) or []):
            _container(causes, f"{path}.{key}[{i}]", container, volumes, names)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in _RESTART_POLICIES:
        causes.append(not_supported(f"{path}.restartPolicy", policy, _RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in _DNS_POLICIES:
        causes.append(not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES))
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        causes.append(
            invalid_value(
                f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"
            )
        )
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        causes.append(
            invalid_value(
                f"{path}.activeDeadlineSeconds",
                deadline,
                "must be between 1 and 2147483647, inclusive",
            )
        )
    validate_labels(causes, f"{path}.nodeSelector", spec.get("nodeSelector"))
    for i, tol in enumerate(spec.get("tolerations") or []):
        if not isinstance(tol, dict):
            continue
        tpath = f"{path}.tolerations[{i}]"
        operator = tol.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            causes.append(not_supported(f"{tpath}.operator", operator, ["Equal", "Exists"]))
        if operator == "Exists" and tol.get("value"):
            causes.append(
                invalid_value(
                    f"{tpath}.operator", operator, "value must be empty when `operator` is 'Exists'"
                )
            )
        if not tol.get("key") and operator != "Exists":
            causes.append(
                invalid_value(
                    f"{tpath}.operator",
                    operator,
                    "operator must be Exists when `key` is empty, which means "
                    '"match all values and all keys"',
                )
            )
        effect = tol.get("effect")
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(f"{tpath}.effect", effect, _TAINT_EFFECTS))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                invalid_value(
                    f"{tpath}.effect",
                    effect or "",
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
    priority_class = spec.get("priorityClassName")
    if isinstance(priority_class, str) and priority_class:
        for err in dns1123_subdomain(priority_class):
            causes.append(invalid_value(f"{path}.priorityClassName", priority_class, err))


# The message of ValidatePodUpdate for a change outside the mutable fields (1.3x).
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _pod_update(causes: list[FieldCause], spec: Any, old_spec: Any) -> None:
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    mutable = json.loads(json.dumps(spec))
    reference = json.loads(json.dumps(old_spec))
    for key in ("containers", "initContainers"):
        new_list = mutable.get(key) or []
        old_list = reference.get(key) or []
        if len(new_list) == len(old_list):
            for new_c, old_c in zip(new_list, old_list, strict=True):
                if isinstance(new_c, dict) and isinstance(old_c, dict):
                    new_c["image"] = old_c.get("image")
    for key in ("activeDeadlineSeconds", "schedulingGates"):
        mutable.pop(key, None)
        reference.pop(key, None)
    old_tolerations = reference.pop("tolerations", None) or []
    new_tolerations = mutable.pop("tolerations", None) or []
    # Only additions: every old toleration is still there.
    for tol in old_tolerations:
        if tol not in new_tolerations:
            causes.append(
                forbidden_field(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            )
            break
    old_deadline = old_spec.get("activeDeadlineSeconds")
    new_deadline = spec.get("activeDeadlineSeconds")
    if old_deadline is not None and (new_deadline is None or new_deadline > old_deadline):
        causes.append(
            invalid_value(
                "spec.activeDeadlineSeconds",
                new_deadline,
                "must be less than or equal to previous value",
            )
        )
    if mutable != reference:
        causes.append(forbidden_field("spec", POD_UPDATE_FORBIDDEN))
