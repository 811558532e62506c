"""The kinds the simulator serves: one `ResourceType` per group/version/resource.

Every part of the API layer (routing, discovery, OpenAPI, printing, protobuf, RBAC)
looks kinds up here. CRDs add entries to a cluster's own `ResourceRegistry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str  # "v1"
    kind: str  # "Pod"
    plural: str  # "pods"
    singular: str  # "pod"
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # ("all",) for kinds `kubectl get all` shows
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()  # "status", "scale", "binding", "eviction", "log"
    # The list kind's name: "PodList".
    list_kind: str = ""
    # True for kinds served from a CustomResourceDefinition.
    custom: bool = False
    # For CRDs: the openAPIV3Schema of this version, used for validation and explain.
    schema: dict | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `pods` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"


class ResourceRegistry:
    """Lookup of served kinds by (group, version, plural) and (apiVersion, kind)."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._by_plural: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        for rt in types:
            self.register(rt)

    def register(self, rt: ResourceType) -> None:
        key = (rt.group, rt.version, rt.plural)
        if key in self._by_plural:
            raise ValueError(f"resource {rt.group_resource}/{rt.version} is already registered")
        self._by_plural[key] = rt
        self._by_kind[(rt.api_version, rt.kind)] = rt

    def unregister(self, group: str, version: str, plural: str) -> None:
        rt = self._by_plural.pop((group, version, plural), None)
        if rt is not None:
            self._by_kind.pop((rt.api_version, rt.kind), None)

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_plural.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions (preferred first); "" is the core group."""
        out: dict[str, list[str]] = {}
        for rt in self._by_plural.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_plural.values() if (rt.group, rt.version) == (group, version)]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_plural.values()))

    def copy(self) -> ResourceRegistry:
        return ResourceRegistry(self)


# Filled in below: every built-in kind the simulator serves.
BUILTIN_TYPES: tuple[ResourceType, ...] = ()


def builtin_registry() -> ResourceRegistry:
    return ResourceRegistry(BUILTIN_TYPES)
