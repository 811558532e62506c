"""The admin API (bearer admin token): clusters, their credentials, snapshots, clocks
and node access.

    GET    /admin/clusters                       list
    POST   /admin/clusters                       create            (NewCluster)
    GET    /admin/clusters/{id}                  one, with kubeconfig
    DELETE /admin/clusters/{id}                  delete
    GET    /admin/clusters/{id}/kubeconfig       admin kubeconfig (YAML)
    GET|POST /admin/clusters/{id}/snapshot       the cluster's snapshot
    POST   /admin/clusters/{id}/restore          replace its state  (Snapshot)
    POST   /admin/clusters/{id}/tick             advance a manual clock (Tick)
    GET    /admin/clusters/{id}/controlplane     control-plane status
    POST   /admin/clusters/{id}/users            issue a credential (NewUser)
    GET    /admin/clusters/{id}/nodes            nodes, roles, readiness
    GET|PUT /admin/clusters/{id}/nodes/{node}/files?path=   read or write (NodeFile)
    POST   /admin/clusters/{id}/nodes/{node}/exec           run a command (NodeCommand)

Each route is a handler in a table; each body is parsed by its schema's `parse`, which
answers 422 naming the field. An unknown cluster is 404 before anything else is looked
at; an unknown action 404; a method the collection does not serve 405.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from app.sim import controlplane
from app.sim.machinery.clock import Clock, ManualClock, WallClock, parse_time
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.machinery.kubeconfig import dump_kubeconfig
from app.sim.serving.httpio import _json, _json_body


class AdminServer(Protocol):
    """What the admin API needs of the server (`server.SimServer`)."""

    admin_token: str
    tls: bool
    max_clusters: int
    clusters: dict[str, Cluster]

    def create_cluster(
        self,
        *,
        nodes: int = 3,
        cluster_id: str | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        clock: Clock | None = None,
        shape: dict[str, Any] | None = None,
    ) -> Cluster: ...
    def get_cluster(self, cluster_id: str) -> Cluster: ...
    def delete_cluster(self, cluster_id: str) -> None: ...
    def cluster_document(self, cluster: Cluster, *, with_kubeconfig: bool = False) -> dict: ...
    def kubeconfig(self, cluster: Cluster) -> dict[str, Any]: ...
    def add_user(
        self, cluster: Cluster, user: str, groups: tuple[str, ...] = (), *, cert: bool = False
    ) -> dict[str, Any]: ...
    def persist(self, cluster: Cluster) -> None: ...
    async def in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


async def _persist(server: AdminServer, cluster: Cluster) -> None:
    """After an admin change that is not a store write: the cluster's snapshot is on
    disk (when the server persists) before the change is acknowledged."""
    await asyncio.get_running_loop().run_in_executor(None, server.persist, cluster)


# ---- body schemas ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewCluster:
    """`POST /admin/clusters`: `{id?, name?, labels?, nodes?: 3, clock?: "wall"|"manual",
    clockSpeed?: (0, 1000], clockStart?: RFC 3339 (manual), shape?: {nodes: [...]}}`."""

    cluster_id: str | None
    name: str | None
    labels: dict[str, str]
    nodes: int
    clock: Clock
    shape: dict[str, Any] | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> NewCluster:
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
        return cls(
            cluster_id=body.get("id"),
            name=body.get("name"),
            labels={str(k): str(v) for k, v in labels.items()},
            nodes=nodes,
            clock=clock,
            shape=shape,
        )


@dataclass(frozen=True)
class NewUser:
    """`POST .../users`: `{name, groups?: [...], credential?: "token"|"certificate"}`."""

    name: str
    groups: tuple[str, ...]
    cert: bool

    @classmethod
    def parse(cls, body: dict[str, Any], *, tls: bool) -> NewUser:
        user = body.get("name")
        if not isinstance(user, str) or not user:
            raise ApiError(422, "a user needs a name")
        groups = tuple(str(g) for g in body.get("groups") or ())
        cert = body.get("credential", "token") == "certificate"
        if cert and not tls:
            raise ApiError(422, "client certificates need a server running with TLS")
        return cls(user, groups, cert)


@dataclass(frozen=True)
class Tick:
    """`POST .../tick`: `{seconds: 0..MAX_ADVANCE_SECONDS}`."""

    seconds: float

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Tick:
        seconds = body.get("seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ApiError(422, "seconds must be a number")
        if not 0 <= seconds <= controlplane.MAX_ADVANCE_SECONDS:
            raise ApiError(
                422, f"seconds must be between 0 and {controlplane.MAX_ADVANCE_SECONDS:.0f}"
            )
        return cls(float(seconds))


@dataclass(frozen=True)
class Snapshot:
    """`POST .../restore`: a snapshot as `GET .../snapshot` returns it (needs `store`)."""

    data: dict[str, Any]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Snapshot:
        if not isinstance(body.get("store"), dict):
            raise ApiError(422, "a snapshot needs a `store` object")
        return cls(body)


@dataclass(frozen=True)
class NodeFile:
    """`PUT .../nodes/{node}/files?path=`: `{content: "..."}`."""

    content: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> NodeFile:
        content = body.get("content")
        if not isinstance(content, str):
            raise ApiError(422, "content must be a string")
        return cls(content)


@dataclass(frozen=True)
class NodeCommand:
    """`POST .../nodes/{node}/exec`: `{command: "shell line"}`."""

    command: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> NodeCommand:
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ApiError(422, "command must be a non-empty string")
        return cls(command)


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


# ---- routes ------------------------------------------------------------------------------

Handler = Callable[[AdminServer, web.Request, Cluster], Awaitable[web.StreamResponse]]
CollectionHandler = Callable[[AdminServer, web.Request], Awaitable[web.StreamResponse]]


async def list_clusters(server: AdminServer, request: web.Request) -> web.StreamResponse:
    return _json(
        200,
        {
            # Off the loop: a store held by a long write must not stall other clusters.
            "items": await server.in_thread(
                lambda: [server.cluster_document(c) for c in list(server.clusters.values())]
            ),
            "capacity": server.max_clusters,
        },
    )


async def create_cluster(server: AdminServer, request: web.Request) -> web.StreamResponse:
    new = NewCluster.parse(await _json_body(request))
    cluster = server.create_cluster(
        shape=new.shape,
        nodes=new.nodes,
        cluster_id=new.cluster_id,
        name=new.name,
        labels=new.labels,
        clock=new.clock,
    )
    return _json(201, server.cluster_document(cluster, with_kubeconfig=True))


async def get_cluster(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    return _json(
        200, await server.in_thread(server.cluster_document, cluster, with_kubeconfig=True)
    )


async def delete_cluster(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    server.delete_cluster(cluster.id)
    return _json(200, {"id": cluster.id, "deleted": True})


async def kubeconfig(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    return web.Response(
        text=dump_kubeconfig(server.kubeconfig(cluster)), content_type="application/yaml"
    )


async def snapshot(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    return await server.in_thread(lambda: _json(200, cluster.snapshot()))


async def restore(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    data = Snapshot.parse(await _json_body(request)).data
    plane = cluster.control_plane
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, _restore, cluster, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(422, f"malformed snapshot: {exc}") from None
    # A restore replaces the state without store writes: its snapshot goes to disk
    # before the log holds writes made on top of it.
    await _persist(server, cluster)
    if plane is not None:
        # The kubelets catch up with the restored state before anyone reads it.
        await loop.run_in_executor(None, plane.settle)
        await _persist(server, cluster)
    return _json(200, server.cluster_document(cluster))


def _restore(cluster: Cluster, data: dict[str, Any]) -> None:
    plane = cluster.control_plane
    if plane is None:
        cluster.restore(data)
        return
    with plane.lock:  # no tick sees half a restored cluster
        cluster.restore(data)


async def tick(server: AdminServer, request: web.Request, cluster: Cluster) -> web.StreamResponse:
    """`POST /admin/clusters/{id}/tick` `{"seconds": N}`: advance a manual clock by
    N seconds, settling the control plane at each step; answers `{"now": ISO}`."""
    seconds = Tick.parse(await _json_body(request)).seconds
    plane = cluster.control_plane
    if plane is None:
        raise ApiError(409, "this cluster has no control plane to tick")
    if not plane.manual:
        raise ApiError(409, "this cluster follows the wall clock; only manual clocks tick")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, plane.advance, seconds)
    await _persist(server, cluster)
    return _json(200, {"now": cluster.clock.now().isoformat()})


async def control_plane_status(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    plane = cluster.control_plane
    if plane is None:
        raise ApiError(404, "this cluster has no control plane")
    return _json(200, plane.status())


async def add_user(
    server: AdminServer, request: web.Request, cluster: Cluster
) -> web.StreamResponse:
    new = NewUser.parse(await _json_body(request), tls=server.tls)
    config = server.add_user(cluster, new.name, new.groups, cert=new.cert)
    await _persist(server, cluster)
    return _json(201, {"name": new.name, "kubeconfig": dump_kubeconfig(config)})


# `/admin/clusters`, by method.
COLLECTION_ROUTES: dict[str, CollectionHandler] = {
    "GET": list_clusters,
    "POST": create_cluster,
}

# `/admin/clusters/{id}[/{action}]`, by (action, method); `nodes` has its own table.
CLUSTER_ROUTES: dict[tuple[str, str], Handler] = {
    ("", "GET"): get_cluster,
    ("", "DELETE"): delete_cluster,
    ("kubeconfig", "GET"): kubeconfig,
    ("snapshot", "GET"): snapshot,
    ("snapshot", "POST"): snapshot,
    ("restore", "POST"): restore,
    ("tick", "POST"): tick,
    ("controlplane", "GET"): control_plane_status,
    ("users", "POST"): add_user,
}


def check_admin(server: AdminServer, request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    supplied = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not supplied or not secrets.compare_digest(supplied, server.admin_token):
        raise ApiError(401, "Unauthorized")


async def handle_admin(server: AdminServer, request: web.Request) -> web.StreamResponse:
    """Route one `/admin/clusters[...]` request (ApiError for every refusal)."""
    check_admin(server, request)
    parts = request.path.strip("/").split("/")[2:]  # after admin/clusters
    method = request.method
    if not parts:
        collection = COLLECTION_ROUTES.get(method)
        if collection is None:
            raise ApiError(405, "method not allowed")
        return await collection(server, request)
    cluster = server.get_cluster(parts[0])
    action = parts[1] if len(parts) > 1 else ""
    if action == "nodes":
        return await node_access(server, request, cluster, parts[2:])
    handler = CLUSTER_ROUTES.get((action, method))
    if handler is None:
        raise ApiError(404, "the server could not find the requested resource", details={})
    return await handler(server, request, cluster)


# ---- node access ---------------------------------------------------------------------------


def _node_list(cluster: Cluster) -> list[dict[str, Any]]:
    items = []
    for node in cluster.store.list("", "nodes")[0]:
        labels = node["metadata"].get("labels") or {}
        roles = sorted(
            key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
        )
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        items.append({"name": node["metadata"]["name"], "roles": roles, "ready": ready})
    # Machines of the shape not joined yet are reachable too (to run `kubeadm join`).
    listed = {item["name"] for item in items}
    for machine in cluster.spare_machines:
        if machine["name"] not in listed:
            items.append({"name": machine["name"], "roles": [], "ready": False})
    return items


async def read_node_file(
    request: web.Request, access: Any, node: str, path: str
) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    content = await loop.run_in_executor(None, access.read_file, node, path)
    return _json(200, {"node": node, "path": path, "content": content})


async def write_node_file(
    request: web.Request, access: Any, node: str, path: str
) -> web.StreamResponse:
    content = NodeFile.parse(await _json_body(request)).content
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, access.write_file, node, path, content)
    return _json(200, {"node": node, "path": path, "size": len(content)})


NODE_FILE_ROUTES = {"GET": read_node_file, "PUT": write_node_file}


async def node_access(
    server: AdminServer, request: web.Request, cluster: Cluster, rest: list[str]
) -> web.StreamResponse:
    """`/admin/clusters/{id}/nodes[/{node}/files|exec]`: the node-access API the
    cluster provider and `certprep lab ssh` use (files and commands on a node)."""
    method = request.method
    if not rest:
        if method != "GET":
            raise ApiError(405, "method not allowed")
        return _json(200, {"items": await server.in_thread(_node_list, cluster)})
    node = rest[0]
    action = rest[1] if len(rest) > 1 else ""
    spare = {m["name"] for m in cluster.spare_machines}
    if (
        node not in spare
        and await server.in_thread(cluster.store.get, "", "nodes", None, node) is None
    ):
        raise ApiError(404, f'node "{node}" not found')
    access = cluster.node_access
    if access is None:
        raise ApiError(
            501,
            "node access is not available: no node agents run in this cluster",
            reason="NotImplemented",
        )
    file_handler = NODE_FILE_ROUTES.get(method) if action == "files" else None
    if file_handler is not None:
        path = request.query.get("path", "")
        if not path.startswith("/"):
            raise ApiError(422, "path must be an absolute path")
        try:
            response = await file_handler(request, access, node, path)
        except KeyError:
            raise ApiError(404, f'node "{node}" not found') from None
        except OSError as exc:
            code = 404 if method == "GET" else 422
            raise ApiError(code, str(exc)) from None
        if method != "GET":
            await _persist(server, cluster)
        return response
    if action == "exec" and method == "POST":
        command = NodeCommand.parse(await _json_body(request)).command
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, lambda: access.shell(node).run(command))
        except KeyError:
            raise ApiError(404, f'node "{node}" not found') from None
        await _persist(server, cluster)
        return _json(
            200,
            {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr},
        )
    raise ApiError(404, "the server could not find the requested resource", details={})
