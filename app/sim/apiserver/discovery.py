"""Discovery documents: `/version`, `/api`, `/apis`, per group-version resource lists and
aggregated discovery (`apidiscovery.k8s.io/v2`), built from a `ResourceRegistry`.

kubectl 1.37 asks `/api` and `/apis` with
`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json`
(probed) and, when answered with an `APIGroupDiscoveryList`, needs no per-group-version
requests. The unaggregated documents stay available for other clients (the Python client
reads `/apis/{group}/{version}`).
"""

from __future__ import annotations

import re
from typing import Any

from app.sim.machinery.resources import ResourceRegistry, ResourceType

# What `/version` reports: a 1.3x server one minor behind kubectl 1.37, inside kubectl's
# supported +/-1 version skew, so `kubectl version` prints no skew warning.
SERVER_VERSION = {
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.2",
    "gitCommit": "5d1a1ba3e9b2ee6fdf19b2b6c0e0b1b4f3c5e2a1",
    "gitTreeState": "clean",
    "buildDate": "2026-07-15T10:00:00Z",
    "goVersion": "go1.25.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED_MEDIA = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# Groups in the order the upstream API server lists them in /apis (its group priority),
# so `kubectl api-versions` and `api-resources` read like a real cluster.
GROUP_ORDER = (
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
)

# Subresource -> (group, version, kind, verbs) of what it accepts or returns, as upstream
# discovery lists them ("" group/version: the parent's). pods/log answers a Pod kind,
# */scale an autoscaling/v1 Scale, pods/eviction a policy/v1 Eviction,
# serviceaccounts/token an authentication.k8s.io/v1 TokenRequest.
SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "status": ("", "", "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": ("", "", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "log": ("", "", "Pod", ("get",)),
    "exec": ("", "", "PodExecOptions", ("create", "get")),
    "attach": ("", "", "PodAttachOptions", ("create", "get")),
    "portforward": ("", "", "PodPortForwardOptions", ("create", "get")),
    "proxy": ("", "", "PodProxyOptions", ("create", "delete", "get", "patch", "update")),
    "ephemeralcontainers": ("", "", "", ("get", "patch", "update")),
    "resize": ("", "", "", ("get", "patch", "update")),
    "finalize": ("", "", "", ("update",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    "approval": ("", "", "", ("get", "patch", "update")),
}


def version_info() -> dict[str, str]:
    """The `/version` document (a copy the caller may change)."""
    return dict(SERVER_VERSION)


def wants_aggregated(accept: str | None) -> bool:
    """True when an Accept header asks for the aggregated APIGroupDiscoveryList."""
    if not accept:
        return False
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False


def core_versions(server_address: str = "127.0.0.1:6443") -> dict[str, Any]:
    """The `/api` document (APIVersions)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _ordered_groups(registry: ResourceRegistry) -> list[tuple[str, list[str]]]:
    groups = registry.groups()
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    names = sorted(groups, key=lambda g: (rank.get(g, len(GROUP_ORDER)), g))
    return [(g, _sorted_versions(groups[g])) for g in names]


def _version_rank(version: str) -> tuple[int, int, int]:
    """Upstream version priority: GA > beta > alpha, then higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    stability = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    return (stability, -int(m.group(1)), -int(m.group(3) or 0))


def _sorted_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=_version_rank)


def api_group_list(registry: ResourceRegistry) -> dict[str, Any]:
    """The `/apis` document (APIGroupList) of every non-core group in `registry`."""
    groups = []
    for group, versions in _ordered_groups(registry):
        if group == "":
            continue
        groups.append(api_group(group, versions))
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    """The `/apis/{group}` document (APIGroup)."""
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in _sorted_versions(versions)]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def _names(rt: ResourceType) -> dict[str, list[str]]:
    """shortNames and categories, present only when the kind has them (as upstream)."""
    out: dict[str, list[str]] = {}
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    return out


def _resource_order(rt: ResourceType) -> str:
    return rt.plural


def api_resource_list(
    registry: ResourceRegistry, group: str, version: str
) -> dict[str, Any] | None:
    """The `/api/v1` or `/apis/{group}/{version}` document, or None if not served.

    Subresources follow their parent (`pods/log`, `deployments/scale`), as upstream.
    """
    types = sorted(registry.in_group_version(group, version), key=_resource_order)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        entry.update(_names(rt))
        resources.append(entry)
        for sub in sorted(rt.subresources):
            sub_group, sub_version, sub_kind, verbs = SUBRESOURCES.get(sub, ("", "", "", ("get",)))
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": sub_kind or rt.kind,
                "verbs": list(verbs),
            }
            if sub_group:
                sub_entry["group"] = sub_group
                sub_entry["version"] = sub_version
            resources.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _discovery_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": "", "version": "", "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    entry.update(_names(rt))
    subs = []
    for sub in sorted(rt.subresources):
        sub_group, sub_version, sub_kind, verbs = SUBRESOURCES.get(sub, ("", "", "", ("get",)))
        subs.append(
            {
                "subresource": sub,
                "responseKind": {
                    "group": sub_group,
                    "version": sub_version,
                    "kind": sub_kind or rt.kind,
                },
                "verbs": list(verbs),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(registry: ResourceRegistry, core: bool) -> dict[str, Any]:
    """The aggregated `APIGroupDiscoveryList` for `/api` (core=True) or `/apis`.

    Served with Content-Type `AGGREGATED_MEDIA` when `wants_aggregated(accept)`.
    """
    items = []
    for group, versions in _ordered_groups(registry):
        if (group == "") != core:
            continue
        version_entries = []
        for version in versions:
            types = sorted(registry.in_group_version(group, version), key=_resource_order)
            version_entries.append(
                {
                    "version": version,
                    "resources": [_discovery_resource(rt) for rt in types],
                    "freshness": "Current",
                }
            )
        metadata: dict[str, Any] = {"creationTimestamp": None}
        if group:
            metadata["name"] = group
        items.append({"metadata": metadata, "versions": version_entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
