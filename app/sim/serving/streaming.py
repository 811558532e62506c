"""Long-running responses: watch streams and `kubectl logs -f`.

A watch subscribes to the cluster's store and writes one JSON event per line until its
timeout, a slow-consumer cut-off or the client leaving; idle watches get bookmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from app.sim.apiserver import hpa_v1
from app.sim.apiserver.pipeline import (
    JSON,
    ApiRequest,
    bookmark_object,
    handle,
    watch_object,
)
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.machinery.watch import BOOKMARK, ERROR
from app.sim.serving.httpio import _json, _to_web

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
# A watch yields to the event loop after this many events written in a row (a large
# initial list, a burst), so one stream never holds the loop.
WATCH_YIELD_EVERY = 64
DEFAULT_LOG_FOLLOW_SECONDS = 1800.0


# Runs `fn(*args)` as one of the cluster's client requests on a request thread (the
# server's `_offload`): store reads never happen on the event loop.
Offload = Callable[..., Awaitable[Any]]


async def watch(
    request: web.Request,
    cluster: Cluster,
    req: ApiRequest,
    plan: Any,
    *,
    offload: Offload,
    byte_limit: int = 0,
) -> web.StreamResponse:
    """Stream `plan` (from `plan_watch`, authorized already) to the client."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    queue: asyncio.Queue = asyncio.Queue()
    overflow = {"hit": False}
    # Bytes of object data queued for this watcher: a slow reader is cut off past
    # `byte_limit` (or WATCH_QUEUE_LIMIT events) and re-lists, as upstream's cacher
    # terminates slow watchers.
    queued = {"bytes": 0}

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
        sub, _ = await offload(cluster, subscribe)
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
            elif plan.as_table or hpa_v1.applies(plan.rt):
                # A Table, or an object served in another version than it is stored in.
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


async def follow_log(
    request: web.Request, cluster: Cluster, req: ApiRequest, *, offload: Offload
) -> web.StreamResponse:
    """`kubectl logs -f`: the log so far, then new lines as they are appended, until
    the pod is gone or has finished, or the client leaves."""
    first = await offload(cluster, handle, cluster, req)
    if first.status != 200:
        return _to_web(first)
    namespace, name = req.namespace or "", req.name or ""

    def log_state(container: str) -> tuple[list[str], dict | None]:
        # The store is read on a request thread (see `watch`).
        lines = cluster.container_log(namespace, name, container) or [] if container else []
        return lines, cluster.store.get("", "pods", namespace, name)

    _, pod = await offload(cluster, log_state, "")
    containers = [c.get("name") for c in ((pod or {}).get("spec") or {}).get("containers") or []]
    container = req.query.get("container") or (containers[0] if containers else "")
    seen = len((await offload(cluster, log_state, container))[0])
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
            lines, current = await offload(cluster, log_state, container)
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


async def _write_event(response: web.StreamResponse, kind: str, obj: Any) -> None:
    line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
    await response.write(line.encode())
