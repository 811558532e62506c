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
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from app.sim.apiserver import discovery, openapi
from app.sim.apiserver.pipeline import handle
from app.sim.machinery.cluster import ADMIN_USER, Cluster, new_token
from app.sim.machinery.errors import ApiError
from app.sim.machinery.kubeconfig import build_kubeconfig, dump_kubeconfig
from app.sim.machinery.tls import KeyPair, generate_ca, issue_server_cert, server_ssl_context
from app.sim.registry import DEFAULT_MAX_CLUSTERS, ClusterRegistry
from app.sim.serving import remotecommand, streaming
from app.sim.serving.admin import handle_admin
from app.sim.serving.httpio import (
    _health,
    _json,
    _peer_cert,
    _resource_request,
    _root_paths,
    _to_web,
)
from app.sim.serving.nonresource import non_resource

log = logging.getLogger(__name__)

# How often the server runs each cluster's control-plane loops (wall seconds).
LOOP_INTERVAL = 0.25
MAX_BODY = 3 * 1024 * 1024  # 3 MiB, kube-apiserver's default request size limit


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
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._loop_task: asyncio.Task | None = None

    # ---- addresses and credentials -----------------------------------------------------

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
            return _json(exc.code, exc.status())
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
        cluster = self.get_cluster(cluster_id)
        tail = "/" + tail
        parts = [p for p in tail.split("/") if p]
        query = {k: v for k, v in request.query.items()}
        headers = {k: v for k, v in request.headers.items()}
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return _health(request, prefix=f"/clusters/{cluster_id}")
        if parts == ["version"]:
            return _json(200, discovery.version_info())
        if not parts:
            return _json(200, {"paths": _root_paths(cluster)})
        body = await request.read() if request.can_read_body else b""
        peer_cert = _peer_cert(request)
        if (
            (parts[0] == "api" and len(parts) == 1)
            or (parts[0] == "apis" and len(parts) <= 3)
            or parts[0] == "openapi"
            or (parts[0] == "api" and len(parts) == 2)
        ):
            return non_resource(
                cluster, request, parts, tail, headers, peer_cert, f"{self.host}:{self.port}"
            )
        req = _resource_request(request.method, parts, query, headers, body, peer_cert)
        if req is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        if req.verb == "watch" or (
            request.method == "GET" and req.name is None and query.get("watch") in ("true", "1")
        ):
            return await streaming.watch(request, cluster, req)
        if (req.group, req.plural) == ("", "pods") and req.subresource in remotecommand.STREAMING:
            return await remotecommand.connect(request, cluster, req)
        if (req.group, req.plural, req.subresource) == ("", "pods", "log") and query.get(
            "follow"
        ) in ("true", "1"):
            return await streaming.follow_log(request, cluster, req)
        response = handle(cluster, req)
        return _to_web(response)

    # ---- running ---------------------------------------------------------------------

    async def _drive_loops(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(LOOP_INTERVAL)
            if self._has_work():
                # On a worker thread: a slow controller pass never stalls API requests.
                await loop.run_in_executor(None, self.run_loops)

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


async def _as_coroutine(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)
