"""NetworkPolicy (ports, peers, ipBlocks, policyTypes) and the Ingress rules' hosts and
backends, as upstream's pkg/apis/networking/validation/validation.go checks them
(`ValidateNetworkPolicySpec`, `validateIngressRules`, `validateIngressBackend`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from app.sim.apiserver.validation.names import (
    dns1035_label,
    dns1123_subdomain,
    forbidden_field,
    invalid_value,
    not_supported,
    required,
)
from app.sim.apiserver.validation.pods import _port_name, _port_number
from app.sim.apiserver.validation.workloads import _label_selector
from app.sim.machinery.errors import FieldCause

_PROTOCOLS = ["TCP", "UDP", "SCTP"]
_POLICY_TYPES = ["Ingress", "Egress"]
_LEADING_ZERO = re.compile(r"(^|[.:/])0\d")


def _port(causes: list[FieldCause], path: str, port: Any) -> None:
    """ValidateNetworkPolicyPort."""
    if not isinstance(port, dict):
        return
    protocol = port.get("protocol")
    if protocol is not None and protocol not in _PROTOCOLS:
        causes.append(not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            causes.append(
                invalid_value(
                    f"{path}.endPort", end, "may not be specified when `port` is not specified"
                )
            )
    elif isinstance(number, int):
        _port_number(causes, f"{path}.port", number)
        if end is not None:
            if isinstance(end, int) and end < number:
                causes.append(
                    invalid_value(f"{path}.endPort", end, "must be greater than or equal to `port`")
                )
            _port_number(causes, f"{path}.endPort", end)
    else:
        if end is not None:
            causes.append(
                invalid_value(
                    f"{path}.endPort", end, "may not be specified when `port` is non-numeric"
                )
            )
        _port_name(causes, f"{path}.port", number)


def _cidr(
    causes: list[FieldCause], path: str, value: Any
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """IsValidCIDRForLegacyField with strict validation (StrictIPCIDRValidation)."""
    text = str(value)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        network = None
    if network is None or _LEADING_ZERO.search(text):
        if network is None:
            causes.append(
                invalid_value(
                    path, text, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
                )
            )
        else:
            causes.append(
                invalid_value(path, text, "must not have leading 0s in IP or prefix length")
            )
        return None
    if "/" not in text:
        causes.append(
            invalid_value(
                path, text, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            )
        )
        return None
    if ipaddress.ip_interface(text).ip != network.network_address:
        causes.append(invalid_value(path, text, "must not have bits set beyond the prefix length"))
    return network


def _ip_block(causes: list[FieldCause], path: str, block: dict) -> None:
    """ValidateIPBlock: a CIDR, and `except` blocks strictly inside it."""
    if not block.get("cidr"):
        causes.append(required(f"{path}.cidr"))
        return
    network = _cidr(causes, f"{path}.cidr", block["cidr"])
    if network is None:
        return
    for i, text in enumerate(block.get("except") or []):
        epath = f"{path}.except[{i}]"
        inner = _cidr(causes, epath, text)
        if inner is None:
            continue
        if (
            inner.version != network.version
            or inner.network_address not in network
            or inner.prefixlen <= network.prefixlen
        ):
            causes.append(invalid_value(epath, text, "must be a strict subset of `cidr`"))


def _peer(causes: list[FieldCause], path: str, peer: Any) -> None:
    """ValidateNetworkPolicyPeer: at least one selector or an ipBlock alone."""
    if not isinstance(peer, dict):
        return
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            _label_selector(causes, f"{path}.{key}", peer[key])
    block = peer.get("ipBlock")
    if block is not None:
        count += 1
        if isinstance(block, dict):
            _ip_block(causes, f"{path}.ipBlock", block)
    if count == 0:
        causes.append(required(path, "must specify a peer"))
    elif count > 1 and block is not None:
        causes.append(forbidden_field(path, "may not specify both ipBlock and another peer"))


def _rules(causes: list[FieldCause], spec: dict, direction: str, peers_key: str) -> None:
    for i, rule in enumerate(spec.get(direction) or []):
        if not isinstance(rule, dict):
            continue
        path = f"spec.{direction}[{i}]"
        for j, port in enumerate(rule.get("ports") or []):
            _port(causes, f"{path}.ports[{j}]", port)
        for j, peer in enumerate(rule.get(peers_key) or []):
            _peer(causes, f"{path}.{peers_key}[{j}]", peer)


def network_policy(causes: list[FieldCause], obj: dict) -> None:
    """The spec rules of a NetworkPolicy (metadata is checked by the caller)."""
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return
    _label_selector(causes, "spec.podSelector", spec.get("podSelector"))
    _rules(causes, spec, "ingress", "from")
    _rules(causes, spec, "egress", "to")
    types = spec.get("policyTypes") or []
    if len(types) > len(_POLICY_TYPES):
        causes.append(
            invalid_value("spec.policyTypes", types, "may not specify more than two policyTypes")
        )
        return
    for i, ptype in enumerate(types):
        if ptype not in _POLICY_TYPES:
            causes.append(not_supported(f"spec.policyTypes[{i}]", ptype, _POLICY_TYPES))


# ---- Ingress hosts and backends ---------------------------------------------------------

_WILDCARD = re.compile(r"^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
    "alphanumeric character (e.g. '*.example.com', regex used for validation is "
    "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _host(causes: list[FieldCause], path: str, host: str, *, rule: bool = True) -> None:
    """A rule's host (no IP address) or a TLS entry's host: a DNS subdomain or a
    `*.` wildcard of one."""
    if rule and _is_ip(host):
        causes.append(invalid_value(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        if not _WILDCARD.match(host):
            causes.append(invalid_value(path, host, _WILDCARD_MSG))
        return
    for message in dns1123_subdomain(host):
        causes.append(invalid_value(path, host, message))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _backend(causes: list[FieldCause], path: str, backend: Any) -> None:
    """validateIngressBackend for a Service backend (name and port)."""
    if not isinstance(backend, dict) or not isinstance(backend.get("service"), dict):
        return
    if backend.get("resource"):
        causes.append(invalid_value(path, "", "cannot set both resource and service backends"))
        return
    service = backend["service"]
    name = service.get("name")
    if not name:
        causes.append(required(f"{path}.service.name"))
    else:
        for message in dns1035_label(str(name)):
            causes.append(invalid_value(f"{path}.service.name", name, message))
    port = service.get("port") if isinstance(service.get("port"), dict) else {}
    port_name, number = port.get("name"), port.get("number")
    if port_name and number:
        causes.append(invalid_value(path, "", "cannot set both port name & port number"))
    elif port_name:
        _port_name(causes, f"{path}.service.port.name", port_name)
    elif number:
        _port_number(causes, f"{path}.service.port.number", number)
    else:
        causes.append(required(path, "port name or number is required"))


def ingress_rules(causes: list[FieldCause], obj: dict) -> None:
    """Hosts of the rules and TLS entries, and every Service backend."""
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return
    _backend(causes, "spec.defaultBackend", spec.get("defaultBackend"))
    for i, rule in enumerate(spec.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        if rule.get("host"):
            _host(causes, f"spec.rules[{i}].host", str(rule["host"]))
        for j, entry in enumerate(((rule.get("http") or {}).get("paths")) or []):
            if isinstance(entry, dict):
                _backend(causes, f"spec.rules[{i}].http.paths[{j}].backend", entry.get("backend"))
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate((tls or {}).get("hosts") or []):
            _host(causes, f"spec.tls[{i}].hosts[{j}]", str(host), rule=False)
