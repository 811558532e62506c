"""NetworkPolicy: whether a connection between two peers is allowed.

The contract the connection path relies on: `allowed(store, source, destination, port,
protocol)` is True when the egress side of the source and the ingress side of the
destination both let the connection through (docs "Network Policies", networking/v1):

- a pod is *isolated* for a direction when some NetworkPolicy of its namespace selects
  it (`spec.podSelector`) and lists that direction in `policyTypes` (defaulted to
  `Ingress`, plus `Egress` when the policy has egress rules, as the API server does);
- a non-isolated side allows everything; an isolated side allows a connection when some
  rule of some policy selecting the pod allows it (policies add up, never subtract);
- a rule allows a connection when one of its peers (`from` / `to`; none: everyone)
  matches the other end AND one of its ports (none: every port) matches the port;
- a peer with only `podSelector` means pods of the policy's namespace; only
  `namespaceSelector` means every pod of the matching namespaces; both in one peer
  mean pods matching the pod selector in the matching namespaces (AND), while separate
  peers add up (OR); `ipBlock` matches the other end's IP inside `cidr` and outside
  every `except` block;
- named ports are looked up among the destination pod's container ports (with the
  rule's protocol); `endPort` makes a numeric port a range.

Choices where upstream leaves the behaviour to the network plugin (as most CNIs do):

- `ipBlock` matches pod IPs too, not only addresses outside the cluster;
- pods with `hostNetwork: true` are not isolated and are not matched by pod or
  namespace selectors: they speak with their node's IP, which only `ipBlock` matches;
- traffic between a pod and its own node is always allowed, and a pod always reaches
  itself (both stated by the upstream page).
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import LabelSelector, selector_from_object
from app.sim.machinery.watch import WatchEvent

NETWORK_POLICIES = ("networking.k8s.io", "networkpolicies")
INGRESS, EGRESS = "Ingress", "Egress"
_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Peer:
    """One end of a connection: its IP and, when the IP is a pod's, the Pod object."""

    ip: str
    pod: Mapping[str, Any] | None = None


# ---- compiled policies ----------------------------------------------------------------


@dataclass(frozen=True)
class _PeerRule:
    """One `NetworkPolicyPeer`: selectors (None when absent) or an ipBlock."""

    pods: LabelSelector | None = None
    namespaces: LabelSelector | None = None
    cidr: _IPNetwork | None = None
    excepts: tuple[_IPNetwork, ...] = ()


@dataclass(frozen=True)
class _PortRule:
    """One `NetworkPolicyPort`: protocol, and a number range, a name, or any port."""

    protocol: str = "TCP"
    first: int | None = None
    last: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class _Rule:
    """An ingress or egress rule; empty tuples mean every peer / every port."""

    peers: tuple[_PeerRule, ...] = ()
    ports: tuple[_PortRule, ...] = ()


@dataclass(frozen=True)
class _Policy:
    namespace: str
    selector: LabelSelector
    types: frozenset[str]
    ingress: tuple[_Rule, ...] = ()
    egress: tuple[_Rule, ...] = ()


_NOTHING = LabelSelector(match_nothing=True)


def _selector(raw: Any) -> LabelSelector:
    """A stored LabelSelector; one the API would have refused matches nothing."""
    if not isinstance(raw, Mapping):
        return _NOTHING
    try:
        return selector_from_object(raw)
    except ApiError:
        return _NOTHING


def _network(text: Any) -> _IPNetwork | None:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def _compile_peer(raw: Any) -> _PeerRule | None:
    if not isinstance(raw, Mapping):
        return None
    block = raw.get("ipBlock")
    if isinstance(block, Mapping):
        cidr = _network(block.get("cidr"))
        if cidr is None:
            return None
        excepts = tuple(n for n in map(_network, block.get("except") or ()) if n is not None)
        return _PeerRule(cidr=cidr, excepts=excepts)
    pods = raw.get("podSelector")
    namespaces = raw.get("namespaceSelector")
    if pods is None and namespaces is None:
        return None
    return _PeerRule(
        pods=None if pods is None else _selector(pods),
        namespaces=None if namespaces is None else _selector(namespaces),
    )


def _compile_port(raw: Any) -> _PortRule:
    if not isinstance(raw, Mapping):
        return _PortRule()
    protocol = str(raw.get("protocol") or "TCP")
    port = raw.get("port")
    if isinstance(port, str):
        # IntOrString's string form is always a port name (validation refuses "80").
        return _PortRule(protocol, name=port)
    if port is None:
        return _PortRule(protocol)
    first = int(port)
    end = raw.get("endPort")
    return _PortRule(protocol, first, int(end) if isinstance(end, int) else first)


def _compile_rule(raw: Any, peers_key: str) -> _Rule:
    if not isinstance(raw, Mapping):
        return _Rule()
    raw_peers = raw.get(peers_key) or ()
    peers = tuple(p for p in map(_compile_peer, raw_peers) if p is not None)
    if raw_peers and not peers:
        # Only unusable peers (the API refuses them): the rule matches no one.
        peers = (_PeerRule(pods=_NOTHING),)
    return _Rule(peers, tuple(map(_compile_port, raw.get("ports") or ())))


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    """`spec.policyTypes`, or its default (SetDefaults_NetworkPolicy): Ingress, plus
    Egress when the policy has egress rules."""
    types = spec.get("policyTypes")
    if types:
        return [str(t) for t in types]
    return [INGRESS, EGRESS] if spec.get("egress") else [INGRESS]


def _compile(obj: Mapping[str, Any]) -> _Policy:
    spec = obj.get("spec") or {}
    return _Policy(
        namespace=str((obj.get("metadata") or {}).get("namespace") or ""),
        selector=_selector(spec.get("podSelector") or {}),
        types=frozenset(policy_types(spec)),
        ingress=tuple(_compile_rule(r, "from") for r in spec.get("ingress") or ()),
        egress=tuple(_compile_rule(r, "to") for r in spec.get("egress") or ()),
    )


class _StoreCache:
    """Compiled policies of one store: per namespace, dropped when a NetworkPolicy is
    written; per object, kept while its uid and resourceVersion hold. A write that
    bypasses the watch hooks (a snapshot restore replaces the whole store) shows as a
    resourceVersion the hook never saw, and drops everything too."""

    def __init__(self, store: Any) -> None:
        self.compiled: dict[tuple[str, str], tuple[str, _Policy]] = {}
        self.by_namespace: dict[str, list[_Policy]] = {}
        self.seen_rv = store.resource_version
        store.after_write.append(self.written)

    def written(self, event: WatchEvent) -> None:
        self.seen_rv = event.resource_version
        if (event.group, event.plural) == NETWORK_POLICIES:
            self.by_namespace.pop(event.namespace, None)

    def fresh(self, store: Any) -> None:
        if store.resource_version != self.seen_rv:
            self.by_namespace.clear()
            self.seen_rv = store.resource_version


_CACHES: weakref.WeakKeyDictionary[Any, _StoreCache] = weakref.WeakKeyDictionary()


def _compiled(cache: _StoreCache, items: list[dict[str, Any]]) -> list[_Policy]:
    out = []
    for obj in items:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        # uid too: a snapshot restore can bring back another object at a version seen before.
        version = f"{meta.get('uid') or ''}/{meta.get('resourceVersion') or ''}"
        hit = cache.compiled.get(key)
        if hit is None or hit[0] != version:
            hit = cache.compiled[key] = (version, _compile(obj))
        out.append(hit[1])
    if len(cache.compiled) > 4 * max(len(out), 256):
        cache.compiled.clear()  # deleted policies of long-gone namespaces
    return out


def namespace_policies(store: Any, namespace: str) -> list[_Policy]:
    """The NetworkPolicies of `namespace`, compiled; read from the store only when a
    NetworkPolicy of that namespace was written since (see `_StoreCache`)."""
    with store.lock:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = _StoreCache(store)
        cache.fresh(store)
        found = cache.by_namespace.get(namespace)
        if found is None:
            items, _ = store.list(*NETWORK_POLICIES, namespace)
            found = cache.by_namespace[namespace] = _compiled(cache, items)
        return found


# ---- evaluation -----------------------------------------------------------------------


class _Lookups:
    """Namespace labels and policies, read once per decision."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._labels: dict[str, Mapping[str, str]] = {}
        self._policies: dict[str, list[_Policy]] = {}

    def policies(self, namespace: str) -> list[_Policy]:
        if namespace not in self._policies:
            self._policies[namespace] = namespace_policies(self.store, namespace)
        return self._policies[namespace]

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        if namespace not in self._labels:
            ns = self.store.get("", "namespaces", None, namespace) or {}
            labels = dict((ns.get("metadata") or {}).get("labels") or {})
            # The API server sets this label on every namespace (NamespaceDefaultLabelName).
            labels.setdefault(_NAMESPACE_NAME_LABEL, namespace)
            self._labels[namespace] = labels
        return self._labels[namespace]


def _policy_pod(peer: Peer) -> Mapping[str, Any] | None:
    """The pod NetworkPolicies apply to at this end: None for a node, an outside
    address, or a host-network pod (which speaks with its node's IP)."""
    pod = peer.pod
    if pod is None or (pod.get("spec") or {}).get("hostNetwork"):
        return None
    return pod


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return pod.get("metadata") or {}


def _in_block(rule: _PeerRule, ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    assert rule.cidr is not None
    if address.version != rule.cidr.version or address not in rule.cidr:
        return False
    return not any(address.version == e.version and address in e for e in rule.excepts)


def _peer_matches(rule: _PeerRule, policy_ns: str, remote: Peer, lookups: _Lookups) -> bool:
    if rule.cidr is not None:
        return _in_block(rule, remote.ip)
    pod = _policy_pod(remote)
    if pod is None:
        return False
    meta = _meta(pod)
    namespace = str(meta.get("namespace") or "")
    if rule.namespaces is None:
        in_scope = namespace == policy_ns
    else:
        in_scope = rule.namespaces.matches(lookups.namespace_labels(namespace))
    if not in_scope:
        return False
    return rule.pods is None or rule.pods.matches(meta.get("labels") or {})


def _named_port(pod: Mapping[str, Any] | None, name: str, protocol: str) -> set[int]:
    """The container port numbers called `name` (with `protocol`) in the pod."""
    if pod is None:
        return set()
    spec = pod.get("spec") or {}
    found = set()
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for port in container.get("ports") or []:
            if port.get("name") == name and (port.get("protocol") or "TCP") == protocol:
                found.add(int(port.get("containerPort") or 0))
    return found


def _port_matches(
    rule: _PortRule, port: int, protocol: str, destination: Mapping[str, Any] | None
) -> bool:
    if rule.protocol != protocol:
        return False
    if rule.name is not None:
        return port in _named_port(destination, rule.name, protocol)
    if rule.first is None or rule.last is None:
        return True
    return rule.first <= port <= rule.last


@dataclass(frozen=True)
class _Connection:
    source: Peer
    destination: Peer
    port: int
    protocol: str


def _rule_allows(
    rule: _Rule, policy_ns: str, remote: Peer, conn: _Connection, lookups: _Lookups
) -> bool:
    if rule.peers and not any(_peer_matches(p, policy_ns, remote, lookups) for p in rule.peers):
        return False
    return not rule.ports or any(
        _port_matches(p, conn.port, conn.protocol, conn.destination.pod) for p in rule.ports
    )


def _selecting(lookups: _Lookups, pod: Mapping[str, Any], direction: str) -> Iterable[_Policy]:
    meta = _meta(pod)
    labels = meta.get("labels") or {}
    for policy in lookups.policies(str(meta.get("namespace") or "")):
        if direction in policy.types and policy.selector.matches(labels):
            yield policy


def _side_allows(
    pod: Mapping[str, Any], direction: str, conn: _Connection, lookups: _Lookups
) -> bool:
    """Whether `pod`'s policies for `direction` let the connection through: True when
    no policy isolates it, else when one rule of one selecting policy allows it."""
    remote = conn.source if direction == INGRESS else conn.destination
    isolated = False
    for policy in _selecting(lookups, pod, direction):
        isolated = True
        rules = policy.ingress if direction == INGRESS else policy.egress
        if any(_rule_allows(r, policy.namespace, remote, conn, lookups) for r in rules):
            return True
    return not isolated


def _host_ip(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("hostIP") or "")


def _same_pod(source: Peer, destination: Peer) -> bool:
    if source.pod is None or destination.pod is None:
        return False
    a, b = _meta(source.pod), _meta(destination.pod)
    if a.get("uid") and b.get("uid"):
        return a["uid"] == b["uid"]
    return (a.get("namespace"), a.get("name")) == (b.get("namespace"), b.get("name"))


def allowed(store: Any, source: Peer, destination: Peer, port: int, protocol: str = "TCP") -> bool:
    """Whether the connection source -> destination:port/protocol may be made (see the
    module docstring for the rules). `port` is the port the destination receives on
    (a Service's target port, after translation); `protocol` TCP, UDP or SCTP."""
    if _same_pod(source, destination):
        return True
    conn = _Connection(source, destination, int(port), protocol.upper())
    lookups = _Lookups(store)
    sender = _policy_pod(source)
    if (
        sender is not None
        and destination.ip != _host_ip(sender)
        and not _side_allows(sender, EGRESS, conn, lookups)
    ):
        return False
    receiver = _policy_pod(destination)
    if receiver is not None and source.ip != _host_ip(receiver):
        return _side_allows(receiver, INGRESS, conn, lookups)
    return True
