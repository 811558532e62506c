"""A simulator server sharded over worker processes.

`ShardedServer` is the front process: it listens on the public port and starts N shard
processes (`python -m app.sim.shards`), each a full `server.SimServer` that owns a subset
of the clusters, with its own persistence directory, listening on its own public port
(for kubectl) and on a Unix socket (for the front). The front

- places a new cluster on the shard with the fewest clusters (then the fewest objects)
  and forwards the create there; the cluster document and kubeconfig it answers name
  the shard's own address, so kubectl, graders and terminals talk to the owner
  directly, without a hop through the front;
- forwards every other `/admin/clusters/{id}/...` request to the owner and merges
  `GET /admin/clusters` over the shards (503 while a shard does not answer: a partial
  list would make clients take the missing clusters for lost);
- forwards `/clusters/{id}/...` requests that reach it anyway (a kubeconfig issued
  before the server was sharded) to the owner, except upgrades (exec, attach,
  port-forward), which need the shard's own address;
- answers `/readyz` only when every shard does, and restarts a shard that exits (with
  back-off); the restarted shard recovers its clusters from its directory's log and
  listens on the very same socket (the front holds it), so issued kubeconfigs keep
  working and connections wait in the backlog meanwhile.

Layout of the persistence root: shard 0 uses the root itself (as a single-process
server does, so its clusters carry over), shard i > 0 the sub-folder `shard-{i}`.
Shards die with the front (PR_SET_PDEATHSIG) and lock their directory, so a restarted
front never has two processes writing one log.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from app.sim.machinery.errors import ApiError
from app.sim.machinery.tls import KeyPair, issue_server_cert, server_ssl_context
from app.sim.registry import DEFAULT_MAX_CLUSTERS
from app.sim.server import MAX_BODY, public_url
from app.sim.serving.admin import check_admin
from app.sim.serving.httpio import _health, _json

log = logging.getLogger(__name__)

# Seconds a (re)started shard has to answer /readyz (recovery of a large log included).
SHARD_START_SECONDS = 180.0
# Seconds between checks that every shard process still runs.
MONITOR_INTERVAL = 0.5
# Seconds between refreshes of the shards' loads (objects) and cluster ids. Placement
# counts the clusters the front placed itself; the objects only break ties, so a slow
# refresh is enough. Each lists every cluster of the shard (1-2 ms of the shard's CPU
# per 100 clusters, and the front's decoding): every 5 s, that was about 0.001 cores
# of the 0.02 that 200 idle clusters may cost.
LOAD_REFRESH_SECONDS = 60.0
# Restart back-off: first delay, cap, and the uptime after which it resets.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 30.0
RESTART_RESET_SECONDS = 60.0
# Seconds a front-to-shard probe (readiness, listing) may take.
PROBE_SECONDS = 2.0
LIST_SECONDS = 20.0  # under the 30 s the cluster provider waits for an admin call
# Seconds a new shard waits for the previous owner of its directory to exit.
LOCK_WAIT_SECONDS = 30.0
# Headers that belong to one connection, not to the request or answer forwarded.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def shard_directory(root: Path, index: int) -> Path:
    """Where shard `index` persists its clusters under the persistence root."""
    return root if index == 0 else root / f"shard-{index}"


def existing_shards(root: Path | None) -> int:
    """How many shards the clusters persisted under `root` need (1 for none): a
    restart with fewer shards still brings every persisted cluster back."""
    if root is None or not root.is_dir():
        return 1
    highest = 0
    for child in root.glob("shard-*"):
        suffix = child.name[len("shard-") :]
        if child.is_dir() and suffix.isdigit() and any(child.glob("*.json")):
            highest = max(highest, int(suffix))
    return highest + 1


@dataclass
class Shard:
    """One shard process and what the front keeps of it across its restarts."""

    index: int
    sock: socket.socket
    internal_path: str
    directory: Path | None
    proc: subprocess.Popen[bytes] | None = None
    session: aiohttp.ClientSession | None = None
    started: float = 0.0
    restarting: bool = False
    restarts: int = 0
    delay: float = RESTART_DELAY
    objects: int = 0
    ready: bool = False

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class ShardedServer:
    """The front of a sharded simulator (see the module docstring). Same addresses and
    admin API as a single `SimServer`; `start()`/`stop()` in the caller's loop."""

    def __init__(
        self,
        *,
        shards: int,
        host: str = "127.0.0.1",
        port: int = 6443,
        tls: bool = True,
        admin_token: str,
        ca: KeyPair | None = None,
        max_clusters: int = DEFAULT_MAX_CLUSTERS,
        advertise_host: str | None = None,
        directory: Path | None = None,
        shard_base_port: int | None = None,
    ) -> None:
        if tls and ca is None:
            raise ValueError("a TLS server needs its CA")
        self.count = max(shards, existing_shards(directory))
        self.host = host
        self.port = port
        self.tls = tls
        self.admin_token = admin_token
        self.ca = ca if tls else None
        self.max_clusters = max_clusters
        self.advertise_host = advertise_host
        self.directory = directory
        self.shard_base_port = shard_base_port
        self.shards: list[Shard] = []
        # Cluster id -> shard index; ids being created are reserved in `pending`.
        self.owners: dict[str, int] = {}
        self.pending: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._monitor: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._run_dir: str | None = None
        self._stopping = False

    @property
    def base_url(self) -> str:
        return public_url(self.tls, self.advertise_host or self.host, self.port)

    def shard_url(self, shard: Shard) -> str:
        return public_url(self.tls, self.advertise_host or self.host, shard.port)

    # ---- shard processes ------------------------------------------------------------

    def _bind(self, port: int, role: str) -> socket.socket:
        """A socket bound to `port`, not yet listening (connections are refused until
        it listens); OSError naming the port and who wanted it when the port is taken
        (shards listen on the ports after --port unless --shard-base-port)."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError as exc:
            sock.close()
            hint = "" if role == "the front" else " (choose --shard-base-port or fewer --shards)"
            message = f"port {port} for {role} is in use: {exc.strerror}{hint}"
            raise OSError(exc.errno, message) from exc
        return sock

    def _bind_all(self) -> tuple[socket.socket, list[socket.socket]]:
        """Every port the server needs, the front's first, taken before any shard
        starts: a taken port stops the start with nothing left behind."""
        taken: list[socket.socket] = []
        try:
            front = self._bind(self.port, "the front")
            taken.append(front)
            if self.port == 0:
                self.port = front.getsockname()[1]
                shard_ports = [0] * self.count
            else:
                shard_ports = [self._shard_port(index) for index in range(self.count)]
            for index, port in enumerate(shard_ports):
                sock = self._bind(port, f"shard {index}")
                sock.listen(512)
                taken.append(sock)
        except OSError:
            for sock in taken:
                sock.close()
            raise
        return front, taken[1:]

    def _shard_port(self, index: int) -> int:
        if self.port == 0:
            return 0
        return (self.shard_base_port or self.port + 1) + index

    def _spawn(self, shard: Shard) -> None:
        config = {
            "index": shard.index,
            "parent": os.getpid(),
            "fd": shard.sock.fileno(),
            "internal": shard.internal_path,
            "host": self.host,
            "advertiseHost": self.advertise_host,
            "tls": self.tls,
            "caCert": self.ca.cert_pem.decode() if self.ca else None,
            "caKey": self.ca.key_pem.decode() if self.ca else None,
            "adminToken": self.admin_token,
            "maxClusters": self.max_clusters,
            "directory": str(shard.directory) if shard.directory else None,
        }
        with contextlib.suppress(FileNotFoundError):
            os.unlink(shard.internal_path)
        shard.proc = subprocess.Popen(
            [sys.executable, "-m", "app.sim.shards"],
            stdin=subprocess.PIPE,
            pass_fds=(shard.sock.fileno(),),
        )
        assert shard.proc.stdin is not None
        # Secrets (CA key, admin token) travel on a pipe, never in argv or env.
        shard.proc.stdin.write(json.dumps(config).encode())
        shard.proc.stdin.close()
        shard.started = time.monotonic()
        shard.ready = False

    async def _call(self, shard: Shard, method: str, path: str, timeout: float) -> tuple[int, Any]:
        assert shard.session is not None
        async with shard.session.request(
            method,
            f"http://shard{path}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def _probe(self, shard: Shard) -> bool:
        if not shard.running():
            return False
        try:
            status, _ = await self._call(shard, "GET", "/readyz", PROBE_SECONDS)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False
        return status == 200

    async def _wait_ready(self, shard: Shard) -> bool:
        deadline = time.monotonic() + SHARD_START_SECONDS
        while time.monotonic() < deadline and shard.running():
            if await self._probe(shard):
                shard.ready = True
                await self._refresh(shard, prune=True)
                return True
            await asyncio.sleep(0.1)
        return False

    async def _refresh(self, shard: Shard, *, prune: bool = False) -> None:
        """The shard's clusters and objects from its listing; with `prune`, ids the
        front took for the shard's that it no longer holds are dropped (after a
        restart: clusters a lost directory did not bring back)."""
        try:
            status, body = await self._call(shard, "GET", "/admin/clusters", LIST_SECONDS)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return
        if status != 200 or not isinstance(body, dict):
            return
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        held = {str(i.get("id")) for i in items}
        shard.objects = sum(int(i.get("objects") or 0) for i in items)
        for cluster_id in held:
            self.owners.setdefault(cluster_id, shard.index)
        if prune:
            for cluster_id, index in list(self.owners.items()):
                if index == shard.index and cluster_id not in held:
                    del self.owners[cluster_id]

    async def _restart(self, shard: Shard) -> None:
        code = shard.proc.returncode if shard.proc is not None else None
        uptime = time.monotonic() - shard.started
        if uptime >= RESTART_RESET_SECONDS:
            shard.delay = RESTART_DELAY
        log.warning(
            "simulator shard %d exited (code %s) after %.1f s; restarting in %.1f s",
            shard.index,
            code,
            uptime,
            shard.delay,
        )
        await asyncio.sleep(shard.delay)
        shard.delay = min(shard.delay * 2, RESTART_DELAY_MAX)
        if self._stopping:
            return
        try:
            self._spawn(shard)
        except OSError:
            log.exception("simulator shard %d could not be started", shard.index)
            shard.restarting = False  # the monitor tries again, after a longer delay
            return
        shard.restarts += 1
        if await self._wait_ready(shard):
            log.warning("simulator shard %d is back", shard.index)
        shard.restarting = False

    async def _watch_shards(self) -> None:
        last_refresh = time.monotonic()
        while not self._stopping:
            await asyncio.sleep(MONITOR_INTERVAL)
            for shard in self.shards:
                if not shard.running() and not shard.restarting:
                    shard.restarting = True
                    shard.ready = False
                    self._background(self._restart(shard))
            if time.monotonic() - last_refresh >= LOAD_REFRESH_SECONDS:
                last_refresh = time.monotonic()
                for shard in self.shards:
                    if shard.ready and shard.running():
                        await self._refresh(shard)

    def _background(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        """Start the shards, wait until each answers, then listen on the public port.
        RuntimeError when a shard does not come up."""
        # A short folder: Unix socket paths are limited to about 100 bytes.
        front, shard_socks = self._bind_all()
        self._run_dir = tempfile.mkdtemp(prefix="certprep-sim-")
        for index, shard_sock in enumerate(shard_socks):
            directory = (
                shard_directory(self.directory, index) if self.directory is not None else None
            )
            shard = Shard(
                index=index,
                sock=shard_sock,
                internal_path=os.path.join(self._run_dir, f"{index}.sock"),
                directory=directory,
            )
            shard.session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=shard.internal_path, limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                auto_decompress=False,
            )
            self.shards.append(shard)
            self._spawn(shard)
        results = await asyncio.gather(*(self._wait_ready(s) for s in self.shards))
        if not all(results):
            failed = [s.index for s, ok in zip(self.shards, results, strict=True) if not ok]
            front.close()
            await self.stop()
            raise RuntimeError(f"simulator shard(s) {failed} did not start")
        self._runner = web.AppRunner(
            self._build_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        front.listen(512)
        await web.SockSite(self._runner, front, ssl_context=self._ssl_context()).start()
        self._monitor = asyncio.create_task(self._watch_shards())

    def _ssl_context(self) -> Any:
        if self.ca is None:
            return None
        hosts = [self.host, *([self.advertise_host] if self.advertise_host else [])]
        return server_ssl_context(self.ca, issue_server_cert(self.ca, hosts))

    async def stop(self) -> None:
        """Stop listening, then stop every shard (SIGTERM: each checkpoints its
        clusters), killing one that does not exit within a minute."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for shard in self.shards:
            if shard.running():
                assert shard.proc is not None
                shard.proc.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        for shard in self.shards:
            await loop.run_in_executor(None, _reap, shard.proc)
            if shard.session is not None:
                await shard.session.close()
            shard.sock.close()
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    async def serve_forever(self) -> None:
        await self.start()
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await self.stop()

    # ---- the front's HTTP side -----------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/clusters/"):
                return await self._cluster_request(request)
            if path == "/admin/clusters" or path.startswith("/admin/clusters/"):
                check_admin(self, request)  # type: ignore[arg-type]
                return await self._admin(request)
            if path == "/readyz" or path.startswith("/readyz/"):
                return await self._readyz(request)
            if path in ("/healthz", "/livez") or path.startswith(("/healthz/", "/livez/")):
                return _health(request)
            if path in ("/", ""):
                paths = ["/admin/clusters", "/clusters/{id}", "/healthz", "/livez", "/readyz"]
                return _json(200, {"paths": paths})
            raise ApiError(404, "the server could not find the requested resource", details={})
        except ApiError as exc:
            response = _json(exc.code, exc.status())
            if exc.code == 503:
                response.headers["Retry-After"] = "1"
            return response
        except web.HTTPException as exc:
            return _json(exc.status, ApiError(exc.status, exc.reason).status())
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, path)
            return _json(500, ApiError(500, "Internal error occurred").status())

    async def _readyz(self, request: web.Request) -> web.Response:
        """Ready when every shard answers its own /readyz."""
        states = await asyncio.gather(*(self._probe(s) for s in self.shards))
        if all(states):
            return _health(request)
        lines = [
            f"[+]shard-{s.index} ok" if ok else f"[-]shard-{s.index} failed: not ready"
            for s, ok in zip(self.shards, states, strict=True)
        ]
        lines.append("readyz check failed")
        return web.Response(status=500, text="\n".join(lines) + "\n", content_type="text/plain")

    def _owner(self, cluster_id: str) -> Shard | None:
        index = self.owners.get(cluster_id)
        return self.shards[index] if index is not None else None

    async def _cluster_request(self, request: web.Request) -> web.StreamResponse:
        """A Kubernetes API request that reached the front: forwarded to the owner (an
        unknown id to shard 0, which answers for unknown ids as any cluster would)."""
        cluster_id = request.path[len("/clusters/") :].partition("/")[0]
        shard = self._owner(cluster_id) or self.shards[0]
        if request.headers.get("Upgrade"):
            raise ApiError(
                400,
                "exec, attach and port-forward are served at the cluster's own address "
                f"({self.shard_url(shard)}/clusters/{cluster_id}); fetch a current "
                "kubeconfig from the admin API",
            )
        return await self._forward(request, shard)

    async def _admin(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")[2:]
        if not parts:
            if request.method == "GET":
                return await self._list()
            if request.method == "POST":
                return await self._create(request)
            raise ApiError(405, "method not allowed")
        shard = self._owner(parts[0])
        if shard is None:
            raise ApiError(404, f'cluster "{parts[0]}" not found')
        response = await self._forward(request, shard)
        if request.method == "DELETE" and len(parts) == 1 and response.status in (200, 404):
            self.owners.pop(parts[0], None)
        return response

    async def _list(self) -> web.StreamResponse:
        # A shard that does not answer its probe fails the list at once.
        for shard, ok in zip(
            self.shards, await asyncio.gather(*(self._probe(s) for s in self.shards)), strict=True
        ):
            if not ok:
                raise ApiError(503, f"simulator shard {shard.index} is not answering")
        answers = await asyncio.gather(
            *(self._call(s, "GET", "/admin/clusters", LIST_SECONDS) for s in self.shards),
            return_exceptions=True,
        )
        items: list[Any] = []
        shards = []
        for shard, answer in zip(self.shards, answers, strict=True):
            if isinstance(answer, BaseException) or answer[0] != 200:
                # A partial list would read as lost clusters: none at all instead.
                raise ApiError(503, f"simulator shard {shard.index} is not answering")
            held = answer[1].get("items") or []
            items.extend(held)
            shard.objects = sum(int(i.get("objects") or 0) for i in held)
            shards.append(
                {
                    "index": shard.index,
                    "url": self.shard_url(shard),
                    "clusters": len(held),
                    "objects": shard.objects,
                    "restarts": shard.restarts,
                }
            )
        return _json(200, {"items": items, "capacity": self.max_clusters, "shards": shards})

    def _place(self) -> Shard:
        """The shard with the fewest clusters (being created included), then the fewest
        objects, among those running."""
        counts = [0] * len(self.shards)
        for index in [*self.owners.values(), *self.pending.values()]:
            counts[index] += 1
        candidates = [s for s in self.shards if s.ready] or self.shards
        return min(candidates, key=lambda s: (counts[s.index], s.objects, s.index))

    async def _create(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # Not an object: the shard answers it as a single server would.
            return await self._forward(request, self._place(), body=raw)
        cluster_id = body.get("id")
        if cluster_id is None:
            cluster_id = body["id"] = "c" + secrets.token_hex(5)
        if isinstance(cluster_id, str) and (
            cluster_id in self.owners or cluster_id in self.pending
        ):
            raise ApiError(409, f'cluster "{cluster_id}" already exists', reason="AlreadyExists")
        if len(self.owners) + len(self.pending) >= self.max_clusters:
            raise ApiError(429, f"this server already holds {self.max_clusters} clusters")
        shard = self._place()
        key = cluster_id if isinstance(cluster_id, str) else None
        if key is not None:
            self.pending[key] = shard.index
        try:
            response = await self._forward(request, shard, body=json.dumps(body).encode())
        finally:
            if key is not None:
                self.pending.pop(key, None)
        if response.status == 201 and key is not None:
            self.owners[key] = shard.index
        return response

    async def _forward(
        self, request: web.Request, shard: Shard, *, body: bytes | None = None
    ) -> web.StreamResponse:
        """The request as the shard answers it, streamed back (watches, follows)."""
        assert shard.session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        data: Any = body
        if data is None and request.can_read_body:
            data = request.content
        try:
            upstream = await shard.session.request(
                request.method,
                f"http://shard{request.raw_path}",
                headers=headers,
                data=data,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise ApiError(
                503,
                f"simulator shard {shard.index} is restarting, try again in a moment",
                reason="ServiceUnavailable",
            ) from exc
        async with upstream:
            return await _relay(request, upstream)


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
    length = upstream.content_length
    if length is not None and length <= 256 * 1024:
        return web.Response(status=upstream.status, body=await upstream.read(), headers=headers)
    response = web.StreamResponse(status=upstream.status, headers=headers)
    if length is not None:
        response.content_length = length
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (aiohttp.ClientError, OSError):
        # The shard went away mid-stream: the client sees the stream end, as when a
        # real API server restarts under a watch.
        pass
    await response.write_eof()
    return response


def _reap(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# ---- the shard process -----------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """End this process when the front dies, however it dies (SIGKILL included)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the front died before the call above
        os._exit(1)


def _lock_directory(directory: Path) -> int:
    """Hold `directory`'s lock for the life of the process; waits while a previous
    owner (a shard of a front that just died) exits."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{directory} is in use by another simulator") from None
            time.sleep(0.1)


def _build_server(config: dict[str, Any]) -> Any:
    from app.sim.machinery.limits import ClusterLimits
    from app.sim.server import SimServer

    ca = None
    if config.get("caCert"):
        ca = KeyPair(config["caCert"].encode(), config["caKey"].encode())
    return SimServer(
        host=config["host"],
        tls=bool(config["tls"]),
        admin_token=config["adminToken"],
        max_clusters=int(config["maxClusters"]),
        advertise_host=config.get("advertiseHost"),
        ca=ca,
        limits=ClusterLimits.from_env(os.environ),
        sock=socket.socket(fileno=int(config["fd"])),
        internal_path=config["internal"],
    )


async def _serve_shard(server: Any) -> None:
    from app.sim.server import gc_pauses, gc_setting, tune_gc

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await server.start()
    settings = tune_gc(gc_setting(os.environ))
    log.info("shard listening on %s, gc %s", server.base_url, settings)
    try:
        await stop.wait()
    finally:
        log.info(gc_pauses())
        await server.stop()


def main() -> None:
    """A shard process: its configuration arrives as JSON on stdin (see `_spawn`)."""
    config = json.loads(sys.stdin.buffer.read())
    _die_with_parent(int(config["parent"]))
    # Ctrl-C reaches the whole process group: the front stops the shards itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s shard-{config['index']} %(levelname)s %(name)s: %(message)s",
    )
    server = _build_server(config)
    if config.get("directory"):
        directory = Path(config["directory"])
        _lock_directory(directory)
        loaded = server.enable_journal(directory)
        log.info("recovered %d cluster(s) from %s", len(loaded), directory)
    asyncio.run(_serve_shard(server))
    if server.journal is not None:
        log.info("saved %d cluster(s)", server.journal.close())


if __name__ == "__main__":
    main()
