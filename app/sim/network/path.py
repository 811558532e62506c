"""The path of one connection through the pod network, as the kernel and kube-proxy
route it, and the cluster DNS queries that travel the same path.

`connect(view, source, ip, port, protocol)` returns where the connection lands (a pod
IP and port, or a node's own address) or raises `Unreachable` with what the client
sees:

- a ClusterIP: the source node's kube-proxy must run (else the packet leaves for the
  default route and times out); a port the Service does not have times out in
  iptables mode (no rule matches) and is refused in ipvs/nftables mode; a Service
  without ready endpoints is refused (kube-proxy's REJECT rule, "has no endpoints");
  otherwise DNAT to one ready endpoint (taken in turn, like the random pick).
- a node address with a Service's nodePort: the same through that node's kube-proxy.
- a pod IP: routed straight to the pod; an address nobody has times out.

Then NetworkPolicy decides (`policy.allowed` on the post-DNAT destination, as the
CNI's enforcement sees it): a dropped connection times out. Whether something listens
on the destination port is the node's business (a refused connection there is an RST
from the pod).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from app.sim.network import policy
from app.sim.network.addons import dns_zone, is_dns_server, proxy_mode
from app.sim.network.dns import Answer, ResolvConf, ZoneResolver, resolve
from app.sim.network.view import ClusterView, Obj, key, pod_running, spec

REFUSED = "Connection refused"
TIMEOUT = "Connection timed out"
RESET = "Connection reset by peer"
_turns = itertools.count()


class Unreachable(OSError):
    """The connection fails: `reason` is REFUSED, TIMEOUT or (after connecting) RESET."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Source:
    ip: str
    node: str  # the node the packet leaves from
    pod: Obj | None = None


@dataclass(frozen=True)
class Landing:
    """Where a connection arrives: a pod's address or a node's own address."""

    ip: str
    port: int
    pod: Obj | None = None
    node: str | None = None  # set when the address is a node's (host network)
    service: Obj | None = None  # the Service it went through, if any


def _service_port(service: Obj, port: int, protocol: str, node_port: bool) -> Obj | None:
    field_name = "nodePort" if node_port else "port"
    for sp in spec(service).get("ports") or []:
        if sp.get(field_name) == port and (sp.get("protocol") or "TCP") == protocol:
            return sp
    return None


def _through_service(
    view: ClusterView,
    service: Obj,
    service_port: Obj,
    protocol: str,
    local_to: str | None = None,
) -> Landing:
    """DNAT to one ready endpoint serving the port; `local_to` keeps only the
    endpoints on that node (a `Local` traffic policy: none there drops the packet)."""
    name = str(service_port.get("name") or "")
    candidates = [e for e in view.ready_endpoints(service) if (name, protocol) in e.ports]
    if not candidates:
        raise Unreachable(REFUSED)
    if local_to is not None:
        candidates = [e for e in candidates if e.node == local_to]
        if not candidates:
            raise Unreachable(TIMEOUT)
    chosen = candidates[next(_turns) % len(candidates)]
    pod = view.pod(chosen.namespace, chosen.pod) if chosen.pod else None
    port = chosen.ports[(name, protocol)]
    node = view.node_by_ip(chosen.ip)
    if node is not None:
        return Landing(chosen.ip, port, None, node, service)
    return Landing(chosen.ip, port, pod, None, service)


def _route(view: ClusterView, source: Source, ip: str, port: int, protocol: str) -> Landing:
    local = ip == source.ip or ip.startswith("127.") or ip == "::1"
    if local and source.pod is not None and not spec(source.pod).get("hostNetwork"):
        return Landing(source.ip, port, source.pod)
    service = view.service_by_ip(ip)
    if service is not None:
        return _to_cluster_ip(view, source, service, port, protocol)
    node = source.node if local else view.node_by_ip(ip)
    if node is not None:
        return _to_node(view, node, ip, port, protocol)
    pod = view.pod_by_ip(ip)
    if pod is None:
        raise Unreachable(TIMEOUT)
    return Landing(ip, port, pod)


def _to_cluster_ip(
    view: ClusterView, source: Source, service: Obj, port: int, protocol: str
) -> Landing:
    mode = proxy_mode(view, source.node)
    if mode is None:
        raise Unreachable(TIMEOUT)
    sp = _service_port(service, port, protocol, node_port=False)
    if sp is None:
        raise Unreachable(TIMEOUT if mode == "iptables" else REFUSED)
    local = spec(service).get("internalTrafficPolicy") == "Local"
    return _through_service(view, service, sp, protocol, source.node if local else None)


def _to_node(view: ClusterView, node: str, ip: str, port: int, protocol: str) -> Landing:
    """A node's own address: a nodePort while its kube-proxy runs (only the node's own
    endpoints with externalTrafficPolicy Local), a pod's hostPort (the CNI's portmap),
    else whatever listens on the node (nothing: the node's kernel refuses)."""
    if proxy_mode(view, node) is not None:
        for svc in view.services:
            sp = _service_port(svc, port, protocol, node_port=True)
            if sp is not None and spec(svc).get("type") in ("NodePort", "LoadBalancer"):
                local = spec(svc).get("externalTrafficPolicy") == "Local"
                return _through_service(view, svc, sp, protocol, node if local else None)
    for pod in view.pods_on(node):
        for container in spec(pod).get("containers") or []:
            for cp in container.get("ports") or []:
                if cp.get("hostPort") == port and (cp.get("protocol") or "TCP") == protocol:
                    pod_ip = str((pod.get("status") or {}).get("podIP") or "")
                    if not spec(pod).get("hostNetwork") and pod_ip:
                        return Landing(pod_ip, int(cp.get("containerPort") or port), pod)
    return Landing(ip, port, None, node)


def connect(
    view: ClusterView, source: Source, ip: str, port: int, protocol: str = "TCP"
) -> Landing:
    """Where a connection from `source` to ip:port lands; Unreachable otherwise."""
    landing = _route(view, source, ip, port, protocol)
    if landing.ip == source.ip and landing.pod is source.pod:
        return landing  # loopback never leaves the pod
    allowed = policy.allowed(
        view.store,
        policy.Peer(source.ip, source.pod),
        policy.Peer(landing.ip, landing.pod),
        landing.port,
        protocol,
    )
    if not allowed:
        raise Unreachable(TIMEOUT)
    return landing


# ---- DNS ----------------------------------------------------------------------------


def query(
    view: ClusterView, source: Source, conf: ResolvConf, name: str, qtype: str = "A"
) -> tuple[str, Answer]:
    """(the name server that answered, its answer) for `name` over the search list;
    Unreachable(TIMEOUT) when no name server answers (busybox: "no servers could be
    reached")."""
    for server in conf.nameservers:
        try:
            landing = connect(view, source, server, 53, "UDP")
        except Unreachable:
            continue
        pod = landing.pod
        if pod is None or not is_dns_server(pod) or not pod_running(pod):
            continue
        zone = dns_zone(view.store, pod)
        if zone is None:
            return server, Answer(name, "NXDOMAIN")
        return server, resolve(ZoneResolver(view, zone), name, conf, qtype)
    raise Unreachable(TIMEOUT)


def server_name(view: ClusterView, ip: str) -> str:
    """The name a PTR lookup gives for a name server's address (for `dig`/`nslookup`)."""
    service = view.service_by_ip(ip)
    if service is None:
        return ""
    namespace, name = key(service)
    return f"{name}.{namespace}.svc.cluster.local"
