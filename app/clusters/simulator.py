"""The `simulator` provider: clusters on one or more simulator servers
(`certprep sim serve`), driven through their admin API.

Placement: a new cluster goes to the least-loaded server of `CERTPREP_SIM_URLS`
(clusters held / capacity, as `GET /admin/clusters` reports), and the server's URL is
recorded in the handle, so any worker reaches it later.

Clusters are created with the lab's cluster shape (node names, labels, taints,
capacity), which the server applies at bootstrap.

Setup, race-free: a lab's setup is built once per content hash on a separate
manual-clock cluster of the lab's shape: `SETUP_BOOT_SECONDS` of cluster time so the
add-ons settle, the manifests through the Kubernetes API, the faults through the node
routes (with the clock standing still between them, no component acts before the
faults are in place), then `SETUP_SETTLE_SECONDS` so the broken state is established
(CrashLoopBackOff, Pending pods with their events, a NotReady node). Its snapshot
(without credentials) is cached and every session's own wall-clock cluster restores
it; the setup cluster is deleted. A restore never changes the target's clock kind, so
the learner's cluster runs on wall time, and the setup clock starts far enough in the
past that the snapshot's timestamps are not in the learner's future.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
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
# Cluster seconds a setup cluster runs before the manifests: the add-on pods placed and
# running, node heartbeats posted, as on a cluster that has been up a while.
SETUP_BOOT_SECONDS = 20
# Cluster seconds after the manifests and faults, before the snapshot: every fault shows
# (a crash-looping static pod within seconds; a stopped kubelet's node NotReady after
# the node monitor grace period, 50 s since 1.32) and unschedulable pods carry their
# FailedScheduling events (the scheduler's first attempt is immediate).
SETUP_SETTLE_SECONDS = 90


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

    def create(
        self,
        shape: dict[str, Any],
        *,
        clock: str = "wall",
        clock_start: datetime | None = None,
        url: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> ClusterHandle:
        """A cluster of `shape` (`{"nodes": [...]}` of a lab: names, labels, taints and
        capacity) on the least-loaded server, or on `url`. `clock="manual"` makes its
        time move only through `tick` (from `clock_start`, default now). NoCapacity
        when the server is full; ProviderError when it refuses the shape (422) or fails."""
        url = url or self.place()
        nodes = shape.get("nodes") or []
        body: dict[str, Any] = {
            "nodes": max(1, len(nodes)),
            "shape": shape,
            "labels": labels or {"certprep/lab": "true"},
            "clock": clock,
        }
        if clock_start is not None:
            body["clockStart"] = clock_start.astimezone(UTC).isoformat()
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
        """Restore the lab's setup snapshot into the cluster, building it first (on a
        manual-clock cluster, see the module docstring) when none is cached.
        ProviderError when a step fails."""
        key = (lab.slug, lab.content_hash)
        snapshot = self.snapshots.get(key)
        if snapshot is None:
            snapshot = self.build_setup(lab, url=handle.details.get("url"))
            self.snapshots.put(key, snapshot)
        self.restore(handle, snapshot)

    def build_setup(self, lab: LabSetup, *, url: str | None = None) -> dict[str, Any]:
        """The lab's set-up state as a snapshot without credentials: a manual-clock
        cluster of the lab's shape (on `url` when it has room, else the least-loaded
        server), booted, the manifests then the faults applied while its clock stands
        still, run `SETUP_SETTLE_SECONDS`, snapshotted and deleted. Deterministic: the
        same lab gives the same broken state every time. ProviderError when a step
        fails."""
        total = SETUP_BOOT_SECONDS + SETUP_SETTLE_SECONDS
        # The snapshot's clock ends near the wall time it was built at, never ahead of
        # the wall-clock clusters that restore it.
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=total)
        labels = {"certprep/lab-setup": lab.slug[:63]}
        try:
            setup = self.create(
                lab.shape, clock="manual", clock_start=start, url=url, labels=labels
            )
        except NoCapacity:
            if url is None:
                raise
            setup = self.create(lab.shape, clock="manual", clock_start=start, labels=labels)
        try:
            self.tick(setup, SETUP_BOOT_SECONDS)
            apply_manifests(self.kubeconfig(setup), lab.manifests)
            apply_faults(self, setup, lab.faults)
            self.tick(setup, SETUP_SETTLE_SECONDS)
            snapshot = self.snapshot(setup)
        finally:
            self.delete(setup)
        # Never share credentials between clusters: a restore without `auth` keeps the
        # session cluster's own admin token.
        snapshot.pop("auth", None)
        return snapshot

    def tick(self, handle: ClusterHandle, seconds: float) -> str:
        """Advance a manual-clock cluster by `seconds`, its control plane settling at each
        second; returns the cluster's new time (ISO 8601). ProviderError for a wall-clock
        cluster (409) or a failed call."""
        response = self._call("POST", self._cluster_url(handle, "tick"), json={"seconds": seconds})
        if response.status_code != 200:
            raise self._fail(response, f"ticking cluster {handle.cluster_id}")
        return str(response.json().get("now", ""))

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

    def missing(self, handles: list[ClusterHandle]) -> set[str]:
        """Ids of the clusters of `handles` that their server, answering, no longer
        holds (one `GET /admin/clusters` per server). Clusters on a server that does
        not answer are not listed: it may be restarting, and reloads its clusters."""
        by_url: dict[str, list[ClusterHandle]] = {}
        for handle in handles:
            by_url.setdefault(str(handle.details.get("url") or ""), []).append(handle)
        gone: set[str] = set()
        for url, group in by_url.items():
            if not url:
                continue
            try:
                response = self._call("GET", f"{url}/admin/clusters")
            except ProviderError:
                continue
            try:
                items = response.json().get("items") if response.status_code == 200 else None
            except (ValueError, AttributeError):
                items = None
            if not isinstance(items, list):
                continue  # not a listing we can trust: take nothing as lost
            held = {item.get("id") for item in items if isinstance(item, dict)}
            gone.update(h.cluster_id for h in group if h.cluster_id not in held)
        return gone

    def delete(self, handle: ClusterHandle) -> None:
        """Delete the cluster; a cluster already gone is fine."""
        response = self._call("DELETE", self._cluster_url(handle))
        if response.status_code not in (200, 404):
            raise self._fail(response, f"deleting cluster {handle.cluster_id}")
