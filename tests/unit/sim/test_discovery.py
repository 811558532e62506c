"""Discovery documents built from the resource registry."""

from __future__ import annotations

import pytest

from app.sim.apiserver import discovery
from app.sim.machinery.resources import ResourceRegistry, ResourceType, builtin_registry


@pytest.fixture(scope="module")
def registry() -> ResourceRegistry:
    return builtin_registry()


def test_version_is_a_1_3x_server_within_kubectl_skew() -> None:
    info = discovery.version_info()
    assert info["major"] == "1"
    assert info["minor"].startswith("3")
    assert info["gitVersion"] == f"v1.{info['minor']}.{info['gitVersion'].split('.')[-1]}"
    assert info["platform"] == "linux/amd64"
    info["major"] = "changed"
    assert discovery.version_info()["major"] == "1"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
            True,
        ),
        ("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList", True),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList", False),
        ("application/json", False),
        ("", False),
        (None, False),
    ],
)
def test_wants_aggregated(accept: str | None, expected: bool) -> None:
    assert discovery.wants_aggregated(accept) is expected


def test_core_versions() -> None:
    doc = discovery.core_versions("10.0.0.1:6443")
    assert doc["kind"] == "APIVersions"
    assert doc["versions"] == ["v1"]
    assert doc["serverAddressByClientCIDRs"][0]["serverAddress"] == "10.0.0.1:6443"


def test_group_list_in_upstream_priority_order(registry: ResourceRegistry) -> None:
    doc = discovery.api_group_list(registry)
    assert doc["kind"] == "APIGroupList"
    names = [g["name"] for g in doc["groups"]]
    assert "" not in names
    assert names.index("apps") < names.index("batch") < names.index("rbac.authorization.k8s.io")
    apps = doc["groups"][names.index("apps")]
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


def test_version_priority_prefers_ga_then_beta() -> None:
    reg = ResourceRegistry(
        [
            ResourceType("example.com", v, "Widget", f"widgets{v}", "widget", True)
            for v in ("v1alpha1", "v2beta1", "v1", "v1beta1")
        ]
    )
    group = discovery.api_group_list(reg)["groups"][0]
    assert [v["version"] for v in group["versions"]] == ["v1", "v2beta1", "v1beta1", "v1alpha1"]


def test_resource_list_with_subresources(registry: ResourceRegistry) -> None:
    doc = discovery.api_resource_list(registry, "", "v1")
    assert doc is not None and doc["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"]
    assert by_name["pods"]["categories"] == ["all"]
    assert by_name["pods"]["namespaced"] is True
    assert by_name["pods/log"]["kind"] == "Pod"
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert by_name["pods/eviction"]["group"] == "policy"
    assert by_name["pods/eviction"]["kind"] == "Eviction"
    assert by_name["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert by_name["nodes"]["namespaced"] is False
    apps = discovery.api_resource_list(registry, "apps", "v1")
    assert apps is not None
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert discovery.api_resource_list(registry, "nope", "v1") is None


def test_aggregated_discovery_split_core_and_groups(registry: ResourceRegistry) -> None:
    core = discovery.aggregated_discovery(registry, core=True)
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert core["kind"] == "APIGroupDiscoveryList"
    assert len(core["items"]) == 1
    assert "name" not in core["items"][0]["metadata"]
    resources = {r["resource"]: r for r in core["items"][0]["versions"][0]["resources"]}
    pods = resources["pods"]
    assert pods["scope"] == "Namespaced"
    assert pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["log"]["verbs"] == ["get"]
    assert resources["namespaces"]["scope"] == "Cluster"
    groups = discovery.aggregated_discovery(registry, core=False)
    names = [item["metadata"]["name"] for item in groups["items"]]
    assert "apps" in names and "" not in names
    apps = groups["items"][names.index("apps")]["versions"][0]
    assert apps["freshness"] == "Current"
    deploy = {r["resource"]: r for r in apps["resources"]}["deployments"]
    scale = {s["subresource"]: s for s in deploy["subresources"]}["scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def test_crds_appear_in_discovery(registry: ResourceRegistry) -> None:
    reg = registry.copy()
    reg.register(
        ResourceType(
            "stable.example.com",
            "v1",
            "CronTab",
            "crontabs",
            "crontab",
            True,
            short_names=("ct",),
            custom=True,
        )
    )
    groups = discovery.aggregated_discovery(reg, core=False)
    names = [item["metadata"]["name"] for item in groups["items"]]
    assert names[-1] == "stable.example.com"
    resource = groups["items"][-1]["versions"][0]["resources"][0]
    assert resource["shortNames"] == ["ct"]
    assert discovery.api_resource_list(reg, "stable.example.com", "v1") is not None
