"""The simulator's HTTP(S) server: many clusters behind one aiohttp application.

    /clusters/{id}/api/...            the Kubernetes API of one cluster
    /clusters/{id}/apis/...
    /clusters/{id}/version, /openapi/v2, /openapi/v3, /healthz, /livez, /readyz
    /admin/clusters[...]             create, list, delete, snapshot, restore clusters
                                     (bearer admin token)
    /healthz, /livez, /readyz        the server itself

`SimServer` is a `registry.ClusterRegistry` served over aiohttp. This module routes
requests and runs the server (in the caller's loop or its own thread); the admin API's
routes and body schemas are in `serving.admin`, watch and log streams in
`serving.streaming`, discovery and OpenAPI in `serving.nonresource`. Every Kubernetes
behaviour lives in the request pipeline and the modules it calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aiohttp import web

from app.sim.apiserver import discovery, openapi
from app.sim.apiserver.pipeline import ApiRequest, ApiResponse, handle, plan_watch
from app.sim.bootstrap import create_cluster
from app.sim.machinery.clock import WallClock
from app.sim.machinery.cluster import ADMIN_USER, Cluster, new_token
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
from app.sim.registry import DEFAULT_MAX_CLUSTERS, ClusterRegistry, heartbeat_only
from app.sim.serving import remotecommand, streaming
from app.sim.serving.admin import handle_admin
from app.sim.serving.httpio import (
    _health,
    _json,
    _peer_cert,
    _resource_request,
    _root_paths,
)
from app.sim.serving.nonresource import non_resource

log = logging.getLogger(__name__)

# How often the server runs each cluster's control-plane loops (wall seconds).
LOOP_INTERVAL = 0.25
# How often the loop looks at every cluster when none announced a change and no planned
# wake is reached (wall seconds): the heartbeat passes (Lease renewals every 2 s and 10
# s) run at these looks, at most this late. See `_drive_loops`.
LOOP_SCAN_SECONDS = 1.0
MAX_BODY = 3 * 1024 * 1024  # 3 MiB, kube-apiserver's default request size limit
# Threads that run API requests off the event loop (decoding, admission, validation,
# patching, table printing, encoding large lists). One request per cluster runs at a
# time, so a cluster flooded with heavy requests holds at most one of them.
REQUEST_THREADS = 16
# Threads that run control-plane passes: this many busy clusters can run at once
# without holding up the others.
LOOP_THREADS = 4
# Seconds a thread may hold the interpreter lock before another may take it.
GIL_SWITCH_INTERVAL = 0.001
# Answers larger than this are written piece by piece (see `_send`).
STREAM_ABOVE = 256 * 1024
# Allocations between collections of the youngest generation (CPython's default: 700).
GC_GEN0_THRESHOLD = 50_000
# Retry-After of a watch refused for the watch limits.
WATCH_RETRY_SECONDS = 5
# The id under which requests for clusters that do not exist are answered: an
# anonymous request gets what an existing cluster answers it (see _unknown_cluster).
_STAND_IN_ID = "-unknown"  # not a DNS label: no real cluster can have it


class SimServer(ClusterRegistry):
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
        sock: socket.socket | None = None,
        internal_path: str | None = None,
    ) -> None:
        # A CA kept from an earlier run keeps the kubeconfigs it signed valid.
        super().__init__(
            ca=(ca or generate_ca()) if tls else None,
            max_clusters=max_clusters,
            node_agents=node_agents,
            control_plane=control_plane,
            drive_wall_clock=drive_wall_clock,
        )
        self.host = host
        self.port = port
        self.tls = tls
        self.admin_token = admin_token or new_token()
        self.advertise_host = advertise_host
        self.server_cert = (
            issue_server_cert(self.ca, [host, *([advertise_host] if advertise_host else [])])
            if self.ca is not None
            else None
        )
        self.started_at = time.time()
        # A listening socket made by the caller (a shard's, kept by the front across
        # the shard's restarts) instead of binding host:port, and a Unix socket
        # serving plain HTTP to the front (`shards.ShardedServer`).
        self._sock = sock
        if sock is not None:
            self.port = sock.getsockname()[1]
        self.internal_path = internal_path
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._loop_task: asyncio.Task | None = None
        # Per-cluster limits (docs/operations.md, "Simulator limits") and their state.
        self.limits = limits or ClusterLimits()
        self._executor = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="sim-request")
        # Threads that run the clusters' control-plane passes; ids with a pass running.
        self._loop_executor = ThreadPoolExecutor(LOOP_THREADS, thread_name_prefix="sim-loops")
        self._passes: set[str] = set()
        # When the loop must look at the clusters again (`_scan_due`): a change was
        # announced (a write, a node access, a full pass ended), the earliest planned
        # wake of a cluster's control plane (a wall-clock timestamp; 0.0: now), and
        # when it last looked (monotonic).
        self._changed = True
        self._next_wake = 0.0
        self._scanned_at = 0.0
        self._cluster_locks: dict[str, asyncio.Lock] = {}
        self._rates: dict[str, RateLimiter] = {}
        self._watches: dict[tuple[str, str], int] = {}
        self._stand_in: Cluster | None = None
        # Every new or reloaded cluster's store gets the storage quota first; its
        # control plane announces changes to the loop.
        self.cluster_hooks.insert(0, self._apply_limits)
        self.cluster_hooks.append(self._listen_for_changes)

    def _apply_limits(self, cluster: Cluster) -> None:
        cluster.store.limits = self.limits.storage

    def _listen_for_changes(self, cluster: Cluster) -> None:
        if hasattr(cluster.control_plane, "on_change"):
            cluster.control_plane.on_change = self._note_change
        self._changed = True

    def _note_change(self) -> None:
        # Called from any thread (under the cluster's store lock for a write): one
        # attribute set, read by the loop at its next iteration.
        self._changed = True

    def delete_cluster(self, cluster_id: str) -> None:
        super().delete_cluster(cluster_id)
        self._rates.pop(cluster_id, None)
        self._cluster_locks.pop(cluster_id, None)

    # ---- addresses and credentials -----------------------------------------------------

    @property
    def base_url(self) -> str:
        return public_url(self.tls, self.advertise_host or self.host, self.port)

    def cluster_url(self, cluster_id: str) -> str:
        return f"{self.base_url}/clusters/{cluster_id}"

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

    def cluster_document(self, cluster: Cluster, *, with_kubeconfig: bool = False) -> dict:
        doc = {**cluster.summary(), "server": self.cluster_url(cluster.id)}
        if with_kubeconfig:
            doc["token"] = cluster.auth.admin_token
            doc["kubeconfig"] = dump_kubeconfig(self.kubeconfig(cluster))
        return doc

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
                return await handle_admin(self, request)
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

    # ---- cluster API -----------------------------------------------------------------

    async def _cluster_request(self, request: web.Request) -> web.StreamResponse:
        _, _, rest = request.path.partition("/clusters/")
        cluster_id, _, tail = rest.partition("/")
        tail = "/" + tail
        parts = [p for p in tail.split("/") if p]
        known = self.clusters.get(cluster_id)
        if known is not None and known.api_down:
            return _drop(request)
        # Public information (upstream's system:public-info-viewer): the same answer
        # for every id, so it tells nobody whether a cluster exists.
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return _health(request, prefix=f"/clusters/{cluster_id}")
        if parts == ["version"]:
            return _json(200, _cluster_version(self.clusters.get(cluster_id)))
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
            address = f"{self.host}:{self.port}"
            return await self._offload(
                cluster, non_resource, cluster, request, parts, tail, headers, peer_cert, address
            )
        # The body is read later, under the cluster's turn (see `_offload`).
        req = _resource_request(request.method, parts, query, headers, b"", peer_cert)
        if req is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        if req.verb == "watch" or (
            request.method == "GET" and req.name is None and query.get("watch") in ("true", "1")
        ):
            return await self._watch(request, cluster, req)
        if (req.group, req.plural) == ("", "pods") and req.subresource in remotecommand.STREAMING:
            return await remotecommand.connect(request, cluster, req)
        if (req.group, req.plural, req.subresource) == ("", "pods", "log") and query.get(
            "follow"
        ) in ("true", "1"):
            return await streaming.follow_log(request, cluster, req, offload=self._offload)

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

    async def in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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

    async def _watch(
        self, request: web.Request, cluster: Cluster, req: ApiRequest
    ) -> web.StreamResponse:
        """A watch stream, counted against the watch limits while it is open."""
        try:
            # Authorization reads the cluster's store: off the loop, as a store held
            # by a long write (a namespace deletion) must not stall other clusters.
            plan = await self._offload(cluster, plan_watch, cluster, req)
        except ApiError as exc:
            return _json(exc.code, exc.status())
        holder = (cluster.id, _credential(req))
        self._open_watch(holder)
        try:
            return await streaming.watch(
                request,
                cluster,
                req,
                plan,
                offload=self._offload,
                byte_limit=self.limits.watch_queue_bytes,
            )
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

    # ---- running ---------------------------------------------------------------------

    async def _drive_loops(self) -> None:
        """Every LOOP_INTERVAL, a pass of each cluster that has work, on the loop
        threads (a slow controller pass or a store held by a long write never stalls
        API requests), at most one pass per cluster at a time. Clusters do not wait
        for each other's passes: one cluster scheduling thousands of pods holds one
        thread, and the others' passes go on beside it, sharing the interpreter by
        its switch interval."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(LOOP_INTERVAL)
            if not self._scan_due():
                continue
            self._changed = False
            self._scanned_at = time.monotonic()
            # On a loop thread: for a cluster without a control plane the question
            # takes its store's lock, which a long write may hold.
            beats, jobs, self._next_wake = await loop.run_in_executor(
                self._loop_executor, self._due_passes_and_wake
            )
            # A full tick plans its cluster's next wake, so the loop looks again after
            # one; the heartbeat passes change no plan.
            groups = [(beats, False)] if beats else []
            for group, full in [*groups, *((job, True) for job in jobs)]:
                chosen = [c for c in group if c.id not in self._passes]
                if not chosen:
                    continue
                ids = [c.id for c in chosen]
                self._passes.update(ids)
                future = loop.run_in_executor(self._loop_executor, self._run_passes, chosen)
                future.add_done_callback(partial(self._pass_done, ids, full))

    def _scan_due(self) -> bool:
        """Whether this iteration must look at the clusters: a change was announced
        since the last look, a planned wake is reached, or LOOP_SCAN_SECONDS passed
        (the heartbeat passes). An idle server thus hands one job a second to its
        loop threads instead of two every LOOP_INTERVAL: with 100 idle clusters the
        hand-offs cost as much CPU as the Lease renewals themselves."""
        return (
            self._changed
            or time.time() >= self._next_wake
            or time.monotonic() - self._scanned_at >= LOOP_SCAN_SECONDS
        )

    def _due_passes_and_wake(self) -> tuple[list[Cluster], list[list[Cluster]], float]:
        """`_split_due`, and the earliest planned wake among the clusters that
        announce their changes (a wall-clock timestamp; 0.0 when some cluster must be
        looked at every iteration)."""
        beats, jobs = self._split_due()
        wake = min((_planned_wake(c) for c in list(self.clusters.values())), default=float("inf"))
        return beats, jobs, wake

    def _split_due(self) -> tuple[list[Cluster], list[list[Cluster]]]:
        """The due clusters whose pass is a heartbeat pass alone (one job for all:
        each well under a millisecond, a job apiece would cost more in hand-offs than
        the passes themselves), and a job for each other due cluster."""
        due = self.due_clusters()
        beats = [c for c in due if heartbeat_only(c)]
        chosen = {id(c) for c in beats}
        return beats, [[c] for c in due if id(c) not in chosen]

    def _due_passes(self) -> list[list[Cluster]]:
        """The due clusters as jobs for the loop threads, the heartbeat job first."""
        beats, jobs = self._split_due()
        return [beats, *jobs] if beats else jobs

    def _run_passes(self, clusters: list[Cluster]) -> None:
        for cluster in clusters:
            try:
                self.run_cluster_pass(cluster)
            except Exception:
                log.exception("control-plane pass failed in cluster %s", cluster.id)

    def _pass_done(self, cluster_ids: list[str], full: bool, future: asyncio.Future) -> None:
        self._passes.difference_update(cluster_ids)
        if full:
            self._changed = True
        if not future.cancelled() and future.exception() is not None:
            log.error(
                "control-plane pass failed in clusters %s",
                ", ".join(cluster_ids),
                exc_info=future.exception(),
            )

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
        sock = self._sock
        if sock is None:
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock, ssl_context=self._ssl_context())
        await site.start()
        if self.internal_path is not None:
            await web.UnixSite(self._runner, self.internal_path).start()
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
        self._loop_executor.shutdown(wait=False, cancel_futures=True)
        self._loop_executor = ThreadPoolExecutor(LOOP_THREADS, thread_name_prefix="sim-loops")
        self._passes.clear()

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


def _planned_wake(cluster: Cluster) -> float:
    """When the server's loop must next look at `cluster` for a full tick if nothing
    is announced (`ControlPlane.next_wake`), as a wall-clock timestamp: 0.0 (every
    iteration) for a cluster without such a control plane, with other loops, or on a
    clock that is not the wall's."""
    plane = cluster.control_plane
    next_wake = getattr(plane, "next_wake", None)
    clock = cluster.clock
    on_wall = isinstance(clock, WallClock) and clock.speed == 1.0
    if next_wake is None or not on_wall or cluster.loops != [plane.poll]:
        return 0.0
    return float(next_wake())


def public_url(tls: bool, host: str, port: int) -> str:
    """The base URL clients use for a server listening on `host:port` (a wildcard
    address is reached on the loopback address)."""
    scheme = "https" if tls else "http"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def tune_gc(gen0: int | None = None) -> dict[str, Any]:
    """Garbage-collector settings for a long-running simulator process, called once
    start-up (and recovery) is done: everything allocated so far (modules, the
    built-in kinds' schemas, recovered clusters) moves to the permanent generation, so
    no collection traverses it again, and the youngest generation is collected after
    `gen0` allocations (default GC_GEN0_THRESHOLD) instead of 700: a control-plane pass
    allocates tens of thousands of short-lived dicts that reference counting frees
    anyway. `gen0=0` keeps CPython's settings (CERTPREP_SIM_GC_GEN0=0, to compare).
    Either way collection pauses are counted from now on (`gc_pauses`). Returns the
    settings."""
    gen0 = GC_GEN0_THRESHOLD if gen0 is None else gen0
    if gen0 > 0:
        gc.collect()
        gc.freeze()
        _, second, third = gc.get_threshold()
        gc.set_threshold(gen0, second, third)
    if _record_pause not in gc.callbacks:
        gc.callbacks.append(_record_pause)
    return {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}


def gc_setting(environ: Any) -> int | None:
    """`CERTPREP_SIM_GC_GEN0` as `tune_gc`'s `gen0` (None when unset or not a number)."""
    raw = environ.get("CERTPREP_SIM_GC_GEN0", "")
    return int(raw) if raw.isdigit() else None


# Per generation: collections, wall seconds in all, longest (wall), CPU seconds in all;
# and when the current collection began (wall, this thread's CPU).
_PAUSES: dict[int, list[float]] = {g: [0, 0.0, 0.0, 0.0] for g in (0, 1, 2)}
_PAUSE_BEGAN = [0.0, 0.0]


def _record_pause(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _PAUSE_BEGAN[:] = [time.perf_counter(), time.thread_time()]
        return
    pause = time.perf_counter() - _PAUSE_BEGAN[0]
    figures = _PAUSES.setdefault(int(info.get("generation", 2)), [0, 0.0, 0.0, 0.0])
    figures[0] += 1
    figures[1] += pause
    figures[2] = max(figures[2], pause)
    figures[3] += time.thread_time() - _PAUSE_BEGAN[1]


def gc_pauses() -> str:
    """The collection pauses counted since `tune_gc`, per generation, as one log line
    (wall time includes waiting for a CPU on a loaded host; CPU time does not)."""
    return "gc pauses: " + "; ".join(
        f"gen{gen} {count:.0f} collections, {wall * 1000:.0f} ms wall "
        f"({cpu * 1000:.0f} ms CPU), longest {longest * 1000:.1f} ms"
        for gen, (count, wall, longest, cpu) in sorted(_PAUSES.items())
    )


def _cluster_version(cluster: Cluster | None) -> dict[str, str]:
    """`/version`: the release of the cluster's running API server (it changes with
    `kubeadm upgrade apply`), the simulator's default otherwise (and for unknown ids,
    so the answer tells nobody whether a cluster exists)."""
    info = discovery.version_info()
    nodes = getattr(cluster, "node_access", None) if cluster is not None else None
    running = getattr(nodes, "api_server_version", lambda: None)()
    if isinstance(running, str) and running != info["gitVersion"]:
        major, minor = running.lstrip("v").split(".")[:2]
        info.update(
            gitVersion=running,
            major=major,
            minor=minor,
            emulationMajor=major,
            emulationMinor=minor,
            minCompatibilityMinor=str(int(minor) - 1),
        )
    return info


def _warm_up(server: SimServer) -> None:
    from app.sim.machinery.resources import shared_builtin_registry

    try:
        registry = shared_builtin_registry()
        openapi.warm_up(registry)
        openapi.v2_protobuf(registry)
    except Exception:  # a failed warm-up only means the first request builds them
        log.exception("OpenAPI warm-up failed")


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


# What a client of a cluster whose API server is down reads instead of an HTTP answer.
REFUSED_LINE = b"connection-refused\r\n"


def _drop(request: web.Request) -> web.StreamResponse:
    """Answer a client of a cluster whose API server is down, then close.

    Upstream nothing listens on the API port and the connect is refused: kubectl
    prints "The connection to the server HOST:6443 was refused" at once. Every cluster
    shares this server's port, so the connection is already open when the request says
    which cluster it is for. Closing it silently would make client-go retry each GET
    ten times a second apart (a closed connection reads as EOF, which it retries: about
    50 s per kubectl command with its discovery retries); a line that is not HTTP is
    not retried, so kubectl fails at once: `Unable to connect to the server: net/http:
    HTTP/1.x transport connection broken: malformed HTTP response
    "connection-refused"`. The response returned is never written."""
    transport = request.transport
    if transport is not None and not transport.is_closing():
        transport.write(REFUSED_LINE)
    request.protocol.force_close()
    return web.Response(status=503)


def _credential(req: ApiRequest) -> str:
    """Who holds a watch, for the per-credential limit: a digest of the bearer token or
    of the client certificate, else "anonymous"."""
    token = req.headers.get("Authorization", "")
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    if req.peer_cert is not None:
        return "cert:" + hashlib.sha256(req.peer_cert).hexdigest()[:32]
    return "anonymous"
