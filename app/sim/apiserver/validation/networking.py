"""NetworkPolicy: ports, peers, ipBlocks and policyTypes, as upstream's
`ValidateNetworkPolicySpec` (pkg/apis/networking/validation/validation.go) checks them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from app.sim.apiserver.validation.names import (
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
