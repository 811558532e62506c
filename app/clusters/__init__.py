"""Cluster providers: where lab sessions' clusters come from.

Providers are registered by name in `PROVIDERS` (name -> factory taking the Flask
config); `provider_for(name)` builds one for the current app. Settings:

| Flask config / environment | meaning | default |
| --- | --- | --- |
| `CERTPREP_LAB_PROVIDER` | provider of new sessions | `simulator` |
| `sim_urls` setting / `CERTPREP_SIM_URLS` | simulator servers (comma-separated) | none |
| `CERTPREP_SIM_ADMIN_TOKEN` | their admin bearer token | none |
| `CERTPREP_SIM_CA_FILE` | CA bundle of their certificates | system trust store |
| `CERTPREP_KIND_BINARY`, `CERTPREP_DOCKER_BINARY` | kind provider executables | on PATH |
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from app.clusters.base import (
    ClusterHandle,
    ClusterProvider,
    LabSetup,
    NoCapacity,
    ProviderError,
    ProviderNodeAccess,
)
from app.clusters.kind import KindProvider
from app.clusters.simulator import SimulatorProvider

__all__ = [
    "PROVIDERS",
    "ClusterHandle",
    "ClusterProvider",
    "LabSetup",
    "NoCapacity",
    "ProviderError",
    "ProviderNodeAccess",
    "default_provider_name",
    "provider_for",
    "register_provider",
]

DEFAULT_PROVIDER = "simulator"


def _setting(config: Mapping[str, Any], key: str) -> Any:
    # Flask config first (tests and `create_app` overrides), then the environment.
    value = config.get(key)
    return value if value not in (None, "") else os.environ.get(key)


def _simulator(config: Mapping[str, Any]) -> SimulatorProvider:
    settings = config.get("CERTPREP_SETTINGS")
    urls = list(getattr(settings, "sim_urls", ()) or ())
    if not urls and _setting(config, "CERTPREP_SIM_URLS"):
        urls = [u.strip() for u in str(_setting(config, "CERTPREP_SIM_URLS")).split(",") if u]
    token = _setting(config, "CERTPREP_SIM_ADMIN_TOKEN")
    if not token:
        raise ProviderError("CERTPREP_SIM_ADMIN_TOKEN is not set")
    return SimulatorProvider(urls, token, ca_file=_setting(config, "CERTPREP_SIM_CA_FILE"))


def _kind(config: Mapping[str, Any]) -> KindProvider:
    return KindProvider(
        kind=_setting(config, "CERTPREP_KIND_BINARY") or "kind",
        docker=_setting(config, "CERTPREP_DOCKER_BINARY") or "docker",
    )


PROVIDERS: dict[str, Callable[[Mapping[str, Any]], ClusterProvider]] = {
    "simulator": _simulator,
    "kind": _kind,
}


def register_provider(name: str, factory: Callable[[Mapping[str, Any]], ClusterProvider]) -> None:
    """Add a provider; ValueError when the name is taken."""
    if name in PROVIDERS:
        raise ValueError(f"a cluster provider named {name!r} is already registered")
    PROVIDERS[name] = factory


def default_provider_name(config: Mapping[str, Any] | None = None) -> str:
    """The provider new sessions use (`CERTPREP_LAB_PROVIDER`, default simulator)."""
    from flask import current_app

    config = current_app.config if config is None else config
    return str(_setting(config, "CERTPREP_LAB_PROVIDER") or DEFAULT_PROVIDER)


def provider_for(name: str, config: Mapping[str, Any] | None = None) -> ClusterProvider:
    """Build provider `name` from `config` (default: the current app's config).

    Raises ProviderError for an unknown name or missing settings.
    """
    from flask import current_app

    factory = PROVIDERS.get(name)
    if factory is None:
        raise ProviderError(f"no cluster provider named {name!r}; one of {', '.join(PROVIDERS)}")
    return factory(current_app.config if config is None else config)
