"""The clusters one simulator server holds: create, look up, delete, step, save and
reload them. No HTTP here: `server.SimServer` serves a registry over aiohttp, and the
admin API (`serving.admin`) calls these methods.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.sim import controlplane
from app.sim.bootstrap import create_cluster, validate_shape
from app.sim.machinery.clock import Clock, ManualClock, parse_time
from app.sim.machinery.cluster import Cluster, ClusterAuth
from app.sim.machinery.errors import ApiError
from app.sim.machinery.tls import KeyPair
from app.sim.nodes import ClusterNodes
from app.sim.persistence import ClusterJournal

log = logging.getLogger(__name__)

# A deleted namespace stays Terminating at least this long (wall seconds) before the
# fallback finishes it, so `kubectl delete -f` of a namespace and its objects still
# finds the objects, as with the upstream namespace controller's delay.
NAMESPACE_FINALIZE_DELAY = 1.0
DEFAULT_MAX_CLUSTERS = 500
# CPU fairness between the clusters of one server: a cluster whose control-plane pass
# cost more than this (CPU seconds of the loop thread) sits out the passes of the next
# equal stretch of wall time while other clusters have loops, so one cluster scheduling
# thousands of pods takes at most about half of the loop thread from its neighbours.
FAIR_PASS_SECONDS = 0.05

_CLUSTER_ID_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _new_cluster_id() -> str:
    return "c" + secrets.token_hex(5)


def _has_work(cluster: Cluster) -> bool:
    """Whether a pass of `cluster` would do anything: its loops, unless its only loop
    is its control plane's poll and that has nothing due (an idle cluster between
    heartbeat passes); without loops, its Terminating namespaces to finish."""
    if not cluster.loops:
        return bool(cluster.store.terminating_namespaces(NAMESPACE_FINALIZE_DELAY))
    plane = cluster.control_plane
    due = getattr(plane, "due", None)
    if due is not None and cluster.loops == [plane.poll]:
        return bool(due())
    return True


def heartbeat_only(cluster: Cluster) -> bool:
    """Whether a due cluster's pass is its control plane's heartbeat pass alone."""
    plane = cluster.control_plane
    beat_only = getattr(plane, "beat_only", None)
    return beat_only is not None and cluster.loops == [plane.poll] and bool(beat_only())


class ClusterRegistry:
    """The clusters by id, with what every new or reloaded cluster gets attached: node
    agents (file systems, shells) and, through `cluster_hooks`, its control plane."""

    def __init__(
        self,
        *,
        ca: KeyPair | None = None,
        max_clusters: int = DEFAULT_MAX_CLUSTERS,
        node_agents: bool = True,
        control_plane: bool = True,
        drive_wall_clock: bool = True,
    ) -> None:
        self.ca = ca
        self.max_clusters = max_clusters
        # Give each cluster node agents (file systems, shells) for the node-access API.
        self.node_agents = node_agents
        self.clusters: dict[str, Cluster] = {}
        self._lock = threading.Lock()
        # Called with each new or reloaded cluster, e.g. to attach its control plane.
        self.cluster_hooks: list[Callable[[Cluster], None]] = []
        # Every cluster gets kubelets, kube-scheduler and kube-controller-manager; the
        # server's loop ticks wall-clock clusters when `drive_wall_clock` (a manual
        # clock only moves through `POST /admin/clusters/{id}/tick`).
        self.drive_wall_clock = drive_wall_clock
        if control_plane and node_agents:
            self.cluster_hooks.append(self._attach_control_plane)
        # Continuous persistence (`enable_journal`): None keeps clusters in memory only.
        self.journal: ClusterJournal | None = None
        # Per cluster: CPU seconds of its last control-plane pass, and the monotonic
        # time before which it sits out (see FAIR_PASS_SECONDS).
        self._pass_cost: dict[str, float] = {}
        self._rest_until: dict[str, float] = {}

    def create_cluster(
        self,
        *,
        nodes: int = 3,
        cluster_id: str | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        clock: Clock | None = None,
        shape: dict[str, Any] | None = None,
    ) -> Cluster:
        """Create and register a bootstrapped cluster; with a lab's cluster `shape`
        (`bootstrap.validate_shape`) its nodes are the shape's and `nodes` is ignored.

        Raises ApiError 409 when the id is taken, 422 for a bad id, node count or shape,
        429 when the server holds `max_clusters` already.
        """
        cluster_id = cluster_id or _new_cluster_id()
        if not _CLUSTER_ID_RE.match(cluster_id):
            raise ApiError(422, f"invalid cluster id {cluster_id!r}: use a DNS label")
        if shape is not None:
            try:
                nodes = len(validate_shape(shape))
            except ValueError as exc:
                raise ApiError(422, f"invalid cluster shape: {exc}") from None
        if not 1 <= nodes <= 50:
            raise ApiError(422, "nodes must be between 1 and 50")
        with self._lock:
            if cluster_id in self.clusters:
                raise ApiError(
                    409, f'cluster "{cluster_id}" already exists', reason="AlreadyExists"
                )
            if len(self.clusters) >= self.max_clusters:
                raise ApiError(429, f"this server already holds {self.max_clusters} clusters")
            cluster = create_cluster(
                cluster_id,
                nodes=nodes,
                ca=self.ca,
                clock=clock,
                name=name,
                labels=labels,
                shape=shape,
            )
            self.clusters[cluster_id] = cluster
        self._attach_nodes(cluster)
        self._run_hooks(cluster)
        if self.journal is not None:
            # On disk before its id and kubeconfig are handed out.
            self.journal.attach(cluster)
        return cluster

    def _attach_nodes(self, cluster: Cluster, saved: dict[str, Any] | None = None) -> None:
        """Node agents for a cluster unless the server runs without them (their files
        and shell serve the node-access API; nothing runs until a loop syncs them)."""
        if not self.node_agents:
            return
        try:
            cluster.node_access = ClusterNodes(cluster)
            if saved is not None:
                cluster.node_access.load(saved)
        except Exception:
            cluster.node_access = None
            log.exception("node agents unavailable for cluster %s", cluster.id)

    def _attach_control_plane(self, cluster: Cluster) -> None:
        controlplane.attach(cluster, drive=self.drive_wall_clock)

    def _run_hooks(self, cluster: Cluster) -> None:
        for hook in list(self.cluster_hooks):
            try:
                hook(cluster)
            except Exception:
                log.exception("cluster hook failed for %s", cluster.id)

    def run_loops(self) -> int:
        """One pass of every cluster's control-plane loops, one after the other;
        returns how many ran. A loop that raises is logged and runs again next pass
        (it never stops the others). The server runs the passes of different clusters
        on threads of their own instead (`due_clusters`, `run_cluster_pass`)."""
        return sum(self.run_cluster_pass(cluster) for cluster in self.due_clusters())

    def due_clusters(self) -> list[Cluster]:
        """The clusters whose control plane has work this pass, cheapest first: those
        with loops or Terminating namespaces, less those resting after an expensive
        pass while other clusters have loops (FAIR_PASS_SECONDS)."""
        clusters = list(self.clusters.values())
        shared = sum(1 for c in clusters if c.loops) > 1
        now = time.monotonic()
        due = [
            c
            for c in clusters
            if not (shared and self._rest_until.get(c.id, 0.0) > now) and _has_work(c)
        ]
        return sorted(due, key=lambda c: self._pass_cost.get(c.id, 0.0))

    def run_cluster_pass(self, cluster: Cluster) -> int:
        """One pass of `cluster`'s loops, its CPU time measured: an expensive pass
        makes the cluster rest as long (see FAIR_PASS_SECONDS). A cluster without
        loops (no control plane attached) still gets its Terminating namespaces
        finished, as the namespace controller would. Returns how many loops ran."""
        began = time.thread_time()
        ran = self._run_cluster_loops(cluster)
        cost = time.thread_time() - began
        self._pass_cost[cluster.id] = cost
        if cost > FAIR_PASS_SECONDS:
            self._rest_until[cluster.id] = time.monotonic() + cost
        return ran

    def _run_cluster_loops(self, cluster: Cluster) -> int:
        ran = 0
        if not cluster.loops:
            for name in cluster.store.terminating_namespaces(NAMESPACE_FINALIZE_DELAY):
                cluster.store.finalize_namespace(name)
                ran += 1
        for loop_fn in list(cluster.loops):
            try:
                loop_fn()
            except Exception:
                log.exception("control-plane loop failed in cluster %s", cluster.id)
            ran += 1
        return ran

    def get_cluster(self, cluster_id: str) -> Cluster:
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise ApiError(404, f'cluster "{cluster_id}" not found')
        return cluster

    def delete_cluster(self, cluster_id: str) -> None:
        """Remove a cluster and end its watches; 404 when unknown."""
        with self._lock:
            cluster = self.clusters.pop(cluster_id, None)
        if cluster is None:
            raise ApiError(404, f'cluster "{cluster_id}" not found')
        if self.journal is not None:
            self.journal.forget(cluster_id)
        self._pass_cost.pop(cluster_id, None)
        self._rest_until.pop(cluster_id, None)
        cluster.loops.clear()
        if hasattr(cluster.control_plane, "close"):
            cluster.control_plane.close()
        cluster.store.close_watches()

    def save_clusters(self, directory: Path) -> int:
        """Write every cluster's snapshot to `directory/{id}.json` (mode 0600, they hold
        credentials); files of clusters that no longer exist are removed. Returns how
        many were written."""
        directory.mkdir(parents=True, exist_ok=True)
        clusters = list(self.clusters.values())
        for cluster in clusters:
            target = directory / f"{cluster.id}.json"
            temporary = target.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(cluster.snapshot(), fh, separators=(",", ":"))
            temporary.replace(target)  # atomic: a crash never leaves half a snapshot
        keep = {f"{c.id}.json" for c in clusters}
        for stale in directory.glob("*.json"):
            if stale.name not in keep:
                stale.unlink()
        return len(clusters)

    def load_clusters(self, directory: Path) -> list[str]:
        """Recreate the clusters saved by `save_clusters`; unreadable files are skipped
        with a log line. Returns the ids loaded."""
        loaded = []
        for path in sorted(directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                log.warning("skipping cluster snapshot %s: %s", path, exc)
                continue
            cluster = self.add_snapshot(data, source=str(path))
            if cluster is not None:
                loaded.append(cluster.id)
        return loaded

    def add_snapshot(self, data: dict[str, Any], *, source: str = "") -> Cluster | None:
        """Recreate one cluster from its `Cluster.snapshot()` (with its id, credentials,
        node state and a manual clock where it stood) and register it; None (and a log
        line) for a malformed snapshot."""
        try:
            clock: Clock | None = None
            if data.get("clockKind") == "manual" and isinstance(data.get("clock"), str):
                # A manual clock resumes where it stood when the server saved it.
                clock = ManualClock(parse_time(data["clock"]))
            cluster = Cluster(
                data["id"],
                name=data.get("name"),
                labels=data.get("labels"),
                auth=ClusterAuth(data["auth"]["adminToken"], ca=self.ca),
                clock=clock,
            )
            cluster.restore(data)
            cluster.created_at = data.get("createdAt", cluster.created_at)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipping cluster snapshot %s: %s", source or data.get("id"), exc)
            return None
        with self._lock:
            self.clusters[cluster.id] = cluster
        self._attach_nodes(cluster, data.get("nodes"))
        self._run_hooks(cluster)
        return cluster

    def enable_journal(self, directory: Path, **options: Any) -> list[str]:
        """Persist every cluster continuously in `directory` (`persistence.ClusterJournal`:
        a write-ahead log of store writes plus snapshots), after recreating the clusters
        it holds (a clean shutdown's snapshots, or a crash's snapshots and log). Call
        before the server starts listening. Returns the ids recreated."""
        journal = ClusterJournal(directory, **options)
        loaded = []
        for data in journal.recover():
            cluster = self.add_snapshot(data, source=f"{directory}/{data.get('id')}.json")
            if cluster is None:
                continue
            meta = data.get("journal") or {}
            journal.attach(
                cluster,
                meta.get("incarnation"),
                write=False,
                replayed=bool(meta.get("replayed")),
            )
            loaded.append(cluster.id)
        journal.start()
        self.journal = journal
        return loaded

    def persist(self, cluster: Cluster) -> None:
        """After a change that is not a store write (node files, clocks, credentials,
        a restore): write the cluster's snapshot now when persistence is on."""
        if self.journal is not None:
            self.journal.snapshot_now(cluster)
