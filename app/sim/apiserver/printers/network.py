"""Printers for Services, Endpoints, EndpointSlices, Ingresses, IngressClasses and
NetworkPolicies.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from app.sim.apiserver.printers.format import (
    AGE_COL,
    NAME_COL,
    Obj,
    Row,
    _age,
    _name,
    _spec,
    _status,
    col,
    format_labels,
    label_selector_display,
)


def _port_string(ports: list[dict[str, Any]]) -> str:
    pieces = []
    for port in ports:
        protocol = port.get("protocol") or "TCP"
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port')}/{protocol}")
    return ",".join(pieces)


def _load_balancer_ips(status: dict[str, Any]) -> list[str]:
    out = []
    for ingress in ((status.get("loadBalancer") or {}).get("ingress")) or []:
        if ingress.get("ip"):
            out.append(ingress["ip"])
        elif ingress.get("hostname"):
            out.append(ingress["hostname"])
    return out


def _service_external_ip(obj: Obj) -> str:
    spec = _spec(obj)
    kind = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _load_balancer_ips(_status(obj))
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    cells = [
        _name(obj),
        spec.get("type") or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(obj),
        _port_string(spec.get("ports") or []) or "<none>",
        _age(obj, now),
        format_labels(spec.get("selector")),
    ]
    return cells, None


SERVICE_COLUMNS = [
    NAME_COL,
    col("Type", description="type determines how the Service is exposed."),
    col("Cluster-IP", description="clusterIP is the IP address of the service."),
    col(
        "External-IP",
        description="externalIPs is a list of IP addresses for which nodes in "
        "the cluster will also accept traffic for this service.",
    ),
    col("Port(s)", description="The list of ports that are exposed by this service."),
    AGE_COL,
    col(
        "Selector",
        description="Route service traffic to pods with label keys and values "
        "matching this selector.",
        priority=1,
    ),
]


def _join_host_port(ip: str, port: Any) -> str:
    try:
        if isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address):
            return f"[{ip}]:{port}"
    except ValueError:
        pass
    return f"{ip}:{port}"


def format_endpoints(obj: Obj) -> str:
    """Endpoints column: first three `ip:port`, then `+ N more...`; `<none>` if empty."""
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for subset in subsets:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(addr.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_join_host_port(addr.get("ip", ""), port.get("port")))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _endpoints_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), format_endpoints(obj), _age(obj, now)], None


ENDPOINTS_COLUMNS = [
    NAME_COL,
    col("Endpoints", description="Endpoints of the service."),
    AGE_COL,
]


def _endpointslice_row(obj: Obj, now: datetime) -> Row:
    ports = obj.get("ports") or []
    if ports:
        port_list = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in ports]
        port_text = ",".join(port_list[:3])
        if len(port_list) > 3:
            port_text += f" + {len(port_list) - 3} more..."
    else:
        port_text = "<unset>"
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    if addresses:
        ep_text = ",".join(addresses[:3])
        if len(addresses) > 3:
            ep_text += f" + {len(addresses) - 3} more..."
    else:
        ep_text = "<unset>"
    cells = [_name(obj), obj.get("addressType", ""), port_text, ep_text, _age(obj, now)]
    return cells, None


ENDPOINTSLICE_COLUMNS = [
    NAME_COL,
    col("AddressType", description="Type of address carried by this EndpointSlice."),
    col("Ports", description="Ports of the endpoints."),
    col("Endpoints", description="Addresses of the endpoints."),
    AGE_COL,
]


def _ingress_row(obj: Obj, now: datetime) -> Row:
    spec, status = _spec(obj), _status(obj)
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    host_text = ",".join(hosts[:3]) if hosts else "*"
    if len(hosts) > 3:
        host_text += f" + {len(hosts) - 3} more..."
    address = ",".join(_load_balancer_ips(status))
    ports = "80, 443" if spec.get("tls") else "80"
    cells = [
        _name(obj),
        spec.get("ingressClassName") or "<none>",
        host_text,
        address,
        ports,
        _age(obj, now),
    ]
    return cells, None


INGRESS_COLUMNS = [
    NAME_COL,
    col("Class", description="The name of the IngressClass resource."),
    col(
        "Hosts",
        description="Hosts that incoming requests are matched against before the ingress rule",
    ),
    col("Address", description="Address is a list containing ingress points for the load-balancer"),
    col("Ports", description="Ports of TLS configurations that open"),
    AGE_COL,
]


def _ingressclass_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    params = spec.get("parameters")
    params_text = "<none>"
    if params:
        group = params.get("apiGroup")
        kind = f"{params.get('kind', '')}.{group}" if group else params.get("kind", "")
        params_text = f"{kind}/{params.get('name', '')}"
    return [_name(obj), spec.get("controller", ""), params_text, _age(obj, now)], None


INGRESSCLASS_COLUMNS = [
    NAME_COL,
    col("Controller", description="Controller that is responsible for handling this class"),
    col("Parameters", description="A reference to a resource with additional parameters"),
    AGE_COL,
]


def _networkpolicy_row(obj: Obj, now: datetime) -> Row:
    selector = label_selector_display(_spec(obj).get("podSelector"))
    return [_name(obj), selector, _age(obj, now)], None


NETWORKPOLICY_COLUMNS = [
    NAME_COL,
    col("Pod-Selector", description="Selects the pods to which this NetworkPolicy object applies."),
    AGE_COL,
]
