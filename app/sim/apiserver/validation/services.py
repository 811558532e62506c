"""Services: types, ports, selectors, cluster IPs."""

from __future__ import annotations

from typing import Any

from app.sim.apiserver.validation.metadata import validate_labels
from app.sim.apiserver.validation.names import (
    dns1123_label,
    duplicate,
    forbidden_field,
    invalid_value,
    not_supported,
    required,
)
from app.sim.apiserver.validation.pods import _PROTOCOLS, _port_name, _port_number
from app.sim.machinery.errors import FieldCause

# ---------------------------------------------------------------------------- services

_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _service(causes: list[FieldCause], obj: dict, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", stype, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if stype == "ExternalName":
        if not spec.get("externalName"):
            causes.append(required("spec.externalName"))
    elif not ports and not headless:
        causes.append(required("spec.ports"))
    names: set[str] = set()
    keys: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        ppath = f"spec.ports[{i}]"
        if len(ports) > 1 and not port.get("name"):
            causes.append(required(f"{ppath}.name"))
        name = port.get("name")
        if name:
            for err in dns1123_label(str(name)):
                causes.append(invalid_value(f"{ppath}.name", name, err))
            if name in names:
                causes.append(duplicate(f"{ppath}.name", name))
            names.add(name)
        if "port" not in port:
            causes.append(required(f"{ppath}.port"))
        else:
            _port_number(causes, f"{ppath}.port", port["port"])
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            causes.append(not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
        key = (port.get("port"), protocol)
        if key in keys:
            causes.append(duplicate(ppath, port))
        keys.add(key)
        target = port.get("targetPort")
        if isinstance(target, int):
            _port_number(causes, f"{ppath}.targetPort", target)
        elif isinstance(target, str) and target:
            _port_name(causes, f"{ppath}.targetPort", target)
        node_port = port.get("nodePort")
        if node_port:
            if stype not in ("NodePort", "LoadBalancer"):
                causes.append(
                    forbidden_field(
                        f"{ppath}.nodePort", "may not be used when `type` is 'ClusterIP'"
                    )
                )
            elif isinstance(node_port, int) and not 30000 <= node_port <= 32767:
                causes.append(
                    invalid_value(
                        f"{ppath}.nodePort",
                        node_port,
                        "provided port is not in the valid range. The range of valid ports is "
                        "30000-32767",
                    )
                )
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("ClientIP", "None"):
        causes.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    selector = spec.get("selector")
    validate_labels(causes, "spec.selector", selector)
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = spec.get("clusterIP")
        if (
            old_ip
            and new_ip != old_ip
            and stype != "ExternalName"
            and (old.get("spec") or {}).get("type") != "ExternalName"
        ):
            causes.append(
                invalid_value(
                    "spec.clusterIPs[0]", [new_ip] if new_ip else [], "may not change once set"
                )
            )
