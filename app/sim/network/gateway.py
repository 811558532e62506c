"""Gateway API (gateway.networking.k8s.io/v1): which HTTPRoutes attach to which
Gateway listeners, and which backend a request goes to.

Attachment (the spec's rules, as a conformant implementation applies them): an
HTTPRoute's `parentRefs` entry names a Gateway (namespace defaults to the route's),
optionally a listener (`sectionName`) and `port`; a listener accepts the route when its
protocol is HTTP or HTTPS, its `allowedRoutes.namespaces.from` admits the route's
namespace (`Same`, the default; `All`; `Selector` over the namespace's labels), its
`allowedRoutes.kinds` (if any) include HTTPRoute, and its `hostname` intersects the
route's `hostnames`. The reasons a route is not accepted are the spec's
(`NoMatchingParent`, `NotAllowedByListeners`, `NoMatchingListenerHostname`).

Matching a request: listeners whose hostname matches the Host; among their attached
routes' rules, precedence goes to the route with the longest matching non-wildcard
hostname, then the longest matching hostname; then to the match with an `Exact` path,
then the longest `PathPrefix` (element-wise), then a method, then most header
matches, then most query-parameter matches; then the oldest route, then
`namespace/name` order, then rule order. A rule without `matches` matches every path
(`PathPrefix /`). A match's `method` must equal the request's; each of its `headers`
must be present (names case-insensitive) with the value equal (`Exact`, the default)
or matching the regular expression (`RegularExpression`: the spec leaves the dialect
to the implementation; a full match of Python's `re` here); `queryParams` the same
(names case-sensitive). Clients send their method and headers (`curl -H`, `-X`, `-I`
for HEAD, `-d` for POST). Backends are picked by weight
(`weight: 0` never; weights spread requests in turn). A `backendRef` into another
namespace needs a ReferenceGrant there (gateway.networking.k8s.io/v1beta1).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import selector_from_object
from app.sim.network.ingress import (
    Backend,
    Controller,
    host_matches,
    normalize_host,
    prefix_matches,
)

Obj = Mapping[str, Any]
GROUP = "gateway.networking.k8s.io"
GATEWAY_CLASSES = (GROUP, "gatewayclasses")
GATEWAYS = (GROUP, "gateways")
HTTPROUTES = (GROUP, "httproutes")
REFERENCE_GRANTS = (GROUP, "referencegrants")
ROUTE_PROTOCOLS = ("HTTP", "HTTPS")


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _ns(obj: Obj) -> str:
    return str(_meta(obj).get("namespace") or "")


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name") or "")


def _list(
    store: Any, resource: tuple[str, str], namespace: str | None = None
) -> list[dict[str, Any]]:
    try:
        items, _ = store.list(*resource, namespace)
    except ApiError:
        return []
    return list(items)


# ---- classes and gateways -------------------------------------------------------------


def served_classes(store: Any, controller: Controller) -> list[dict[str, Any]]:
    """The GatewayClasses this controller implements: the one its `--gatewayclass`
    names, when its `controllerName` is the controller's."""
    return [
        c
        for c in _list(store, GATEWAY_CLASSES)
        if _name(c) == controller.class_name
        and _spec(c).get("controllerName") == controller.class_controller
    ]


def served_gateways(store: Any, controller: Controller) -> list[dict[str, Any]]:
    names = {_name(c) for c in served_classes(store, controller)}
    return [
        g
        for g in _list(store, GATEWAYS)
        if _spec(g).get("gatewayClassName") in names and not _meta(g).get("deletionTimestamp")
    ]


# ---- attachment -----------------------------------------------------------------------


def _namespace_labels(store: Any, namespace: str) -> Mapping[str, str]:
    ns = store.get("", "namespaces", None, namespace) or {}
    labels = dict(_meta(ns).get("labels") or {})
    labels.setdefault("kubernetes.io/metadata.name", namespace)
    return labels


def _admits_namespace(store: Any, gateway: Obj, listener: Obj, namespace: str) -> bool:
    allowed = ((listener.get("allowedRoutes") or {}).get("namespaces")) or {}
    origin = allowed.get("from") or "Same"
    if origin == "All":
        return True
    if origin == "Selector":
        try:
            selector = selector_from_object(allowed.get("selector") or {})
        except ApiError:
            return False
        return selector.matches(_namespace_labels(store, namespace))
    return namespace == _ns(gateway)


def _admits_kind(listener: Obj) -> bool:
    if str(listener.get("protocol") or "") not in ROUTE_PROTOCOLS:
        return False
    kinds = (listener.get("allowedRoutes") or {}).get("kinds")
    if not kinds:
        return True
    return any(k.get("kind") == "HTTPRoute" and (k.get("group") or GROUP) == GROUP for k in kinds)


def hostnames_intersect(listener_host: str, route_hosts: list[str]) -> bool:
    """Whether a route with `route_hosts` (none: any) can serve on the listener."""
    if not listener_host or not route_hosts:
        return True
    for host in route_hosts:
        if host_matches(listener_host, host) or host_matches(host, listener_host):
            return True
        if host.startswith("*.") and listener_host.startswith("*."):
            a, b = host[1:], listener_host[1:]
            if a.endswith(b) or b.endswith(a):
                return True
    return False


def refers_to(ref: Obj, route: Obj, gateway: Obj) -> bool:
    """Whether a parentRef names this Gateway."""
    if (ref.get("group") or GROUP) != GROUP or (ref.get("kind") or "Gateway") != "Gateway":
        return False
    return str(ref.get("name") or "") == _name(gateway) and (
        str(ref.get("namespace") or _ns(route)) == _ns(gateway)
    )


@dataclass(frozen=True)
class Attachment:
    """How one parentRef of a route fares: the listeners that accepted it, or why none."""

    listeners: tuple[str, ...]
    reason: str  # Accepted, NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname


def attach(store: Any, route: Obj, ref: Obj, gateway: Obj) -> Attachment:
    """The spec's attachment of a route (through `ref`) to the Gateway's listeners."""
    section, port = ref.get("sectionName"), ref.get("port")
    candidates = [
        listener
        for listener in _spec(gateway).get("listeners") or []
        if (not section or listener.get("name") == section)
        and (not port or listener.get("port") == port)
    ]
    if not candidates:
        return Attachment((), "NoMatchingParent")
    allowed = [
        listener
        for listener in candidates
        if _admits_kind(listener) and _admits_namespace(store, gateway, listener, _ns(route))
    ]
    if not allowed:
        return Attachment((), "NotAllowedByListeners")
    hosts = [str(h).lower() for h in _spec(route).get("hostnames") or []]
    matching = [
        listener
        for listener in allowed
        if hostnames_intersect(str(listener.get("hostname") or "").lower(), hosts)
    ]
    if not matching:
        return Attachment((), "NoMatchingListenerHostname")
    return Attachment(tuple(str(listener.get("name") or "") for listener in matching), "Accepted")


def attached_routes(store: Any, gateway: Obj) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Routes attached to the Gateway with the listeners that accepted them."""
    out = []
    for route in _list(store, HTTPROUTES):
        if _meta(route).get("deletionTimestamp"):
            continue
        names: set[str] = set()
        for ref in _spec(route).get("parentRefs") or []:
            if refers_to(ref, route, gateway):
                names.update(attach(store, route, ref, gateway).listeners)
        if names:
            out.append((route, tuple(sorted(names))))
    return out


def backend_permitted(store: Any, route: Obj, ref: Obj) -> bool:
    """A backendRef into the route's own namespace, or one a ReferenceGrant allows."""
    target = str(ref.get("namespace") or _ns(route))
    if target == _ns(route):
        return True
    name = str(ref.get("name") or "")
    for grant in _list(store, REFERENCE_GRANTS, target):
        sources = _spec(grant).get("from") or []
        targets = _spec(grant).get("to") or []
        source_ok = any(
            f.get("group") == GROUP
            and f.get("kind") == "HTTPRoute"
            and f.get("namespace") == _ns(route)
            for f in sources
        )
        target_ok = any(
            (t.get("group") or "") == ""
            and t.get("kind") == "Service"
            and t.get("name") in (None, "", name)
            for t in targets
        )
        if source_ok and target_ok:
            return True
    return False


def unresolved_backend(store: Any, route: Obj) -> str | None:
    """The ResolvedRefs failure reason of a route's backends, or None when all resolve:
    InvalidKind (not a core Service), RefNotPermitted, BackendNotFound."""
    for rule in _spec(route).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
                return "InvalidKind"
            if not backend_permitted(store, route, ref):
                return "RefNotPermitted"
            namespace = str(ref.get("namespace") or _ns(route))
            if store.get("", "services", namespace, str(ref.get("name") or "")) is None:
                return "BackendNotFound"
    return None


# ---- matching -------------------------------------------------------------------------


def _hostname_score(route: Obj, listener_host: str, host: str) -> tuple[int, int] | None:
    """(non-wildcard characters, characters) of the hostname that lets `host` through,
    or None when neither the route's hostnames nor the listener's allow it."""
    if listener_host and not host_matches(listener_host, host):
        return None
    hosts = [str(h).lower() for h in _spec(route).get("hostnames") or []]
    if not hosts:
        effective = listener_host
        if not effective:
            return (0, 0)
        return (0 if effective.startswith("*.") else len(effective), len(effective))
    best: tuple[int, int] | None = None
    for pattern in hosts:
        if host_matches(pattern, host):
            score = (0 if pattern.startswith("*.") else len(pattern), len(pattern))
            best = score if best is None or score > best else best
    return best


def _value_matches(spec: Obj, have: str | None) -> bool:
    """A header or query-parameter match (`Exact` by default, or `RegularExpression`)."""
    if have is None:
        return False
    value = str(spec.get("value") or "")
    if (spec.get("type") or "Exact") == "RegularExpression":
        try:
            return re.fullmatch(value, have) is not None
        except re.error:
            return False
    return have == value


def _match_score(
    match: Obj, path: str, query: dict[str, str], method: str, headers: Mapping[str, str]
) -> tuple[int, int, int, int, int] | None:
    """(exact, prefix length, method, headers, query params) when the match accepts
    the request (method, path?query, headers with lower-case names), else None."""
    rule = match.get("path") or {"type": "PathPrefix", "value": "/"}
    kind, value = rule.get("type") or "PathPrefix", str(rule.get("value") or "/")
    if kind == "Exact":
        if path != value:
            return None
        exact, length = 1, len(value)
    elif kind == "PathPrefix":
        if not prefix_matches(value, path):
            return None
        exact, length = 0, len(value.rstrip("/"))
    else:
        try:
            if not re.fullmatch(value, path):
                return None
        except re.error:
            return None
        exact, length = 0, len(value)
    wanted_method = match.get("method")
    if wanted_method is not None and wanted_method != method:
        return None
    wanted_headers = match.get("headers") or []
    for h in wanted_headers:
        if not _value_matches(h, headers.get(str(h.get("name") or "").lower())):
            return None
    wanted = match.get("queryParams") or []
    for q in wanted:
        if not _value_matches(q, query.get(str(q.get("name") or ""))):
            return None
    return (exact, length, 1 if wanted_method else 0, len(wanted_headers), len(wanted))


@dataclass(order=True)
class _Choice:
    score: tuple[Any, ...]
    route: Obj = field(compare=False)
    rule: Obj = field(compare=False)
    rule_index: int = field(compare=False)
    match: Obj = field(compare=False, default_factory=dict)


def _route_order(route: Obj) -> tuple[str, str]:
    return str(_meta(route).get("creationTimestamp") or ""), f"{_ns(route)}/{_name(route)}"


def _candidates(store: Any, controller: Controller, host: str) -> list[tuple[Obj, str]]:
    """(route, listener hostname) pairs that may serve `host`."""
    out: list[tuple[Obj, str]] = []
    for gateway in served_gateways(store, controller):
        listeners = {
            str(lst.get("name") or ""): lst for lst in _spec(gateway).get("listeners") or []
        }
        for route, names in attached_routes(store, gateway):
            for name in names:
                listener_host = str(listeners[name].get("hostname") or "").lower()
                out.append((route, listener_host))
    return out


def _best_rule(
    store: Any,
    controller: Controller,
    host: str,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> _Choice | None:
    path, _, raw_query = path.partition("?")
    path = path or "/"
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    best: _Choice | None = None
    for route, listener_host in _candidates(store, controller, host):
        host_score = _hostname_score(route, listener_host, host)
        if host_score is None:
            continue
        created, name = _route_order(route)
        for index, rule in enumerate(_spec(route).get("rules") or [{}]):
            for match in rule.get("matches") or [{}]:
                score = _match_score(match, path, query, method, headers or {})
                if score is None:
                    continue
                # Higher is better for the scores; older, then alphabetical, then
                # earlier rules win ties: invert them for one max() comparison.
                key = (*host_score, *score, _invert(created), _invert(name), -index)
                choice = _Choice(key, route, rule, index, match)
                if best is None or choice > best:
                    best = choice
    return best


def _invert(text: str) -> tuple[int, ...]:
    return (*(-ord(c) for c in text), 1)


_turns: dict[tuple[str, int], itertools.count[int]] = {}


def _weight(ref: Obj) -> int:
    weight = ref.get("weight", 1)
    return weight if isinstance(weight, int) and weight > 0 else 0


def _pick_backend(route: Obj, rule: Obj, index: int) -> Obj | None:
    """One backendRef by weight, in turn (smooth enough for a few requests)."""
    refs = [r for r in rule.get("backendRefs") or [] if _weight(r)]
    if not refs:
        return None
    # Large weights (up to 1,000,000 in the API) are scaled down to at most 100 slots.
    scale = max(1, sum(_weight(r) for r in refs) // 100)
    slots = [r for r in refs for _ in range(max(1, _weight(r) // scale))]
    counter = _turns.setdefault(
        (str(_meta(route).get("uid") or _name(route)), index), itertools.count()
    )
    return slots[next(counter) % len(slots)]


def gateway_route(
    store: Any,
    controller: Controller,
    host: str,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Backend | None:
    """The backend Service a request for host+path reaches through this Gateway
    controller, or None (404) when no route rule matches or it has no backend."""
    choice = _best_rule(
        store,
        controller,
        normalize_host(host),
        path if path.startswith("/") else "/" + path,
        method.upper(),
        {k.lower(): v for k, v in (headers or {}).items()},
    )
    if choice is None:
        return None
    ref = _pick_backend(choice.route, choice.rule, choice.rule_index)
    if ref is None or not backend_permitted(store, choice.route, ref):
        return None
    port = ref.get("port")
    if not isinstance(port, int):
        return None  # a Service backendRef needs its port (the API requires it)
    plain, _, query = path.partition("?")
    rewritten = _rewrite(choice.rule, choice.match, plain or "/")
    if rewritten is not None and query:
        rewritten += f"?{query}"
    namespace = str(ref.get("namespace") or _ns(choice.route))
    return Backend(namespace, str(ref.get("name") or ""), port, rewritten)


def _rewrite(rule: Obj, match: Obj, path: str) -> str | None:
    """The path a rule's URLRewrite filter sends on (None: unchanged): ReplaceFullPath, or
    ReplacePrefixMatch swapping the matched PathPrefix (`/foo` -> `/xyz`: `/foo/bar`
    becomes `/xyz/bar`)."""
    for entry in rule.get("filters") or []:
        if entry.get("type") != "URLRewrite":
            continue
        change = (entry.get("urlRewrite") or {}).get("path") or {}
        if change.get("type") == "ReplaceFullPath":
            return str(change.get("replaceFullPath") or "/")
        if change.get("type") == "ReplacePrefixMatch":
            prefix = str((match.get("path") or {}).get("value") or "/").rstrip("/")
            rest = path[len(prefix) :] if path.lower().startswith(prefix.lower()) else path
            new = str(change.get("replacePrefixMatch") or "/").rstrip("/") + rest
            return new if new.startswith("/") else "/" + new
    return None
