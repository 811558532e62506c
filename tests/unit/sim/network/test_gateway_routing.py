"""Gateway API routing and attachment (`app.sim.network.gateway`) for the NGINX Gateway
Fabric controller: parentRefs, listeners, hostnames, match precedence, weights."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim.machinery.store import ObjectStore
from app.sim.network import gateway as gw
from app.sim.network.ingress import route

CONTROLLER = {
    "metadata": {"name": "nginx-gateway-abc", "namespace": "nginx-gateway"},
    "spec": {
        "containers": [
            {
                "name": "nginx-gateway",
                "image": "ghcr.io/nginx/nginx-gateway-fabric:2.2.1",
                "args": ["controller", "--gatewayclass=nginx"],
            },
            {"name": "nginx", "image": "ghcr.io/nginx/nginx-gateway-fabric/nginx:2.2.1"},
        ]
    },
}
HTTP = {"name": "http", "port": 80, "protocol": "HTTP"}


def backend(name: str, port: int = 80, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": port, **extra}
    if weight is not None:
        ref["weight"] = weight
    return ref


class Api:
    def __init__(self) -> None:
        self.store = ObjectStore()
        for name, labels in (("default", {}), ("infra", {"shared-gateway": "yes"}), ("team", {})):
            self.store.create("", "namespaces", {"metadata": {"name": name, "labels": labels}})
        self.store.create(
            *gw.GATEWAY_CLASSES,
            {
                "metadata": {"name": "nginx"},
                "spec": {"controllerName": "gateway.nginx.org/nginx-gateway-controller"},
            },
        )
        self.store.create(
            *gw.GATEWAY_CLASSES,
            {"metadata": {"name": "other"}, "spec": {"controllerName": "example.com/other"}},
        )
        self._clock = 0

    def gateway(
        self, name: str, *listeners: dict[str, Any], namespace: str = "default", cls: str = "nginx"
    ) -> dict:
        body = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"gatewayClassName": cls, "listeners": list(listeners) or [HTTP]},
        }
        return self.store.create(*gw.GATEWAYS, body)

    def route(
        self,
        name: str,
        rules: list[dict[str, Any]],
        *,
        namespace: str = "default",
        parents: list[dict[str, Any]] | None = None,
        hostnames: list[str] | None = None,
    ) -> dict:
        self._clock += 1
        spec: dict[str, Any] = {"parentRefs": parents or [{"name": "web"}], "rules": rules}
        if hostnames:
            spec["hostnames"] = hostnames
        body = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": f"2026-01-01T00:00:{self._clock:02d}Z",
            },
            "spec": spec,
        }
        created = self.store.create(*gw.HTTPROUTES, body)
        # The store stamps its own clock; keep the creation order the test intends.
        created["metadata"]["creationTimestamp"] = body["metadata"]["creationTimestamp"]
        return self.store.update(*gw.HTTPROUTES, created)

    def service(self, name: str, namespace: str = "default") -> None:
        self.store.create(
            "", "services", {"metadata": {"name": name, "namespace": namespace}, "spec": {}}
        )

    def to(
        self, host: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> str | None:
        found = route(self.store, CONTROLLER, host, path, method, headers)
        return None if found is None else f"{found.namespace}/{found.service}:{found.port}"


@pytest.fixture
def api() -> Api:
    return Api()


def prefix(value: str) -> dict[str, Any]:
    return {"path": {"type": "PathPrefix", "value": value}}


def exact(value: str) -> dict[str, Any]:
    return {"path": {"type": "Exact", "value": value}}


def test_a_route_without_matches_takes_every_path(api: Api) -> None:
    api.gateway("web")
    api.route("all", [{"backendRefs": [backend("site")]}])
    assert api.to("anything.example.com", "/") == "default/site:80"
    assert api.to("anything.example.com", "/deep/path") == "default/site:80"


def test_only_gateways_of_the_controllers_class_route(api: Api) -> None:
    api.gateway("web", cls="other")
    api.route("all", [{"backendRefs": [backend("site")]}])
    assert api.to("x", "/") is None


def test_exact_beats_prefix_and_longer_prefixes_win(api: Api) -> None:
    api.gateway("web")
    api.route(
        "shop",
        [
            {"matches": [prefix("/")], "backendRefs": [backend("home")]},
            {"matches": [prefix("/api")], "backendRefs": [backend("api")]},
            {"matches": [exact("/api/status")], "backendRefs": [backend("status")]},
            {"matches": [prefix("/api/v2/")], "backendRefs": [backend("v2", 8080)]},
        ],
    )
    assert api.to("x", "/api/status") == "default/status:80"
    assert api.to("x", "/api/status/more") == "default/api:80"
    assert api.to("x", "/api/v2/users") == "default/v2:8080"
    assert api.to("x", "/apis") == "default/home:80"


def test_header_method_and_query_matches(api: Api) -> None:
    api.gateway("web")
    api.route(
        "r",
        [
            {
                "matches": [{**prefix("/"), "headers": [{"name": "X-Canary", "value": "1"}]}],
                "backendRefs": [backend("canary")],
            },
            {"matches": [{**prefix("/"), "method": "POST"}], "backendRefs": [backend("writer")]},
            {
                "matches": [{**prefix("/"), "queryParams": [{"name": "v", "value": "2"}]}],
                "backendRefs": [backend("v2")],
            },
            {
                "matches": [
                    {
                        **prefix("/"),
                        "headers": [
                            {
                                "name": "user-agent",
                                "type": "RegularExpression",
                                "value": ".*Mobile.*",
                            }
                        ],
                    }
                ],
                "backendRefs": [backend("mobile")],
            },
            {"backendRefs": [backend("stable")]},
        ],
    )
    assert api.to("x", "/") == "default/stable:80"
    assert api.to("x", "/?v=2") == "default/v2:80"
    # Header names are case-insensitive, values exact.
    assert api.to("x", "/", headers={"x-canary": "1"}) == "default/canary:80"
    assert api.to("x", "/", headers={"X-CANARY": "1"}) == "default/canary:80"
    assert api.to("x", "/", headers={"x-canary": "10"}) == "default/stable:80"
    assert api.to("x", "/", "POST") == "default/writer:80"
    assert api.to("x", "/", "post") == "default/writer:80"
    assert api.to("x", "/", "PUT") == "default/stable:80"
    assert api.to("x", "/", headers={"User-Agent": "Foo Mobile/1"}) == "default/mobile:80"
    assert api.to("x", "/", headers={"user-agent": "curl/8.14.1"}) == "default/stable:80"


def test_path_beats_method_which_beats_headers(api: Api) -> None:
    """The spec's precedence: the longer path first, then a method match, then the
    number of header matches."""
    api.gateway("web")
    one = [{"name": "a", "value": "1"}]
    two = [*one, {"name": "b", "value": "2"}]
    api.route(
        "r",
        [
            {"matches": [{**prefix("/"), "headers": two}], "backendRefs": [backend("two")]},
            {"matches": [{**prefix("/"), "headers": one}], "backendRefs": [backend("one")]},
            {"matches": [{**prefix("/"), "method": "GET"}], "backendRefs": [backend("get")]},
            {"matches": [{**prefix("/api"), "headers": one}], "backendRefs": [backend("api")]},
        ],
    )
    both = {"a": "1", "b": "2"}
    assert api.to("x", "/api/x", headers=both) == "default/api:80"
    assert api.to("x", "/x", headers=both) == "default/get:80"
    assert api.to("x", "/x", "DELETE", headers=both) == "default/two:80"
    assert api.to("x", "/x", "DELETE", headers={"a": "1"}) == "default/one:80"
    assert api.to("x", "/x", "DELETE") is None


def test_the_most_specific_route_hostname_wins(api: Api) -> None:
    api.gateway("web")
    api.route("wild", [{"backendRefs": [backend("wild")]}], hostnames=["*.example.com"])
    api.route("exact", [{"backendRefs": [backend("exact")]}], hostnames=["shop.example.com"])
    api.route("any", [{"backendRefs": [backend("any")]}])
    assert api.to("shop.example.com", "/") == "default/exact:80"
    assert api.to("blog.example.com", "/") == "default/wild:80"
    assert api.to("example.org", "/") == "default/any:80"


def test_the_oldest_route_wins_a_tie(api: Api) -> None:
    api.gateway("web")
    api.route("first", [{"matches": [prefix("/x")], "backendRefs": [backend("first")]}])
    api.route("second", [{"matches": [prefix("/x")], "backendRefs": [backend("second")]}])
    assert api.to("h", "/x") == "default/first:80"


def test_listener_hostname_limits_the_hosts(api: Api) -> None:
    api.gateway("web", {**HTTP, "hostname": "*.shop.example.com"})
    api.route("r", [{"backendRefs": [backend("site")]}])
    assert api.to("eu.shop.example.com", "/") == "default/site:80"
    assert api.to("blog.example.com", "/") is None


def test_weights_spread_requests_and_zero_takes_none(api: Api) -> None:
    api.gateway("web")
    api.route(
        "split",
        [
            {
                "backendRefs": [
                    backend("v1", weight=1),
                    backend("v2", weight=1),
                    backend("off", weight=0),
                ]
            }
        ],
    )
    seen = [api.to("x", "/") for _ in range(4)]
    assert sorted(seen) == ["default/v1:80", "default/v1:80", "default/v2:80", "default/v2:80"]
    api.route("none", [{"matches": [prefix("/none")], "backendRefs": [backend("off", weight=0)]}])
    assert api.to("x", "/none") is None


def test_routes_from_other_namespaces_need_the_listener_to_allow_them(api: Api) -> None:
    api.gateway("shared", namespace="infra")
    parent = [{"name": "shared", "namespace": "infra"}]
    team = api.route("team", [{"backendRefs": [backend("app")]}], namespace="team", parents=parent)
    gateway = api.store.get(*gw.GATEWAYS, "infra", "shared")
    assert gateway is not None
    assert gw.attach(api.store, team, parent[0], gateway).reason == "NotAllowedByListeners"
    assert api.to("x", "/") is None
    selector = {
        "namespaces": {"from": "Selector", "selector": {"matchLabels": {"shared-gateway": "yes"}}}
    }
    gateway["spec"]["listeners"] = [{**HTTP, "allowedRoutes": selector}]
    gateway = api.store.update(*gw.GATEWAYS, gateway)
    assert gw.attach(api.store, team, parent[0], gateway).reason == "NotAllowedByListeners"
    gateway["spec"]["listeners"] = [{**HTTP, "allowedRoutes": {"namespaces": {"from": "All"}}}]
    gateway = api.store.update(*gw.GATEWAYS, gateway)
    assert gw.attach(api.store, team, parent[0], gateway).reason == "Accepted"
    assert api.to("x", "/") == "team/app:80"


def test_section_name_and_hostnames_select_listeners(api: Api) -> None:
    gateway = api.gateway(
        "web",
        {**HTTP, "hostname": "a.example.com"},
        {"name": "b", "port": 8080, "protocol": "HTTP", "hostname": "b.example.com"},
        {"name": "tcp", "port": 9000, "protocol": "TCP"},
    )
    missing = api.route("missing", [], parents=[{"name": "web", "sectionName": "nope"}])
    other_host = api.route("c", [], hostnames=["c.example.com"])
    tcp = api.route("tcp", [], parents=[{"name": "web", "sectionName": "tcp"}])
    b_only = api.route("b", [], parents=[{"name": "web", "sectionName": "b"}])
    assert (
        gw.attach(api.store, missing, {"name": "web", "sectionName": "nope"}, gateway).reason
        == "NoMatchingParent"
    )
    assert (
        gw.attach(api.store, other_host, {"name": "web"}, gateway).reason
        == "NoMatchingListenerHostname"
    )
    assert (
        gw.attach(api.store, tcp, {"name": "web", "sectionName": "tcp"}, gateway).reason
        == "NotAllowedByListeners"
    )
    assert gw.attach(api.store, b_only, {"name": "web", "sectionName": "b"}, gateway).listeners == (
        "b",
    )


def test_cross_namespace_backends_need_a_reference_grant(api: Api) -> None:
    api.gateway("web")
    route_obj = api.route("r", [{"backendRefs": [backend("db-ui", namespace="team")]}])
    api.service("db-ui", "team")
    assert gw.unresolved_backend(api.store, route_obj) == "RefNotPermitted"
    assert api.to("x", "/") is None
    api.store.create(
        *gw.REFERENCE_GRANTS,
        {
            "metadata": {"name": "from-default", "namespace": "team"},
            "spec": {
                "from": [
                    {
                        "group": "gateway.networking.k8s.io",
                        "kind": "HTTPRoute",
                        "namespace": "default",
                    }
                ],
                "to": [{"group": "", "kind": "Service"}],
            },
        },
    )
    assert gw.unresolved_backend(api.store, route_obj) is None
    assert api.to("x", "/") == "team/db-ui:80"


def test_missing_services_and_other_kinds_do_not_resolve(api: Api) -> None:
    api.gateway("web")
    missing = api.route("missing", [{"backendRefs": [backend("ghost")]}])
    assert gw.unresolved_backend(api.store, missing) == "BackendNotFound"
    bucket = api.route(
        "bucket", [{"backendRefs": [backend("b", kind="Bucket", group="storage.example.com")]}]
    )
    assert gw.unresolved_backend(api.store, bucket) == "InvalidKind"


def test_url_rewrite_filters_change_the_path_sent_on(api: Api) -> None:
    api.gateway("web")

    def rewrite(kind: str, value: str) -> dict[str, Any]:
        key = "replacePrefixMatch" if kind == "ReplacePrefixMatch" else "replaceFullPath"
        return {"type": "URLRewrite", "urlRewrite": {"path": {"type": kind, key: value}}}

    api.route(
        "r",
        [
            {
                "matches": [prefix("/shop")],
                "filters": [rewrite("ReplacePrefixMatch", "/")],
                "backendRefs": [backend("shop")],
            },
            {
                "matches": [prefix("/v1")],
                "filters": [rewrite("ReplacePrefixMatch", "/api/v1")],
                "backendRefs": [backend("api")],
            },
            {
                "matches": [prefix("/old")],
                "filters": [rewrite("ReplaceFullPath", "/new.html")],
                "backendRefs": [backend("site")],
            },
        ],
    )
    found = route(api.store, CONTROLLER, "x", "/shop/cart?id=3")
    assert found is not None and (found.service, found.path) == ("shop", "/cart?id=3")
    found = route(api.store, CONTROLLER, "x", "/shop")
    assert found is not None and found.path == "/"
    found = route(api.store, CONTROLLER, "x", "/v1/users")
    assert found is not None and found.path == "/api/v1/users"
    found = route(api.store, CONTROLLER, "x", "/old/page")
    assert found is not None and found.path == "/new.html"
