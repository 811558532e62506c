"""The simulator's HTTP(S) server: many clusters behind one aiohttp application.

    /clusters/{id}/api/...            the Kubernetes API of one cluster
    /clusters/{id}/apis/...
    /clusters/{id}/version, /openapi/v2, /openapi/v3, /healthz, /livez, /readyz
    /admin/clusters[...]             create, list, delete, snapshot, restore clusters
                                     (bearer admin token)
    /healthz, /livez, /readyz        the server itself

This module only translates HTTP to `pipeline.ApiRequest` and back and streams watches;
every Kubernetes behaviour lives in the pipeline and the modules it calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from app.sim import controlplane
from app.sim.apiserver import discovery, openapi
from app.sim.apiserver.pipeline import (
    JSON,
    ApiRequest,
    ApiResponse,
    RequestContext,
    authenticate,
    authorize,
    bookmark_object,
    handle,
    plan_watch,
    stage_module,
    watch_object,
)
from app.sim.bootstrap import create_cluster, validate_shape
from app.sim.machinery.clock import Clock, ManualClock, WallClock, parse_time
from app.sim.machinery.cluster import ADMIN_USER, Cluster, ClusterAuth, new_token
from app.sim.machinery.errors import ApiError
from app.sim.machinery.kubeconfig import build_kubeconfig, dump_kubeconfig
from app.sim.machinery.limits import (
    ClusterLimits,
    RateLimiter,
    client_request,
    retry_after,
    too_many_requests,
)
from app.sim.machinery.tls import KeyPair, generate_ca, issue_server_cert, server_ssl_context
from app.sim.machinery.watch import BOOKMARK, ERROR

log = logging.getLogger(__name__)

# A bookmark every minute on idle watches that allow them (the upstream watch cache
# sends one about every 60 s), which also notices clients that went away.
BOOKMARK_INTERVAL = 60.0
# How often an idle watch checks whether its client disconnected.
IDLE_CHECK = 5.0
# A watcher this many events behind is cut off; the client re-lists, as with the
# upstream cacher's slow-consumer termination.
WATCH_QUEUE_LIMIT = 10_000
# `kubectl logs -f`: how often new lines are looked for, and the longest a follow
# lasts (the API server's request timeout for long-running requests, 1800 s).
LOG_POLL_INTERVAL = 0.2
DEFAULT_LOG_FOLLOW_SECONDS = 1800.0
# How often the server runs each cluster's control-plane loops (wall seconds).
LOOP_INTERVAL = 0.25
# A deleted namespace stays Terminating at least this long (wall seconds) before the
# fallback finishes it, so `kubectl delete -f` of a namespace and its objects still
# finds the objects, as with the upstream namespace controller's delay.
NAMESPACE_FINALIZE_DELAY = 1.0
DEFAULT_MAX_CLUSTERS = 500
MAX_BODY = 3 * 1024 * 1024  # 3 MiB, kube-apiserver's default request size limit
# Threads that run API requests off the event loop (decoding, admission, validation,
# patching, table printing, encoding large lists). One request per cluster runs at a
# time, so a cluster flooded with heavy requests holds at most one of them.
REQUEST_THREADS = 16
# A watch yields to the event loop after this many events written in a row (a large
# initial list, a burst), so one stream never holds the loop.
WATCH_YIELD_EVERY = 64
# Seconds a thread may hold the interpreter lock before another may take it.
GIL_SWITCH_INTERVAL = 0.001
# Answers larger than this are written piece by piece (see `_send`).
STREAM_ABOVE = 256 * 1024
# Retry-After of a watch refused for the watch limits.
WATCH_RETRY_SECONDS = 5
# The id under which requests for clusters that do not exist are answered: an
# anonymous request gets what an existing cluster answers it (see _unknown_cluster).
_STAND_IN_ID = "-unknown"  # not a DNS label: no real cluster can have it

_CLUSTER_ID_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HEALTH_CHECKS = (
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/bootstrap-controller",
)


def _new_cluster_id() -> str:
    return "c" + secrets.token_hex(5)


class SimServer:
    """Holds the clusters and serves them over HTTPS (or plain HTTP when `tls=False`)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6443,
        tls: bool = True,
        admin_token: str | None = None,
        max_clusters: int = DEFAULT_MAX_CLUSTERS,
        advertise_host: str | None = None,
        ca: KeyPair | None = None,
        node_agents: bool = True,
        control_plane: bool = True,
        drive_wall_clock: bool = True,
        limits: ClusterLimits | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.admin_token = admin_token or new_token()
        self.max_clusters = max_clusters
        # Give each cluster node agents (file systems, shells) for the node-access API.
        self.node_agents = node_agents
        self.advertise_host = advertise_host
        self.clusters: dict[str, Cluster] = {}
        self._lock = threading.Lock()
        # A CA kept from an earlier run keeps the kubeconfigs it signed valid.
        self.ca = (ca or generate_ca()) if tls else None
        self.server_cert = (
            issue_server_cert(self.ca, [host, *([advertise_host] if advertise_host else [])])
            if self.ca is not None
            else None
        )
        self.started_at = time.time()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        # Called with each new or reloaded cluster, e.g. to attach its control plane.
        self.cluster_hooks: list[Callable[[Cluster], None]] = []
        # Every cluster gets kubelets, kube-scheduler and kube-controller-manager; the
        # server's loop ticks wall-clock clusters when `drive_wall_clock` (a manual
        # clock only moves through `POST /admin/clusters/{id}/tick`).
        self.drive_wall_clock = drive_wall_clock
        if control_plane and node_agents:
            self.cluster_hooks.append(self._attach_control_plane)
        self._loop_task: asyncio.Task | None = None
        # Per-cluster limits (docs/operations.md, "Simulator limits") and their state.
        self.limits = limits or ClusterLimits()
        self._executor = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="sim-request")
        self._cluster_locks: dict[str, asyncio.Lock] = {}
        self._rates: dict[str, RateLimiter] = {}
        self._watches: dict[tuple[str, str], int] = {}
        self._stand_in: Cluster | None = None

    # ---- clusters --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = self.advertise_host or self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    def cluster_url(self, cluster_id: str) -> str:
        return f"{self.base_url}/clusters/{cluster_id}"

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
        cluster.store.limits = self.limits.storage
        self._attach_nodes(cluster)
        self._run_hooks(cluster)
        return cluster

    def _attach_nodes(self, cluster: Cluster, saved: dict[str, Any] | None = None) -> None:
        """Node agents for a cluster when the nodes module is available (its files and
        shell serve the node-access API; nothing runs until a loop syncs them)."""
        nodes = stage_module("nodes") if self.node_agents else None
        if nodes is None or not hasattr(nodes, "ClusterNodes"):
            return
        try:
            cluster.node_access = nodes.ClusterNodes(cluster)
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
        """One pass of every cluster's control-plane loops; returns how many ran. A loop
        that raises is logged and runs again next pass (it never stops the others).

        A cluster without loops (no control plane attached) still gets its Terminating
        namespaces finished, as the namespace controller would."""
        ran = 0
        for cluster in list(self.clusters.values()):
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

    def _has_work(self) -> bool:
        return any(
            c.loops or c.store.terminating_namespaces(NAMESPACE_FINALIZE_DELAY)
            for c in list(self.clusters.values())
        )

    async def _drive_loops(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(LOOP_INTERVAL)
            # On worker threads: a slow controller pass (or a store held by a long
            # write) never stalls API requests.
            if await loop.run_in_executor(None, self._has_work):
                await loop.run_in_executor(None, self.run_loops)

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
        self._rates.pop(cluster_id, None)
        self._cluster_locks.pop(cluster_id, None)
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
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping cluster snapshot %s: %s", path, exc)
                continue
            cluster.store.limits = self.limits.storage
            with self._lock:
                self.clusters[cluster.id] = cluster
            self._attach_nodes(cluster, data.get("nodes"))
            self._run_hooks(cluster)
            loaded.append(cluster.id)
        return loaded

    def kubeconfig(
        self,
        cluster: Cluster,
        *,
        user: str = ADMIN_USER,
        token: str | None = None,
        client_cert: tuple[bytes, bytes] | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """A kubeconfig for `cluster`: the admin token unless another credential is given."""
        if token is None and client_cert is None:
            token = cluster.auth.admin_token
        return build_kubeconfig(
            cluster_name=cluster.name,
            server=self.cluster_url(cluster.id),
            user=user,
            token=token,
            client_cert_pem=client_cert[0] if client_cert else None,
            client_key_pem=client_cert[1] if client_cert else None,
            ca_pem=self.ca.cert_pem if self.ca is not None else None,
            namespace=namespace,
        )

    def add_user(
        self, cluster: Cluster, user: str, groups: tuple[str, ...] = (), *, cert: bool = False
    ) -> dict[str, Any]:
        """Issue a credential for a lab user and return a kubeconfig using it."""
        if cert:
            pair = cluster.auth.issue_client_cert(user, groups)
            return self.kubeconfig(cluster, user=user, client_cert=(pair.cert_pem, pair.key_pem))
        token = cluster.auth.add_token(user, groups)
        return self.kubeconfig(cluster, user=user, token=token)

    # ---- aiohttp application ---------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/clusters/"):
                return await self._cluster_request(request)
            if path == "/admin/clusters" or path.startswith("/admin/clusters/"):
                return await self._admin(request)
            if path in ("/healthz", "/livez", "/readyz") or path.startswith(
                ("/healthz/", "/livez/", "/readyz/")
            ):
                return _health(request)
            if path in ("/", ""):
                return _json(
                    200,
                    {
                        "paths": [
                            "/admin/clusters",
                            "/clusters/{id}",
                            "/healthz",
                            "/livez",
                            "/readyz",
                        ]
                    },
                )
            raise ApiError(404, "the server could not find the requested resource", details={})
        except ApiError as exc:
            response = _json(exc.code, exc.status())
            wait = retry_after(exc)
            if wait is not None:
                response.headers["Retry-After"] = wait
            return response
        except web.HTTPException as exc:
            # aiohttp's own refusals (413 for a body over MAX_BODY, ...) as Status too.
            return _json(exc.status, ApiError(exc.status, exc.reason).status())
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, path)
            return _json(500, ApiError(500, "Internal error occurred").status())

    # ---- admin API -------------------------------------------------------------------

    def _check_admin(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        supplied = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not supplied or not secrets.compare_digest(supplied, self.admin_token):
            raise ApiError(401, "Unauthorized")

    def cluster_document(self, cluster: Cluster, *, with_kubeconfig: bool = False) -> dict:
        doc = {**cluster.summary(), "server": self.cluster_url(cluster.id)}
        if with_kubeconfig:
            doc["token"] = cluster.auth.admin_token
            doc["kubeconfig"] = dump_kubeconfig(self.kubeconfig(cluster))
        return doc

    async def _admin(self, request: web.Request) -> web.StreamResponse:
        self._check_admin(request)
        parts = request.path.strip("/").split("/")[2:]  # after admin/clusters
        method = request.method
        if not parts:
            if method == "GET":
                return _json(
                    200,
                    {
                        "items": await self._in_thread(
                            lambda: [self.cluster_document(c) for c in list(self.clusters.values())]
                        ),
                        "capacity": self.max_clusters,
                    },
                )
            if method == "POST":
                body = await _json_body(request)
                labels = body.get("labels") or {}
                if not isinstance(labels, dict):
                    raise ApiError(422, "labels must be an object of strings")
                nodes = body.get("nodes", 3)
                if not isinstance(nodes, int) or isinstance(nodes, bool):
                    raise ApiError(422, "nodes must be an integer")
                speed = body.get("clockSpeed", 1)
                if (
                    isinstance(speed, bool)
                    or not isinstance(speed, (int, float))
                    or not (0 < speed <= 1000)
                ):
                    raise ApiError(422, "clockSpeed must be a number in (0, 1000]")
                clock_kind = body.get("clock", "wall")
                if clock_kind not in ("wall", "manual"):
                    raise ApiError(422, 'clock must be "wall" or "manual"')
                clock: Clock = (
                    ManualClock(_manual_start(body.get("clockStart")))
                    if clock_kind == "manual"
                    else WallClock(speed=float(speed))
                )
                shape = body.get("shape")
                if shape is not None:
                    if not isinstance(shape, dict) or not isinstance(shape.get("nodes"), list):
                        raise ApiError(422, "invalid cluster shape: shape.nodes must be a list")
                    if "nodes" in body and body["nodes"] != len(shape["nodes"]):
                        raise ApiError(
                            422,
                            "nodes must equal the number of the shape's nodes when both are given",
                        )
                    nodes = len(shape["nodes"])
                cluster = self.create_cluster(
                    shape=shape,
                    nodes=nodes,
                    cluster_id=body.get("id"),
                    name=body.get("name"),
                    labels={str(k): str(v) for k, v in labels.items()},
                    clock=clock,
                )
                return _json(201, self.cluster_document(cluster, with_kubeconfig=True))
            raise ApiError(405, "method not allowed")
        cluster = self.get_cluster(parts[0])
        action = parts[1] if len(parts) > 1 else ""
        if action == "" and method == "GET":
            return _json(
                200,
                await self._in_thread(self.cluster_document, cluster, with_kubeconfig=True),
            )
        if action == "" and method == "DELETE":
            self.delete_cluster(cluster.id)
            return _json(200, {"id": cluster.id, "deleted": True})
        if action == "kubeconfig" and method == "GET":
            return web.Response(
                text=dump_kubeconfig(self.kubeconfig(cluster)), content_type="application/yaml"
            )
        if action == "snapshot" and method in ("GET", "POST"):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, lambda: _json(200, cluster.snapshot())
            )
        if action == "restore" and method == "POST":
            data = await _json_body(request)
            if not isinstance(data.get("store"), dict):
                raise ApiError(422, "a snapshot needs a `store` object")
            plane = cluster.control_plane
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, _restore, cluster, data)
            except (KeyError, TypeError, ValueError) as exc:
                raise ApiError(422, f"malformed snapshot: {exc}") from None
            if plane is not None:
                # The kubelets catch up with the restored state before anyone reads it.
                await loop.run_in_executor(None, plane.settle)
            return _json(200, self.cluster_document(cluster))
        if action == "tick" and method == "POST":
            return await self._tick(request, cluster)
        if action == "controlplane" and method == "GET":
            plane = cluster.control_plane
            if plane is None:
                raise ApiError(404, "this cluster has no control plane")
            return _json(200, plane.status())
        if action == "nodes":
            return await self._node_access(request, cluster, parts[2:])
        if action == "users" and method == "POST":
            body = await _json_body(request)
            user = body.get("name")
            if not isinstance(user, str) or not user:
                raise ApiError(422, "a user needs a name")
            groups = tuple(str(g) for g in body.get("groups") or ())
            cert = body.get("credential", "token") == "certificate"
            if cert and not self.tls:
                raise ApiError(422, "client certificates need a server running with TLS")
            config = self.add_user(cluster, user, groups, cert=cert)
            return _json(201, {"name": user, "kubeconfig": dump_kubeconfig(config)})
        raise ApiError(404, "the server could not find the requested resource", details={})

    async def _tick(self, request: web.Request, cluster: Cluster) -> web.StreamResponse:
        """`POST /admin/clusters/{id}/tick` `{"seconds": N}`: advance a manual clock by
        N seconds, settling the control plane at each step; answers `{"now": ISO}`."""
        body = await _json_body(request)
        seconds = body.get("seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ApiError(422, "seconds must be a number")
        if not 0 <= seconds <= controlplane.MAX_ADVANCE_SECONDS:
            raise ApiError(
                422, f"seconds must be between 0 and {controlplane.MAX_ADVANCE_SECONDS:.0f}"
            )
        plane = cluster.control_plane
        if plane is None:
            raise ApiError(409, "this cluster has no control plane to tick")
        if not plane.manual:
            raise ApiError(409, "this cluster follows the wall clock; only manual clocks tick")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, plane.advance, float(seconds))
        return _json(200, {"now": cluster.clock.now().isoformat()})

    async def _node_access(
        self, request: web.Request, cluster: Cluster, rest: list[str]
    ) -> web.StreamResponse:
        """`/admin/clusters/{id}/nodes[/{node}/files|exec]`: the node-access API the
        cluster provider and `certprep lab ssh` use (files and commands on a node)."""
        method = request.method
        if not rest:
            if method != "GET":
                raise ApiError(405, "method not allowed")
            items = []
            for node in await self._in_thread(lambda: cluster.store.list("", "nodes")[0]):
                labels = node["metadata"].get("labels") or {}
                roles = sorted(
                    key.split("/", 1)[1]
                    for key in labels
                    if key.startswith("node-role.kubernetes.io/")
                )
                conditions = (node.get("status") or {}).get("conditions") or []
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
                )
                items.append({"name": node["metadata"]["name"], "roles": roles, "ready": ready})
            return _json(200, {"items": items})
        node = rest[0]
        action = rest[1] if len(rest) > 1 else ""
        if await self._in_thread(cluster.store.get, "", "nodes", None, node) is None:
            raise ApiError(404, f'node "{node}" not found')
        access = cluster.node_access
        if access is None:
            raise ApiError(
                501,
                "node access is not available: no node agents run in this cluster",
                reason="NotImplemented",
            )
        loop = asyncio.get_running_loop()
        if action == "files" and method in ("GET", "PUT"):
            path = request.query.get("path", "")
            if not path.startswith("/"):
                raise ApiError(422, "path must be an absolute path")
            try:
                if method == "GET":
                    content = await loop.run_in_executor(None, access.read_file, node, path)
                    return _json(200, {"node": node, "path": path, "content": content})
                body = await _json_body(request)
                content = body.get("content")
                if not isinstance(content, str):
                    raise ApiError(422, "content must be a string")
                await loop.run_in_executor(None, access.write_file, node, path, content)
                return _json(200, {"node": node, "path": path, "size": len(content)})
            except KeyError:
                raise ApiError(404, f'node "{node}" not found') from None
            except OSError as exc:
                code = 404 if method == "GET" else 422
                raise ApiError(code, str(exc)) from None
        if action == "exec" and method == "POST":
            body = await _json_body(request)
            command = body.get("command")
            if not isinstance(command, str) or not command.strip():
                raise ApiError(422, "command must be a non-empty string")
            try:
                result = await loop.run_in_executor(None, lambda: access.shell(node).run(command))
            except KeyError:
                raise ApiError(404, f'node "{node}" not found') from None
            return _json(
                200,
                {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr},
            )
        raise ApiError(404, "the server could not find the requested resource", details={})

    # ---- cluster API -----------------------------------------------------------------

    async def _cluster_request(self, request: web.Request) -> web.StreamResponse:
        _, _, rest = request.path.partition("/clusters/")
        cluster_id, _, tail = rest.partition("/")
        tail = "/" + tail
        parts = [p for p in tail.split("/") if p]
        # Public information (upstream's system:public-info-viewer): the same answer
        # for every id, so it tells nobody whether a cluster exists.
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return _health(request, prefix=f"/clusters/{cluster_id}")
        if parts == ["version"]:
            return _json(200, discovery.version_info())
        peer_cert = _peer_cert(request)
        cluster = self.clusters.get(cluster_id) or self._unknown_cluster(request, peer_cert)
        # Every unknown id shares the stand-in's budget.
        wait = self._rate(cluster.id).acquire()
        if wait:
            raise too_many_requests(wait)
        query = {k: v for k, v in request.query.items()}
        headers = {k: v for k, v in request.headers.items()}
        if not parts:
            return _json(200, {"paths": _root_paths(cluster)})
        if (
            (parts[0] == "api" and len(parts) == 1)
            or (parts[0] == "apis" and len(parts) <= 3)
            or parts[0] == "openapi"
            or (parts[0] == "api" and len(parts) == 2)
        ):
            return await self._offload(
                cluster, self._non_resource, cluster, request, parts, tail, headers, peer_cert
            )
        # The body is read later, under the cluster's turn (see `_offload`).
        req = _resource_request(request.method, parts, query, headers, b"", peer_cert)
        if req is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        if req.verb == "watch" or (
            request.method == "GET" and req.name is None and query.get("watch") in ("true", "1")
        ):
            return await self._watch(request, cluster, req)
        if (req.group, req.plural, req.subresource) == ("", "pods", "log") and query.get(
            "follow"
        ) in ("true", "1"):
            return await self._follow_log(request, cluster, req)

        async def read_body() -> None:
            req.body = await request.read()

        response, chunks = await self._offload(
            cluster, _serve, cluster, req, before=read_body if request.can_read_body else None
        )
        return await _send(request, response, chunks)

    async def _offload(
        self,
        cluster: Cluster,
        fn: Callable[..., Any],
        *args: Any,
        before: Callable[[], Any] | None = None,
    ) -> Any:
        """Run `fn(*args)` as a client request on the request threads, one at a time
        per cluster: the event loop stays free for every other cluster meanwhile.
        `before` (reading the request body) runs first in the cluster's turn, so a
        cluster holds at most one body in memory however many uploads it starts."""
        lock = self._cluster_locks.get(cluster.id)
        if lock is None:
            lock = self._cluster_locks.setdefault(cluster.id, asyncio.Lock())
        loop = asyncio.get_running_loop()
        async with lock:
            if before is not None:
                await before()
            return await loop.run_in_executor(self._executor, _as_client, fn, *args)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` on a request thread (admin reads of every cluster's
        store: a store held by a long write must not stall the loop)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def _rate(self, cluster_id: str) -> RateLimiter:
        limiter = self._rates.get(cluster_id)
        if limiter is None:
            limiter = self._rates.setdefault(
                cluster_id,
                RateLimiter(self.limits.requests_per_second, self.limits.request_burst),
            )
        return limiter

    def _unknown_cluster(self, request: web.Request, peer_cert: bytes | None) -> Cluster:
        """A request for a cluster id that does not exist. With credentials it gets
        401, as credentials of another cluster get from an existing one; without, it is
        answered by an empty stand-in cluster (bootstrap RBAC, nothing else), so
        anonymous callers get exactly what any cluster answers them (403, or 404 for an
        unknown resource) and cannot tell which ids exist."""
        if request.headers.get("Authorization") or peer_cert is not None:
            raise ApiError(401, "Unauthorized")
        if self._stand_in is None:
            self._stand_in = create_cluster(_STAND_IN_ID, nodes=1)
            self._stand_in.store.limits = self.limits.storage
        return self._stand_in

    def _non_resource(
        self,
        cluster: Cluster,
        request: web.Request,
        parts: list[str],
        tail: str,
        headers: dict[str, str],
        peer_cert: bytes | None,
    ) -> web.StreamResponse:
        req = ApiRequest(
            request.method, headers=headers, peer_cert=peer_cert, non_resource_path=tail
        )
        ctx = RequestContext(cluster, req)
        authenticate(ctx)
        authorize(ctx)
        if request.method != "GET":
            raise ApiError(
                405,
                "the server does not allow this method on the requested resource",
                reason="MethodNotAllowed",
                details={},
            )
        accept = headers.get("Accept")
        registry = cluster.registry
        if parts == ["api"]:
            if discovery.wants_aggregated(accept):
                return _json(
                    200,
                    discovery.aggregated_discovery(registry, core=True),
                    content_type=discovery.AGGREGATED_MEDIA,
                )
            return _json(200, discovery.core_versions(f"{self.host}:{self.port}"))
        if parts == ["apis"]:
            if discovery.wants_aggregated(accept):
                return _json(
                    200,
                    discovery.aggregated_discovery(registry, core=False),
                    content_type=discovery.AGGREGATED_MEDIA,
                )
            return _json(200, discovery.api_group_list(registry))
        if parts[0] == "openapi":
            return self._openapi(cluster, parts, request)
        if parts[0] == "apis" and len(parts) == 2:
            versions = registry.groups().get(parts[1])
            if not versions:
                raise ApiError(404, "the server could not find the requested resource", details={})
            return _json(200, discovery.api_group(parts[1], versions))
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        doc = discovery.api_resource_list(registry, group, version)
        if doc is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        return _json(200, doc)

    def _openapi(self, cluster: Cluster, parts: list[str], request: web.Request):
        registry = cluster.registry
        if parts == ["openapi", "v2"]:
            if openapi.wants_v2_protobuf(request.headers.get("Accept")):
                # kubectl's resource builder (apply of a `kind: List`, unknown kinds)
                # reads the protobuf encoding of the v2 document.
                return web.Response(
                    body=openapi.v2_protobuf(registry),
                    headers={"Content-Type": openapi.V2_PROTOBUF_CONTENT_TYPE},
                )
            return web.Response(body=openapi.v2_document(registry), content_type=JSON)
        if parts == ["openapi", "v3"]:
            return _json(200, openapi.v3_index(registry, prefix=f"/clusters/{cluster.id}"))
        if len(parts) >= 3 and parts[:2] == ["openapi", "v3"]:
            target = openapi.parse_v3_path("/".join(parts[2:]))
            if target is not None:
                doc = openapi.v3_document(registry, *target)
                if doc is not None:
                    return web.Response(body=doc, content_type=JSON)
        raise ApiError(404, "the server could not find the requested resource", details={})

    async def _watch(
        self, request: web.Request, cluster: Cluster, req: ApiRequest
    ) -> web.StreamResponse:
        try:
            # Authorization reads the cluster's store: off the loop, as a store held
            # by a long write (a namespace deletion) must not stall other clusters.
            plan = await self._offload(cluster, plan_watch, cluster, req)
        except ApiError as exc:
            return _json(exc.code, exc.status())
        holder = (cluster.id, _credential(req))
        self._open_watch(holder)
        try:
            return await self._stream_watch(request, cluster, req, plan)
        finally:
            self._close_watch(holder)

    def _open_watch(self, holder: tuple[str, str]) -> None:
        """Count a new watch of `holder` (cluster id, credential); 429 past the limits
        of watches per credential or per cluster."""
        limits = self.limits
        per_cluster = sum(n for (cid, _), n in self._watches.items() if cid == holder[0])
        mine = self._watches.get(holder, 0)
        if (limits.watches_per_credential and mine >= limits.watches_per_credential) or (
            limits.watches_per_cluster and per_cluster >= limits.watches_per_cluster
        ):
            raise ApiError(
                429,
                f"too many watches: at most {limits.watches_per_credential} per credential "
                f"and {limits.watches_per_cluster} per cluster may be open",
                reason="TooManyRequests",
                details={"retryAfterSeconds": WATCH_RETRY_SECONDS},
            )
        self._watches[holder] = mine + 1

    def _close_watch(self, holder: tuple[str, str]) -> None:
        left = self._watches.get(holder, 0) - 1
        if left > 0:
            self._watches[holder] = left
        else:
            self._watches.pop(holder, None)

    async def _stream_watch(
        self, request: web.Request, cluster: Cluster, req: ApiRequest, plan: Any
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        queue: asyncio.Queue = asyncio.Queue()
        overflow = {"hit": False}
        # Bytes of object data queued for this watcher: a slow reader is cut off past
        # `watch_queue_bytes` (or WATCH_QUEUE_LIMIT events) and re-lists, as upstream's
        # cacher terminates slow watchers.
        queued = {"bytes": 0}
        byte_limit = self.limits.watch_queue_bytes

        def put(event: Any) -> None:
            size = len(getattr(event, "data", b""))
            if queue.qsize() >= WATCH_QUEUE_LIMIT or (
                byte_limit and queued["bytes"] + size > byte_limit
            ):
                overflow["hit"] = True
                return
            queued["bytes"] += size
            queue.put_nowait(event)

        def deliver(event: Any) -> None:
            if threading.get_ident() == loop_thread:
                put(event)
            else:
                loop.call_soon_threadsafe(put, event)

        store = cluster.store
        watch_list = req.query.get("sendInitialEvents") in ("true", "1")

        def subscribe() -> tuple[Any, int]:
            # On a request thread: replaying a large initial list (or history) never
            # holds the event loop. Under the store lock, so the end-of-initial-events
            # marker is queued behind the replay and before any live event.
            with store.lock:
                sub, start_rv = store.watch(
                    plan.rt.group,
                    plan.rt.plural,
                    deliver,
                    namespace=req.namespace,
                    label_selector=plan.label_selector,
                    field_selector=plan.field_selector,
                    resource_version=plan.resource_version,
                    send_initial=plan.send_initial,
                )
                if watch_list and plan.bookmarks:
                    deliver(("initial-end", start_rv))
            return sub, start_rv

        too_old: ApiError | None = None
        sub = None
        try:
            sub, _ = await self._offload(cluster, subscribe)
        except ApiError as exc:
            if exc.code != 410:
                return _json(exc.code, exc.status())
            too_old = exc
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        deadline = loop.time() + plan.timeout
        last_sent = loop.time()
        written = 0
        try:
            if too_old is not None:
                await _write_event(response, ERROR, too_old.status())
                return response
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0 or overflow["hit"]:
                    break
                written += 1
                if written % WATCH_YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let other requests in between events
                try:
                    if queue.empty():
                        item = await asyncio.wait_for(queue.get(), min(remaining, IDLE_CHECK))
                    else:
                        item = queue.get_nowait()
                    queued["bytes"] -= len(getattr(item, "data", b""))
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    if plan.bookmarks and loop.time() - last_sent >= BOOKMARK_INTERVAL:
                        await _write_event(
                            response, BOOKMARK, bookmark_object(plan, store.resource_version, False)
                        )
                        last_sent = loop.time()
                    continue
                if isinstance(item, tuple):
                    await _write_event(response, BOOKMARK, bookmark_object(plan, item[1], True))
                elif item.type == ERROR:
                    gone = ApiError(410, "the cluster was reset; re-list", reason="Expired")
                    await _write_event(response, ERROR, gone.status())
                    break
                elif plan.as_table:
                    await _write_event(response, item.type, watch_object(plan, item.object()))
                else:
                    # The stored bytes are already the object's JSON: no re-encoding per
                    # watcher, which keeps fan-out cheap.
                    await response.write(
                        b'{"type":"' + item.type.encode() + b'","object":' + item.data + b"}\n"
                    )
                last_sent = loop.time()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if sub is not None:
                store.unwatch(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    async def _follow_log(
        self, request: web.Request, cluster: Cluster, req: ApiRequest
    ) -> web.StreamResponse:
        """`kubectl logs -f`: the log so far, then new lines as they are appended, until
        the pod is gone or has finished, or the client leaves."""
        first = await self._offload(cluster, handle, cluster, req)
        if first.status != 200:
            return _to_web(first)
        namespace, name = req.namespace or "", req.name or ""

        def log_state(container: str) -> tuple[list[str], dict | None]:
            # The store is read on a request thread (see _watch).
            lines = cluster.container_log(namespace, name, container) or [] if container else []
            return lines, cluster.store.get("", "pods", namespace, name)

        _, pod = await self._offload(cluster, log_state, "")
        containers = [
            c.get("name") for c in ((pod or {}).get("spec") or {}).get("containers") or []
        ]
        container = req.query.get("container") or (containers[0] if containers else "")
        seen = len((await self._offload(cluster, log_state, container))[0])
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEFAULT_LOG_FOLLOW_SECONDS
        try:
            await response.write(first.encoded())
            while loop.time() < deadline:
                await asyncio.sleep(LOG_POLL_INTERVAL)
                if request.transport is None or request.transport.is_closing():
                    break
                lines, current = await self._offload(cluster, log_state, container)
                if len(lines) > seen:
                    text = "".join(
                        line if line.endswith("\n") else line + "\n" for line in lines[seen:]
                    )
                    await response.write(text.encode())
                    seen = len(lines)
                    continue
                phase = ((current or {}).get("status") or {}).get("phase")
                if current is None or phase in ("Succeeded", "Failed"):
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    # ---- running ---------------------------------------------------------------------

    def _ssl_context(self):
        if self.ca is None or self.server_cert is None:
            return None
        return server_ssl_context(self.ca, self.server_cert)

    async def start(self) -> None:
        """Start listening (in the running loop); port 0 picks a free port."""
        self._runner = web.AppRunner(
            self.build_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock, ssl_context=self._ssl_context())
        await site.start()
        self._loop = asyncio.get_running_loop()
        # Requests run on threads: the event loop waits for the interpreter lock at
        # each hand-over, up to the switch interval (5 ms by default) while a heavy
        # request runs. A shorter interval keeps other clusters' latency low.
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))
        self._loop_task = asyncio.create_task(self._drive_loops())
        # Build the OpenAPI documents of the built-in kinds off the request path: the
        # first `kubectl apply` would otherwise wait for them.
        threading.Thread(
            target=_warm_up, args=(self,), name="sim-openapi-warm-up", daemon=True
        ).start()

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for cluster in list(self.clusters.values()):
            cluster.store.close_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Idle request threads end; a later start() makes new ones.
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="sim-request")

    async def serve_forever(self) -> None:
        await self.start()
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await self.stop()

    def start_in_thread(self) -> SimServer:
        """Run the server in a daemon thread with its own loop; returns once listening.
        Raises the start-up error (e.g. port in use) in the caller."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_until_complete(self._wait_stopped())
                loop.run_until_complete(self.stop())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="sim-server", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    async def _wait_stopped(self) -> None:
        while not self._stopped.is_set():
            await asyncio.sleep(0.1)

    def stop_thread(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the server loop's thread and return its result (tests);
        raises what `fn` raises, or TimeoutError after 30 s."""
        if self._loop is None:
            return fn(*args)
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(fn, *args), self._loop)
        return future.result(30)


def _warm_up(server: SimServer) -> None:
    from app.sim.machinery.resources import shared_builtin_registry

    try:
        registry = shared_builtin_registry()
        openapi.warm_up(registry)
        openapi.v2_protobuf(registry)
    except Exception:  # a failed warm-up only means the first request builds them
        log.exception("OpenAPI warm-up failed")


def _manual_start(value: Any) -> datetime:
    """Where a new manual clock starts: `clockStart` (RFC 3339, at most a day from now
    either way) or now, in whole seconds. ApiError 422 for anything else."""
    now = WallClock().now().replace(microsecond=0)
    if value is None:
        return now
    try:
        start = parse_time(value) if isinstance(value, str) else None
    except ValueError:
        start = None
    if start is None or start.tzinfo is None or abs((start - now).total_seconds()) > 86_400:
        raise ApiError(422, "clockStart must be an RFC 3339 time within a day of now")
    return start.astimezone(UTC).replace(microsecond=0)


def _restore(cluster: Cluster, data: dict[str, Any]) -> None:
    plane = cluster.control_plane
    if plane is None:
        cluster.restore(data)
        return
    with plane.lock:  # no tick sees half a restored cluster
        cluster.restore(data)


async def _as_coroutine(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def _as_client(fn: Callable[..., Any], *args: Any) -> Any:
    with client_request():
        return fn(*args)


def _serve(cluster: Cluster, req: ApiRequest) -> tuple[ApiResponse, list[bytes]]:
    """Handle one resource request and encode its answer (on a request thread)."""
    response = handle(cluster, req)
    return response, response.chunks()


async def _send(
    request: web.Request, response: ApiResponse, chunks: list[bytes]
) -> web.StreamResponse:
    """Write an answer; a large one piece by piece, yielding to the loop in between,
    so copying tens of MiB never holds the loop (or the interpreter lock) at once."""
    headers = {"Content-Type": response.content_type, **response.headers}
    size = sum(len(c) for c in chunks)
    if size <= STREAM_ABOVE:
        return web.Response(status=response.status, body=b"".join(chunks), headers=headers)
    stream = web.StreamResponse(status=response.status, headers=headers)
    stream.content_length = size
    await stream.prepare(request)
    for chunk in chunks:
        await stream.write(chunk)
        await asyncio.sleep(0)
    await stream.write_eof()
    return stream


# ---- helpers ---------------------------------------------------------------------------


def _json(status: int, body: Any, content_type: str = JSON) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        headers={"Content-Type": content_type},
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _to_web(response: ApiResponse) -> web.Response:
    headers = {"Content-Type": response.content_type, **response.headers}
    return web.Response(status=response.status, body=response.encoded(), headers=headers)


async def _write_event(response: web.StreamResponse, kind: str, obj: Any) -> None:
    line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
    await response.write(line.encode())


def _credential(req: ApiRequest) -> str:
    """Who holds a watch, for the per-credential limit: a digest of the bearer token or
    of the client certificate, else "anonymous"."""
    token = req.headers.get("Authorization", "")
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    if req.peer_cert is not None:
        return "cert:" + hashlib.sha256(req.peer_cert).hexdigest()[:32]
    return "anonymous"


def _peer_cert(request: web.Request) -> bytes | None:
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    try:
        return ssl_object.getpeercert(binary_form=True)
    except ValueError:
        return None


def _health(request: web.Request, prefix: str = "") -> web.Response:
    path = request.path[len(prefix) :]
    endpoint = path.strip("/").split("/")[0]
    check = path.strip("/").split("/")[1] if path.strip("/").count("/") else ""
    if check:
        if check not in {c.split("/")[0] for c in _HEALTH_CHECKS}:
            return web.Response(status=404, text="404 page not found\n")
        return web.Response(text="ok", content_type="text/plain")
    if "verbose" in request.query:
        lines = [f"[+]{c} ok" for c in _HEALTH_CHECKS]
        lines.append(f"{endpoint} check passed")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
    return web.Response(text="ok", content_type="text/plain")


def _root_paths(cluster: Cluster) -> list[str]:
    paths = [
        "/api",
        "/api/v1",
        "/apis",
        "/healthz",
        "/livez",
        "/openapi/v2",
        "/openapi/v3",
        "/readyz",
        "/version",
    ]
    for group, versions in cluster.registry.groups().items():
        if group:
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
    return sorted(paths)


def _resource_request(
    method: str,
    parts: list[str],
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    peer_cert: bytes | None,
) -> ApiRequest | None:
    """Parse `/api/v1/...` or `/apis/G/V/...` into an ApiRequest (None if malformed)."""
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    # namespaces/{ns}/{plural}/... is a namespaced path unless the fourth segment is a
    # subresource of the namespace itself (status, finalize).
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return ApiRequest(
        method=method,
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource=subresource,
        query=query,
        headers=headers,
        body=body,
        peer_cert=peer_cert,
    )
