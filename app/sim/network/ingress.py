"""Ingress and Gateway API routing: the backend Service an HTTP request reaches.

The contract the connection path relies on: `route(store, controller_pod, host, path)`
returns the backend for a request that reached an ingress or Gateway controller's pod,
or None when no rule matches (the controller answers 404).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Backend:
    """A Service port that a rule sends a request to."""

    namespace: str
    service: str
    port: int | str


def route(store: Any, controller_pod: Mapping[str, Any], host: str, path: str) -> Backend | None:
    """The backend for `host` + `path` at the controller running in `controller_pod`."""
    del store, controller_pod, host, path
    return None
