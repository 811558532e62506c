"""Ingress and Gateway API routing: the backend Service an HTTP request reaches.

The contract the connection path relies on: `route(store, controller_pod, host, path,
method, headers)` returns the backend for a request that reached an ingress or Gateway
controller's pod, or None when no rule matches (the controller answers 404).

Which objects a controller serves comes from its pod, as the real controllers read
their flags (`controller_of`):

- ingress-nginx (image `registry.k8s.io/ingress-nginx/controller`): the IngressClasses
  whose `spec.controller` is its `--controller-class` (default `k8s.io/ingress-nginx`);
  an Ingress naming one of them in `spec.ingressClassName`, or the legacy annotation
  `kubernetes.io/ingress.class` equal to `--ingress-class` (default `nginx`), or with
  no class at all when `--watch-ingress-without-class=true`;
- NGINX Gateway Fabric (image `ghcr.io/nginx/nginx-gateway-fabric`, also the older
  `ghcr.io/nginxinc/...`): the GatewayClass named by `--gatewayclass` whose
  `controllerName` is its `--gateway-ctlr-name`, the Gateways of that class and the
  HTTPRoutes attached to them (see `app.sim.network.gateway`).

Ingress matching follows the Ingress API (networking/v1) and nginx's server selection:
the rules of the request's exact host win over wildcard hosts (`*.example.com`
matches one label), which win over rules without a host; among the paths of the
chosen host (merged over every Ingress of the class), an `Exact` path equal to the
request path wins, else the longest matching `Prefix` (matched element by element:
`/foo` matches `/foo/bar` but not `/foobar`) or `ImplementationSpecific` path (nginx's
plain prefix location, character by character); at equal length `Exact` beats
`Prefix`. No path matching: the `defaultBackend` of an Ingress with a rule for that
host, else of any Ingress of the class (oldest first), else None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

Obj = Mapping[str, Any]

INGRESSES = ("networking.k8s.io", "ingresses")
INGRESS_CLASSES = ("networking.k8s.io", "ingressclasses")
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
# ingress-nginx annotations that change routing (docs: user-guide/nginx-configuration).
REWRITE_TARGET = "nginx.ingress.kubernetes.io/rewrite-target"
USE_REGEX = "nginx.ingress.kubernetes.io/use-regex"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

INGRESS_NGINX = "ingress-nginx"
NGINX_GATEWAY = "nginx-gateway"
# ingress-nginx's flag defaults (cmd/nginx/flags.go).
INGRESS_NGINX_CONTROLLER_CLASS = "k8s.io/ingress-nginx"
INGRESS_NGINX_CLASS = "nginx"
# NGINX Gateway Fabric's defaults (its Helm chart and manifests).
NGF_CONTROLLER_NAME = "gateway.nginx.org/nginx-gateway-controller"
NGF_GATEWAY_CLASS = "nginx"


@dataclass(frozen=True)
class Backend:
    """A Service port that a rule sends a request to; `path` is the path the backend
    receives when the controller rewrites it (None: the request's own path)."""

    namespace: str
    service: str
    port: int | str
    path: str | None = None


@dataclass(frozen=True)
class Controller:
    """What a controller pod serves, from its image and flags."""

    kind: str  # INGRESS_NGINX or NGINX_GATEWAY
    class_controller: str  # IngressClass.spec.controller / GatewayClass.spec.controllerName
    class_name: str  # --ingress-class / --gatewayclass
    without_class: bool = False  # --watch-ingress-without-class


def _repository(image: str) -> str:
    """`registry.k8s.io/ingress-nginx/controller:v1.13.3@sha256:...` -> the path
    without registry host, tag or digest (`ingress-nginx/controller`)."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    name = f"{head}/{last}" if head else last
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts)


def _flags(container: Obj) -> dict[str, str]:
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    out: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            out[name] = value if "=" in arg else "true"
    return out


def controller_of(pod: Obj) -> Controller | None:
    """The ingress or Gateway controller a pod runs, or None for any other pod."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        repository = _repository(str(container.get("image") or ""))
        flags = _flags(container)
        if repository.endswith("ingress-nginx/controller"):
            return Controller(
                INGRESS_NGINX,
                flags.get("controller-class") or INGRESS_NGINX_CONTROLLER_CLASS,
                flags.get("ingress-class") or INGRESS_NGINX_CLASS,
                flags.get("watch-ingress-without-class", "false") == "true",
            )
        if repository.endswith("nginx-gateway-fabric"):
            return Controller(
                NGINX_GATEWAY,
                flags.get("gateway-ctlr-name") or NGF_CONTROLLER_NAME,
                flags.get("gatewayclass") or NGF_GATEWAY_CLASS,
            )
    return None


# ---- Ingress ------------------------------------------------------------------------


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def served_classes(store: Any, controller: Controller) -> set[str]:
    """Names of the IngressClasses this ingress controller implements."""
    classes, _ = store.list(*INGRESS_CLASSES)
    return {
        str(_meta(c).get("name"))
        for c in classes
        if _spec(c).get("controller") == controller.class_controller
    }


def serves_ingress(ingress: Obj, controller: Controller, classes: set[str]) -> bool:
    """Whether the controller picks this Ingress up (ingress-nginx's class filter)."""
    if _meta(ingress).get("deletionTimestamp"):
        return False
    name = _spec(ingress).get("ingressClassName")
    if name:
        return name in classes
    annotation = (_meta(ingress).get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
    if annotation:
        return annotation == controller.class_name
    return controller.without_class


def served_ingresses(store: Any, controller: Controller) -> list[Obj]:
    """The Ingresses the controller serves, oldest first (then by namespace/name)."""
    classes = served_classes(store, controller)
    items, _ = store.list(*INGRESSES)
    mine = [i for i in items if serves_ingress(i, controller, classes)]
    return sorted(mine, key=lambda i: (str(_meta(i).get("creationTimestamp") or ""), _key(i)))


def _key(obj: Obj) -> tuple[str, str]:
    return str(_meta(obj).get("namespace") or ""), str(_meta(obj).get("name") or "")


def normalize_host(host: str) -> str:
    """A Host header without port or trailing dot, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


def host_matches(pattern: str, host: str) -> bool:
    """An Ingress/Gateway hostname against a request host: equal, or a `*.` wildcard
    standing for exactly one leading DNS label."""
    if not pattern.startswith("*."):
        return pattern == host
    suffix = pattern[1:]
    return host.endswith(suffix) and "." not in host[: -len(suffix)] and host != suffix[1:]


def prefix_matches(prefix: str, path: str) -> bool:
    """The Prefix path type: element-wise, trailing slashes ignored."""
    want = [p for p in prefix.split("/") if p]
    have = [p for p in path.split("/") if p]
    return have[: len(want)] == want


def _request_path(path: str) -> str:
    path = path.split("?", 1)[0].split("#", 1)[0]
    return path if path.startswith("/") else "/" + path


@dataclass(frozen=True)
class _Candidate:
    ingress: Obj
    path: str
    path_type: str
    backend: Obj
    regex: bool = False


def _annotations(ingress: Obj) -> Mapping[str, str]:
    return _meta(ingress).get("annotations") or {}


def _regex_paths(ingress: Obj) -> bool:
    """ingress-nginx treats paths as case-insensitive regular expressions (anchored at
    the start) when `use-regex` is true or a `rewrite-target` is set."""
    notes = _annotations(ingress)
    return str(notes.get(USE_REGEX, "")).lower() == "true" or bool(notes.get(REWRITE_TARGET))


def _regex_match(pattern: str, path: str) -> re.Match[str] | None:
    try:
        return re.match(pattern, path, re.IGNORECASE)
    except re.error:
        return None


def _rewritten(candidate: _Candidate, path: str) -> str | None:
    """nginx's `rewrite "(?i)<path>" <target> break;`: the whole path becomes the target
    with `$1`.. replaced by the path's groups."""
    target = _annotations(candidate.ingress).get(REWRITE_TARGET)
    match = _regex_match(candidate.path or "/", path)
    if not target or match is None:
        return None
    groups = match.groups()

    def group(found: re.Match[str]) -> str:
        index = int(found.group(1))
        return (groups[index - 1] or "") if 0 < index <= len(groups) else ""

    return re.sub(r"\$(\d)", group, str(target)) or "/"


def _path_score(candidate: _Candidate, path: str) -> tuple[int, int] | None:
    """(length, exact bonus) when the candidate matches, else None."""
    want = candidate.path or "/"
    if candidate.regex:
        return (len(want), 0) if _regex_match(want, path) else None
    if candidate.path_type == "Exact":
        return (len(want), 1) if want == path else None
    if candidate.path_type == "Prefix":
        return (len(want.rstrip("/")) or 1, 0) if prefix_matches(want, path) else None
    return (len(want), 0) if path.startswith(want) else None


def _rules_for_host(ingresses: Iterable[Obj], host: str) -> list[tuple[Obj, Obj]]:
    """(ingress, rule) pairs of the server nginx picks for `host`: exact host rules,
    else wildcard host rules, else the rules without a host."""
    exact, wildcard, catch_all = [], [], []
    for ingress in ingresses:
        for rule in _spec(ingress).get("rules") or []:
            pattern = str(rule.get("host") or "").lower()
            if not pattern:
                catch_all.append((ingress, rule))
            elif pattern == host:
                exact.append((ingress, rule))
            elif pattern.startswith("*.") and host_matches(pattern, host):
                wildcard.append((ingress, rule))
    return exact or wildcard or catch_all


def _service_backend(ingress: Obj, backend: Obj | None) -> Backend | None:
    service = (backend or {}).get("service") or {}
    if not service.get("name"):
        return None
    port = service.get("port") or {}
    number = port.get("number")
    return Backend(
        str(_meta(ingress).get("namespace") or "default"),
        str(service["name"]),
        int(number) if number else str(port.get("name") or ""),
    )


def ingress_route(ingresses: list[Obj], host: str, path: str) -> Backend | None:
    """The backend the Ingresses (of one class, oldest first) send host+path to."""
    raw_path = path
    host, path = normalize_host(host), _request_path(path)
    server = _rules_for_host(ingresses, host)
    best: tuple[tuple[int, int], _Candidate] | None = None
    for ingress, rule in server:
        for entry in (rule.get("http") or {}).get("paths") or []:
            candidate = _Candidate(
                ingress,
                str(entry.get("path") or "/"),
                str(entry.get("pathType") or "ImplementationSpecific"),
                entry.get("backend") or {},
                _regex_paths(ingress),
            )
            score = _path_score(candidate, path)
            if score is not None and (best is None or score > best[0]):
                best = (score, candidate)
    if best is not None:
        found = _service_backend(best[1].ingress, best[1].backend)
        rewritten = _rewritten(best[1], path) if best[1].regex else None
        if found is None or rewritten is None:
            return found
        query = raw_path.partition("?")[2]
        return replace(found, path=rewritten + (f"?{query}" if query else ""))
    hosted = [ingress for ingress, _ in server]
    for ingress in hosted + [i for i in ingresses if i not in hosted]:
        default = _spec(ingress).get("defaultBackend")
        if default:
            return _service_backend(ingress, default)
    return None


# ---- the contract -------------------------------------------------------------------


def route(
    store: Any,
    controller_pod: Mapping[str, Any],
    host: str,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Backend | None:
    """The backend for `host` + `path` at the controller running in `controller_pod`
    (an HTTPRoute may also match the method and headers; Ingress rules do not)."""
    controller = controller_of(controller_pod)
    if controller is None:
        return None
    if controller.kind == INGRESS_NGINX:
        return ingress_route(served_ingresses(store, controller), host, path)
    from app.sim.network.gateway import gateway_route

    return gateway_route(store, controller, host, path, method, headers or {})
