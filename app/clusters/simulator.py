"""The `simulator` provider: clusters on one or more simulator servers
(`certprep sim serve`), driven through their admin API.

Placement: a new cluster goes to the least-loaded server of `CERTPREP_SIM_URLS`
(clusters held / capacity, as `GET /admin/clusters` reports), and the server's URL is
recorded in the handle, so any worker reaches it later.

Setup: the first session of a lab (per content hash) gets the manifests applied through
the Kubernetes API; the resulting state is then kept as a snapshot (without credentials)
and later sessions of the same lab start with a restore of it. Faults are applied after
the restore every time, through the node routes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import quote

import requests

from app.clusters.base import (
    ClusterHandle,
    LabSetup,
    NoCapacity,
    ProviderError,
    apply_faults,
    apply_manifests,
)

NAME = "simulator"
# Seconds for one admin API call: every admin operation is in-memory on the server.
REQUEST_TIMEOUT = 30
# Setup snapshots kept per process (labs x content versions in use at once).
SNAPSHOT_CACHE_SIZE = 32


class NodeFileNotFound(ProviderError):
    """The node has no such file."""


class NoSuchNode(ProviderError):
    """The cluster has no such node."""


class _SnapshotCache:
    """Setup snapshots by (lab slug, content hash), least recently used dropped first."""

    def __init__(self, size: int = SNAPSHOT_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SETUP_SNAPSHOTS = _SnapshotCache()


class SimulatorProvider:
    """Clusters on simulator servers. `urls`: the servers' base URLs; `admin_token`:
    their admin bearer token; `ca_file`: the CA bundle that signed their certificates
    (None: the system's trust store)."""

    name = NAME

    def __init__(
        self,
        urls: list[str] | tuple[str, ...],
        admin_token: str,
        *,
        ca_file: str | None = None,
        snapshots: _SnapshotCache = SETUP_SNAPSHOTS,
    ) -> None:
        if not urls:
            raise ProviderError("no simulator server configured (CERTPREP_SIM_URLS)")
        self.urls = [u.rstrip("/") for u in urls]
        self.admin_token = admin_token
        self.verify: str | bool = ca_file or True
        self.snapshots = snapshots
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    # ---- HTTP -----------------------------------------------------------------------

    def _call(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> requests.Response:
        try:
            return self.session.request(
                method, url, json=json, params=params, timeout=REQUEST_TIMEOUT, verify=self.verify
            )
        except requests.RequestException as exc:
            raise ProviderError(f"simulator {url} unreachable: {exc}") from exc

    @staticmethod
    def _fail(response: requests.Response, what: str) -> ProviderError:
        try:
            message = response.json().get("message")
        except ValueError:
            message = response.text[:200]
        return ProviderError(f"{what}: HTTP {response.status_code}: {message}")

    def _cluster_url(self, handle: ClusterHandle, *tail: str) -> str:
        base = f"{handle.details['url']}/admin/clusters/{quote(handle.cluster_id, safe='')}"
        return "/".join([base, *(quote(t, safe="") for t in tail)])

    # ---- placement ------------------------------------------------------------------

    def load(self, url: str) -> float | None:
        """Share of `url`'s capacity in use (0..1), or None when it does not answer."""
        try:
            response = self._call("GET", f"{url}/admin/clusters")
        except ProviderError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        capacity = body.get("capacity") or 1
        return len(body.get("items") or []) / capacity

    def place(self) -> str:
        """The least-loaded server that answers and has room; ProviderError when none
        answers, NoCapacity when all that answer are full."""
        loads = [(load, url) for url in self.urls if (load := self.load(url)) is not None]
        if not loads:
            raise ProviderError(
                f"no simulator server answered (unreachable: {', '.join(self.urls)})"
            )
        free = sorted((load, index, url) for index, (load, url) in enumerate(loads) if load < 1)
        if not free:
            raise NoCapacity("no simulator server has room for another cluster")
        return free[0][2]

    # ---- provider interface ---------------------------------------------------------

    def create(self, shape: dict[str, Any]) -> ClusterHandle:
        """A cluster of `shape` (`{"nodes": [...]}` of a lab) on the least-loaded server."""
        url = self.place()
        nodes = shape.get("nodes") or []
        body = {"nodes": max(1, len(nodes)), "shape": shape, "labels": {"certprep/lab": "true"}}
        response = self._call("POST", f"{url}/admin/clusters", json=body)
        if response.status_code == 429:
            raise NoCapacity(f"simulator {url} is full")
        if response.status_code != 201:
            raise self._fail(response, f"creating a cluster on {url}")
        doc = response.json()
        return ClusterHandle(
            NAME,
            doc["id"],
            {"url": url, "server": doc.get("server"), "nodes": [n["name"] for n in nodes]},
        )

    def apply_setup(self, handle: ClusterHandle, lab: LabSetup) -> None:
        """Restore the lab's cached setup snapshot, or apply the manifests and cache the
        result; then apply the faults. ProviderError when a step fails."""
        key = (lab.slug, lab.content_hash)
        cached = self.snapshots.get(key)
        if cached is not None:
            self.restore(handle, cached)
        else:
            apply_manifests(self.kubeconfig(handle), lab.manifests)
            snapshot = self.snapshot(handle)
            # Never share credentials between clusters: a restore without `auth` keeps
            # the new cluster's own admin token.
            snapshot.pop("auth", None)
            self.snapshots.put(key, snapshot)
        apply_faults(self, handle, lab.faults)

    def restore(self, handle: ClusterHandle, snapshot: dict[str, Any]) -> None:
        response = self._call("POST", self._cluster_url(handle, "restore"), json=snapshot)
        if response.status_code != 200:
            raise self._fail(response, f"restoring cluster {handle.cluster_id}")

    def kubeconfig(self, handle: ClusterHandle) -> str:
        response = self._call("GET", self._cluster_url(handle, "kubeconfig"))
        if response.status_code != 200:
            raise self._fail(response, f"kubeconfig of cluster {handle.cluster_id}")
        return response.text

    def nodes(self, handle: ClusterHandle) -> list[dict[str, Any]]:
        """`[{"name", "roles"}]` of the cluster's nodes."""
        response = self._call("GET", self._cluster_url(handle, "nodes"))
        if response.status_code != 200:
            raise self._fail(response, f"nodes of cluster {handle.cluster_id}")
        return list(response.json().get("items") or [])

    def read_file(self, handle: ClusterHandle, node: str, path: str) -> str:
        """The file's text; NodeFileNotFound when it does not exist."""
        response = self._call(
            "GET", self._cluster_url(handle, "nodes", node, "files"), params={"path": path}
        )
        if response.status_code == 404:
            raise NodeFileNotFound(self._fail(response, f"{node}:{path}").args[0])
        if response.status_code != 200:
            raise self._fail(response, f"reading {node}:{path}")
        return response.json().get("content", "")

    def write_file(self, handle: ClusterHandle, node: str, path: str, content: str) -> None:
        response = self._call(
            "PUT",
            self._cluster_url(handle, "nodes", node, "files"),
            params={"path": path},
            json={"content": content},
        )
        if response.status_code == 404:
            raise NoSuchNode(self._fail(response, f"writing {node}:{path}").args[0])
        if response.status_code != 200:
            raise self._fail(response, f"writing {node}:{path}")

    def exec(self, handle: ClusterHandle, node: str, command: str) -> tuple[int, str, str]:
        response = self._call(
            "POST", self._cluster_url(handle, "nodes", node, "exec"), json={"command": command}
        )
        if response.status_code == 404:
            raise NoSuchNode(self._fail(response, f"running a command on {node}").args[0])
        if response.status_code != 200:
            raise self._fail(response, f"running a command on {node}")
        body = response.json()
        return int(body.get("exit_code", 1)), body.get("stdout", ""), body.get("stderr", "")

    def snapshot(self, handle: ClusterHandle) -> dict[str, Any]:
        response = self._call("POST", self._cluster_url(handle, "snapshot"))
        if response.status_code != 200:
            raise self._fail(response, f"snapshot of cluster {handle.cluster_id}")
        return response.json()

    def delete(self, handle: ClusterHandle) -> None:
        """Delete the cluster; a cluster already gone is fine."""
        response = self._call("DELETE", self._cluster_url(handle))
        if response.status_code not in (200, 404):
            raise self._fail(response, f"deleting cluster {handle.cluster_id}")
