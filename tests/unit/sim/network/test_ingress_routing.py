"""Ingress routing (`app.sim.network.ingress.route`) for the ingress-nginx controller:
class selection, host and path precedence, default backends."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim.machinery.store import ObjectStore
from app.sim.network.ingress import (
    INGRESS_CLASSES,
    INGRESSES,
    Backend,
    controller_of,
    host_matches,
    route,
)

IMAGE = "registry.k8s.io/ingress-nginx/controller:v1.13.3@sha256:1b04"


def controller_pod(*args: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "ingress-nginx-controller-abc", "namespace": "ingress-nginx"},
        "spec": {"containers": [{"name": "controller", "image": IMAGE, "args": list(args)}]},
    }


CONTROLLER = controller_pod("/nginx-ingress-controller", "--ingress-class=nginx")


def path(p: str, service: str, kind: str = "Prefix", port: int | str = 80) -> dict[str, Any]:
    number = {"number": port} if isinstance(port, int) else {"name": port}
    return {"path": p, "pathType": kind, "backend": {"service": {"name": service, "port": number}}}


def rule(host: str | None, *paths: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"http": {"paths": list(paths)}}
    if host is not None:
        out["host"] = host
    return out


class Routes:
    def __init__(self) -> None:
        self.store = ObjectStore()
        self.store.create(
            *INGRESS_CLASSES,
            {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
        )
        self.store.create(
            *INGRESS_CLASSES,
            {
                "metadata": {"name": "traefik"},
                "spec": {"controller": "traefik.io/ingress-controller"},
            },
        )

    def ingress(
        self,
        name: str,
        *rules: dict[str, Any],
        namespace: str = "default",
        cls: str | None = "nginx",
        default: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        spec: dict[str, Any] = {"rules": list(rules)}
        if cls is not None:
            spec["ingressClassName"] = cls
        if default is not None:
            spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if annotations:
            meta["annotations"] = annotations
        self.store.create(*INGRESSES, {"metadata": meta, "spec": spec})

    def to(self, host: str, p: str, pod: dict[str, Any] = CONTROLLER) -> str | None:
        backend = route(self.store, pod, host, p)
        return None if backend is None else f"{backend.namespace}/{backend.service}:{backend.port}"


@pytest.fixture
def routes() -> Routes:
    return Routes()


def test_the_controller_is_recognised_by_its_image_and_flags() -> None:
    found = controller_of(
        controller_pod("--controller-class=example.com/x", "--watch-ingress-without-class=true")
    )
    assert found is not None and found.class_controller == "example.com/x" and found.without_class
    assert controller_of({"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}) is None


def test_prefix_paths_match_whole_segments(routes: Routes) -> None:
    routes.ingress("web", rule("shop.example.com", path("/foo", "foo")))
    assert routes.to("shop.example.com", "/foo") == "default/foo:80"
    assert routes.to("shop.example.com", "/foo/") == "default/foo:80"
    assert routes.to("shop.example.com", "/foo/bar?x=1") == "default/foo:80"
    assert routes.to("shop.example.com", "/foobar") is None
    assert routes.to("shop.example.com", "/") is None


def test_longest_path_wins_and_exact_beats_prefix(routes: Routes) -> None:
    routes.ingress(
        "web",
        rule(
            "shop.example.com",
            path("/", "root"),
            path("/api", "api"),
            path("/api/v2", "v2"),
            path("/api", "api-exact", "Exact"),
        ),
    )
    assert routes.to("shop.example.com", "/api") == "default/api-exact:80"
    assert routes.to("shop.example.com", "/api/") == "default/api:80"
    assert routes.to("shop.example.com", "/api/v2/users") == "default/v2:80"
    assert routes.to("shop.example.com", "/apiary") == "default/root:80"


def test_exact_paths_match_only_the_same_path(routes: Routes) -> None:
    routes.ingress("web", rule(None, path("/health", "health", "Exact")))
    assert routes.to("any", "/health") == "default/health:80"
    assert routes.to("any", "/health/") is None


def test_implementation_specific_is_nginx_plain_prefix(routes: Routes) -> None:
    routes.ingress("web", rule(None, path("/img", "images", "ImplementationSpecific")))
    assert routes.to("any", "/img/cat.png") == "default/images:80"
    assert routes.to("any", "/imgs") == "default/images:80"
    assert routes.to("any", "/other") is None


def test_exact_host_beats_wildcard_which_beats_no_host(routes: Routes) -> None:
    routes.ingress(
        "web",
        rule("app.example.com", path("/", "exact")),
        rule("*.example.com", path("/", "wildcard")),
        rule(None, path("/", "fallback")),
    )
    assert routes.to("app.example.com", "/") == "default/exact:80"
    assert routes.to("APP.example.com:30080", "/") == "default/exact:80"
    assert routes.to("web.example.com", "/") == "default/wildcard:80"
    assert routes.to("a.b.example.com", "/") == "default/fallback:80"
    assert routes.to("example.com", "/") == "default/fallback:80"
    assert routes.to("10.0.0.5", "/") == "default/fallback:80"


def test_a_host_server_does_not_fall_back_to_rules_without_host(routes: Routes) -> None:
    routes.ingress("a", rule("app.example.com", path("/app", "app")))
    routes.ingress("b", rule(None, path("/", "fallback")))
    assert routes.to("app.example.com", "/app") == "default/app:80"
    assert routes.to("app.example.com", "/other") is None


def test_rules_of_one_host_merge_across_ingresses(routes: Routes) -> None:
    routes.ingress("a", rule("shop.example.com", path("/cart", "cart")), namespace="shop")
    routes.ingress(
        "b", rule("shop.example.com", path("/pay", "pay", port="http")), namespace="billing"
    )
    assert routes.to("shop.example.com", "/cart") == "shop/cart:80"
    assert routes.to("shop.example.com", "/pay") == "billing/pay:http"


def test_default_backend_takes_what_no_path_matches(routes: Routes) -> None:
    routes.ingress("catch-all", cls="nginx", default="fallback")
    routes.ingress("shop", rule("shop.example.com", path("/cart", "cart")), default="shop-home")
    assert routes.to("shop.example.com", "/cart") == "default/cart:80"
    assert routes.to("shop.example.com", "/") == "default/shop-home:80"
    assert routes.to("other.example.com", "/") == "default/fallback:80"


def test_only_ingresses_of_the_controllers_classes_are_served(routes: Routes) -> None:
    routes.ingress("traefik", rule("a.example.com", path("/", "traefik")), cls="traefik")
    routes.ingress("no-class", rule("b.example.com", path("/", "nobody")), cls=None)
    routes.ingress(
        "legacy",
        rule("c.example.com", path("/", "legacy")),
        cls=None,
        annotations={"kubernetes.io/ingress.class": "nginx"},
    )
    assert routes.to("a.example.com", "/") is None
    assert routes.to("b.example.com", "/") is None
    assert routes.to("c.example.com", "/") == "default/legacy:80"
    without = controller_pod("--watch-ingress-without-class=true")
    assert routes.to("b.example.com", "/", without) == "default/nobody:80"


def test_a_class_naming_another_controller_serves_nothing_here(routes: Routes) -> None:
    routes.ingress("web", rule(None, path("/", "web")))
    other = controller_pod("--controller-class=example.com/other")
    assert routes.to("any", "/", other) is None
    assert route(routes.store, {"spec": {"containers": [{"image": "nginx"}]}}, "any", "/") is None


def test_backends_carry_their_port_number_or_name(routes: Routes) -> None:
    routes.ingress("web", rule(None, path("/", "web", port="http")))
    assert route(routes.store, CONTROLLER, "x", "/") == Backend("default", "web", "http")


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "example.com", False),
        ("a.example.com", "a.example.com", True),
        ("a.example.com", "b.example.com", False),
    ],
)
def test_wildcard_hosts_stand_for_one_label(pattern: str, host: str, expected: bool) -> None:
    assert host_matches(pattern, host) is expected


def test_rewrite_target_replaces_the_path_with_the_captured_groups(routes: Routes) -> None:
    notes = {"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}
    routes.ingress(
        "pay",
        rule("shop.example.com", path("/pay(/|$)(.*)", "pay", "ImplementationSpecific")),
        annotations=notes,
    )
    found = route(routes.store, CONTROLLER, "shop.example.com", "/PAY/invoices/7?x=1")
    assert found == Backend("default", "pay", 80, "/invoices/7?x=1")
    assert route(routes.store, CONTROLLER, "shop.example.com", "/pay") == Backend(
        "default", "pay", 80, "/"
    )
    assert route(routes.store, CONTROLLER, "shop.example.com", "/payments") is None


def test_a_plain_rewrite_target_sends_every_matching_path_to_it(routes: Routes) -> None:
    notes = {"nginx.ingress.kubernetes.io/rewrite-target": "/"}
    routes.ingress("shop", rule(None, path("/shop", "shop")), annotations=notes)
    routes.ingress("plain", rule(None, path("/docs", "docs")))
    assert route(routes.store, CONTROLLER, "x", "/shop/cart") == Backend("default", "shop", 80, "/")
    assert route(routes.store, CONTROLLER, "x", "/docs/a") == Backend("default", "docs", 80)
