"""Continuous persistence of a simulator server's clusters: a write-ahead log of store
mutations plus periodic snapshots that truncate it, so a server killed with SIGKILL
restarts with its clusters, their objects, credentials, node files and clocks.

Layout of the directory (every file mode 0600, they hold credentials):

    {id}.json           the cluster's last snapshot (`Cluster.snapshot()`, the format
                        `SimServer.load_clusters` reads) with `journal.incarnation`
    wal-NNNNNNNN.log    the log: one JSON record per line, appended with one
                        `os.write` per record (O_APPEND), oldest segment first

Records: a store write `{"c": id, "i": incarnation, "t": ADDED|MODIFIED|DELETED,
"g": group, "p": plural, "rv": resourceVersion, "o": object}`, a credential change
`{"c", "i", "auth": ClusterAuth.dump()}` and a deleted cluster `{"c", "i", "x": 1}`.
The incarnation (random per created cluster) keeps the records of a deleted cluster
away from a new one that reuses its id.

When is what durable:
- Kubernetes objects: each committed write is handed to the kernel before the
  request answers, so a killed process loses none; a background thread fsyncs the
  log every `FSYNC_INTERVAL` seconds, so a machine crash loses at most that much.
- Credentials (admin token, issued tokens and client certificates): logged by the
  same thread within `FSYNC_INTERVAL` of being issued.
- A new cluster's snapshot is written (and fsynced) before its id is returned; admin
  operations that change node files, users, the clock or the whole state (restore)
  write the cluster's snapshot before they answer.
- State that is not a Kubernetes object and changes on its own (container logs, the
  kubelets' bookkeeping) is as of the cluster's last snapshot: at most
  `CHECKPOINT_SECONDS` old.

A checkpoint (every `CHECKPOINT_SECONDS`, or once the log holds `CHECKPOINT_BYTES`)
starts a new log segment, snapshots every cluster written since its last snapshot and
deletes the older segments. Recovery reads the snapshots, applies the log records newer
than each snapshot (per object the highest resourceVersion wins, so the order hooks
log nested writes in does not matter), rebuilds the clusters and checkpoints at once
(rewriting the snapshots of the clusters the log changed).
A torn last record (the process died mid-write) is skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.sim.machinery.cluster import Cluster
from app.sim.machinery.watch import DELETED, WatchEvent

log = logging.getLogger(__name__)

# Seconds between fsyncs of the log (the loss window on a machine crash).
FSYNC_INTERVAL = 0.2
# Seconds between checkpoints, and the log size that forces one sooner.
CHECKPOINT_SECONDS = 60.0
CHECKPOINT_BYTES = 64 * 1024 * 1024
WAL_PREFIX = "wal-"
WAL_SUFFIX = ".log"


@dataclass
class _Tracked:
    cluster: Cluster
    incarnation: str
    hook: Callable[[WatchEvent], None]
    # Written since its last snapshot (cleared before a snapshot is taken, so a write
    # racing the snapshot marks it again).
    dirty: bool = False
    auth_seen: tuple[int, int] = (0, 0)
    # Heartbeat Leases written since its last snapshot (see `_heartbeat_lease`).
    beats: bool = False


# Leases the control plane renews on its own timers (node heartbeats every 10 s, the
# leader Leases every 2 s). Their writes are logged like any other, but they alone do
# not make a cluster's snapshot stale: otherwise every idle cluster would be
# snapshotted again at every checkpoint. A checkpoint instead logs their current
# state again in the new segment (`_carry_leases`), so nothing is lost with the
# older segments and the resourceVersion never goes back after a recovery.
_HEARTBEAT_LEASES = {
    "kube-node-lease": None,
    "kube-system": ("kube-scheduler", "kube-controller-manager"),
}


def _heartbeat_lease(event: WatchEvent) -> bool:
    if event.plural != "leases" or event.namespace not in _HEARTBEAT_LEASES:
        return False
    names = _HEARTBEAT_LEASES[event.namespace]
    return names is None or event.name in names


def _auth_fingerprint(cluster: Cluster) -> tuple[int, int]:
    # Credentials are only ever added between restores; their counts tell a change.
    return len(cluster.auth.tokens), len(cluster.auth.client_cert_serials)


def _write_private(path: Path, data: bytes, *, sync: bool) -> None:
    """Write `data` to `path` atomically (temporary file, rename), mode 0600."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    temporary.replace(path)
    if sync:
        _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """fsync a directory, so a rename or a new file in it survives a machine crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ClusterJournal:
    """The log and snapshots of one server's clusters in `directory`.

    Use: `recover()` (the clusters' snapshots with the log applied, for the server to
    rebuild), `attach(cluster, incarnation)` for each cluster held, `start()`; then
    `forget(id)` when a cluster is deleted, `snapshot_now(cluster)` after an admin
    change that is not a store write, and `close()` on a clean shutdown (a final
    checkpoint: every cluster snapshotted, the log emptied).
    """

    def __init__(
        self,
        directory: Path,
        *,
        fsync_interval: float = FSYNC_INTERVAL,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        checkpoint_bytes: int = CHECKPOINT_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.fsync_interval = fsync_interval
        self.checkpoint_seconds = checkpoint_seconds
        self.checkpoint_bytes = checkpoint_bytes
        self._tracked: dict[str, _Tracked] = {}
        # Guards the log file descriptor and its counters (held for one os.write).
        self._wal_lock = threading.Lock()
        # Guards snapshot files against a cluster being forgotten while one is written.
        self._files_lock = threading.RLock()
        self._fd: int | None = None
        self._segment = 0
        self._segment_bytes = 0
        self._unsynced = False
        self._last_checkpoint = time.monotonic()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.write_errors = 0
        # Figures of the last recovery and checkpoint (for logs and the benchmark).
        self.stats: dict[str, float] = {}

    # ---- files -----------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{WAL_PREFIX}*{WAL_SUFFIX}"))

    def _snapshot_path(self, cluster_id: str) -> Path:
        return self.directory / f"{cluster_id}.json"

    def _open_segment(self, number: int) -> None:
        path = self.directory / f"{WAL_PREFIX}{number:08d}{WAL_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _sync_directory(self.directory)
        with self._wal_lock:
            old, self._fd = self._fd, fd
            self._segment = number
            self._segment_bytes = 0
            self._unsynced = False
        if old is not None:
            os.fsync(old)
            os.close(old)

    # ---- recovery --------------------------------------------------------------------

    def recover(self) -> list[dict[str, Any]]:
        """The clusters' snapshots in `directory` with the log applied, sorted by id.
        Unreadable snapshots are skipped with a log line. Does not change any file."""
        began = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        snapshots: dict[str, dict[str, Any]] = {}
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_bytes())
                snapshots[str(data["id"])] = data
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping cluster snapshot %s: %s", path, exc)
        replay = _Replay(snapshots)
        records = 0
        for segment in self._segments():
            with open(segment, "rb") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        # A record cut short by the crash (only the last can be).
                        log.warning("skipping a torn record in %s", segment.name)
                        continue
                    replay.apply(record)
                    records += 1
        result = replay.finish()
        self.stats.update(
            recover_seconds=time.monotonic() - began,
            recovered_clusters=len(result),
            replayed_records=records,
        )
        return result

    # ---- clusters --------------------------------------------------------------------

    def attach(
        self,
        cluster: Cluster,
        incarnation: str | None = None,
        *,
        write: bool = True,
        replayed: bool = False,
    ) -> str:
        """Log `cluster`'s store writes from now on and (with `write`) write its
        snapshot, fsynced, now. A new cluster gets a fresh incarnation; returns it.
        Without `write` (a recovered cluster) the next checkpoint snapshots it only
        when the log changed it (`replayed`)."""
        if incarnation is None:
            # New, or saved before the journal existed: its snapshot needs one.
            incarnation, replayed = secrets.token_hex(6), True
        tracked = _Tracked(cluster, incarnation, hook=lambda _e: None)
        header = (
            b'{"c":' + json.dumps(cluster.id).encode() + b',"i":"' + incarnation.encode() + b'"'
        )

        def hook(event: WatchEvent) -> None:
            # Under the cluster's store lock: one record, one write, nothing else.
            line = b"".join(
                (
                    header,
                    b',"t":"',
                    event.type.encode(),
                    b'","g":"',
                    event.group.encode(),
                    b'","p":"',
                    event.plural.encode(),
                    b'","rv":',
                    str(event.resource_version).encode(),
                    b',"o":',
                    event.data,
                    b"}\n",
                )
            )
            if _heartbeat_lease(event):
                tracked.beats = True
            else:
                tracked.dirty = True
            self._append(line)

        tracked.hook = hook
        with self._files_lock:
            self._tracked[cluster.id] = tracked
            cluster.store.after_write.append(hook)
            if write:
                self._write_snapshot(tracked)
            else:
                tracked.dirty = replayed
        return incarnation

    def forget(self, cluster_id: str) -> None:
        """Stop logging a deleted cluster and remove its snapshot."""
        with self._files_lock:
            tracked = self._tracked.pop(cluster_id, None)
            if tracked is None:
                return
            with contextlib.suppress(ValueError):
                tracked.cluster.store.after_write.remove(tracked.hook)
            self._append(
                json.dumps({"c": cluster_id, "i": tracked.incarnation, "x": 1}).encode() + b"\n"
            )
            self._snapshot_path(cluster_id).unlink(missing_ok=True)

    def snapshot_now(self, cluster: Cluster) -> None:
        """Write `cluster`'s snapshot (fsynced) now: after an admin change of node
        files, users, the clock or the whole state."""
        with self._files_lock:
            tracked = self._tracked.get(cluster.id)
            if tracked is not None and tracked.cluster is cluster:
                self._write_snapshot(tracked)

    def _carry_leases(self, tracked: _Tracked) -> None:
        """Log the heartbeat Leases of a cluster whose snapshot is otherwise current
        into the log's new segment (a checkpoint is about to delete the older ones)."""
        tracked.beats = False
        store = tracked.cluster.store
        leases = store.list("coordination.k8s.io", "leases", "kube-node-lease")[0]
        for name in _HEARTBEAT_LEASES["kube-system"] or ():
            lease = store.get("coordination.k8s.io", "leases", "kube-system", name)
            leases += [lease] if lease is not None else []
        for lease in leases:
            meta = lease["metadata"]
            record = {
                "c": tracked.cluster.id,
                "i": tracked.incarnation,
                "t": "MODIFIED",
                "g": "coordination.k8s.io",
                "p": "leases",
                "rv": int(meta.get("resourceVersion") or 0),
                "o": lease,
            }
            self._append(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    def _write_snapshot(self, tracked: _Tracked) -> None:
        tracked.dirty = False
        tracked.beats = False
        tracked.auth_seen = _auth_fingerprint(tracked.cluster)
        data = tracked.cluster.snapshot()
        data["journal"] = {"incarnation": tracked.incarnation}
        body = json.dumps(data, separators=(",", ":")).encode()
        _write_private(self._snapshot_path(tracked.cluster.id), body, sync=True)

    def _append(self, line: bytes) -> None:
        try:
            with self._wal_lock:
                if self._fd is None:
                    return
                os.write(self._fd, line)
                self._segment_bytes += len(line)
                self._unsynced = True
        except OSError as exc:
            # The write itself must not fail the API request; the cluster stays dirty
            # and the next checkpoint snapshots it.
            self.write_errors += 1
            if self.write_errors == 1 or self.write_errors % 1000 == 0:
                log.error("cluster log write failed (%d so far): %s", self.write_errors, exc)

    # ---- background work ---------------------------------------------------------------

    def start(self) -> None:
        """Checkpoint (fresh snapshots of the clusters the log changed, a new log
        segment, older segments removed) and start the thread that fsyncs the log and
        checkpoints periodically."""
        self.checkpoint()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-journal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.fsync_interval):
            try:
                self._log_auth_changes()
                self.sync()
                due = time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds
                if due or self._segment_bytes >= self.checkpoint_bytes:
                    self.checkpoint()
            except Exception:
                log.exception("cluster journal pass failed")

    def _log_auth_changes(self) -> None:
        for tracked in list(self._tracked.values()):
            seen = _auth_fingerprint(tracked.cluster)
            if seen != tracked.auth_seen:
                tracked.auth_seen = seen
                tracked.dirty = True
                record = {
                    "c": tracked.cluster.id,
                    "i": tracked.incarnation,
                    "auth": tracked.cluster.auth.dump(),
                }
                self._append(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    def sync(self) -> None:
        """fsync the log if anything was written since the last fsync."""
        with self._wal_lock:
            fd, pending = self._fd, self._unsynced
            self._unsynced = False
        if fd is not None and pending:
            os.fsync(fd)

    def checkpoint(self, *, every_cluster: bool = False) -> int:
        """Start a new log segment, snapshot the clusters written since their last
        snapshot (all with `every_cluster`), then delete the older segments. Returns
        how many snapshots were written."""
        began = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        older = self._segments()
        last = max((int(p.name[len(WAL_PREFIX) : -len(WAL_SUFFIX)]) for p in older), default=0)
        self._open_segment(max(last, self._segment) + 1)
        written = 0
        for tracked in list(self._tracked.values()):
            if not (every_cluster or tracked.dirty):
                if tracked.beats:
                    self._carry_leases(tracked)
                continue
            with self._files_lock:
                if self._tracked.get(tracked.cluster.id) is not tracked:
                    continue  # deleted meanwhile
                try:
                    self._write_snapshot(tracked)
                except Exception:
                    tracked.dirty = True
                    log.exception("snapshot of cluster %s failed", tracked.cluster.id)
                    # Keep the older segments: they still hold what the snapshot lacks.
                    # The next checkpoint (not the next pass) tries again.
                    self._last_checkpoint = time.monotonic()
                    return written
                written += 1
        for path in older:
            path.unlink(missing_ok=True)
        self._last_checkpoint = time.monotonic()
        self.stats.update(checkpoint_seconds=self._last_checkpoint - began, snapshots=written)
        return written

    def close(self) -> int:
        """Stop the thread and checkpoint every cluster (a clean shutdown leaves only
        snapshots and an empty log). Returns how many snapshots were written."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        written = self.checkpoint(every_cluster=True)
        with self._wal_lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.fsync(fd)
            os.close(fd)
        return written


class _Replay:
    """Applies log records to snapshots (as plain data) during recovery."""

    def __init__(self, snapshots: dict[str, dict[str, Any]]) -> None:
        self.snapshots = snapshots
        # cluster id -> (group, plural) -> (namespace, name) -> (rv, object or None)
        self.objects: dict[str, dict[tuple[str, str], dict[tuple[str, str], tuple]]] = {}
        self.rv: dict[str, int] = {}
        # Clusters the log changed: their snapshots are rewritten at start-up.
        self.touched: set[str] = set()

    def _incarnation(self, cluster_id: str) -> str | None:
        data = self.snapshots.get(cluster_id)
        if data is None:
            return None
        return (data.get("journal") or {}).get("incarnation")

    def _objects(self, cluster_id: str) -> dict[tuple[str, str], dict[tuple[str, str], tuple]]:
        table = self.objects.get(cluster_id)
        if table is None:
            store = self.snapshots[cluster_id].get("store") or {}
            table = {}
            for kind_key, items in (store.get("objects") or {}).items():
                group, _, plural = kind_key.rpartition("/")
                bucket = table.setdefault((group, plural), {})
                for obj in items:
                    meta = obj.get("metadata") or {}
                    rv = int(meta.get("resourceVersion") or 0)
                    bucket[(meta.get("namespace") or "", meta.get("name") or "")] = (rv, obj)
            self.objects[cluster_id] = table
            self.rv[cluster_id] = int(store.get("resourceVersion") or 0)
        return table

    def apply(self, record: dict[str, Any]) -> None:
        cluster_id = record.get("c")
        if not isinstance(cluster_id, str) or record.get("i") != self._incarnation(cluster_id):
            return  # a cluster deleted (or never snapshotted) before the crash
        if record.get("x"):
            self.snapshots.pop(cluster_id, None)
            self.objects.pop(cluster_id, None)
            return
        self.touched.add(cluster_id)
        if "auth" in record:
            auth = self.snapshots[cluster_id].setdefault("auth", {})
            tokens = auth.setdefault("tokens", {})
            tokens.update(record["auth"].get("tokens") or {})
            serials = set(auth.get("clientCertSerials") or [])
            serials.update(record["auth"].get("clientCertSerials") or [])
            auth["clientCertSerials"] = sorted(serials)
            return
        table = self._objects(cluster_id)
        obj = record["o"]
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        bucket = table.setdefault((record["g"], record["p"]), {})
        rv = int(record["rv"])
        current = bucket.get(key)
        if current is not None and current[0] >= rv:
            return  # the snapshot (or a later record) is newer
        bucket[key] = (rv, None if record["t"] == DELETED else obj)
        self.rv[cluster_id] = max(self.rv[cluster_id], rv)

    def finish(self) -> list[dict[str, Any]]:
        for cluster_id in self.touched:
            if cluster_id in self.snapshots:
                self.snapshots[cluster_id].setdefault("journal", {})["replayed"] = True
        for cluster_id, table in self.objects.items():
            data = self.snapshots.get(cluster_id)
            if data is None:
                continue
            data["store"] = {
                "resourceVersion": self.rv[cluster_id],
                "objects": {
                    f"{group}/{plural}": [
                        obj for _, (_, obj) in sorted(bucket.items()) if obj is not None
                    ]
                    for (group, plural), bucket in table.items()
                },
            }
        return [self.snapshots[k] for k in sorted(self.snapshots)]
