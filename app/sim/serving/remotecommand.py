"""`pods/exec`, `pods/attach` and `pods/portforward` over WebSocket.

The remote-command protocols client-go and the official Python client speak
(k8s.io/apimachinery/pkg/util/httpstream/wsstream, k8s.io/client-go/tools/remotecommand):
the client upgrades a GET with the subprotocol `v5.channel.k8s.io` or
`v4.channel.k8s.io`; every binary message starts with a channel byte:

    0 stdin (client -> server)      3 error: the exit Status as JSON (server -> client)
    1 stdout                        4 resize: {"Width": W, "Height": H} (client -> server)
    2 stderr                        255 close: [255, CHANNEL] half-closes a stream (v5)

The server first writes an empty message on the lowest writable channel (the
connection is up), then the output, then the Status on channel 3: `Success`, or
`Failure` with reason `NonZeroExitCode` and an `ExitCode` cause, which kubectl turns
into its own exit code. A port-forward (`v4.channel.k8s.io` / `portforward.k8s.io`)
has two channels per requested port, data (2i) and error (2i+1); each channel's first
server message carries the port number as two little-endian bytes.

As upstream (the AuthorizePodWebsocketUpgradeCreatePermission gate, on since 1.35),
the upgrade needs `create` on the subresource even though it arrives as a GET.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import zlib
from dataclasses import replace
from typing import Any

from aiohttp import WSMsgType, web

from app.sim.apiserver.pipeline import ApiRequest, RequestContext, authenticate, authorize
from app.sim.apiserver.request import resolve_type
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.nodes.containers import ContainerAccess, ContainerError, ContainerShell, decode, encode
from app.sim.serving import spdy
from app.sim.serving.httpio import _json

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
EXEC_PROTOCOLS = (V5, V4)
PORT_FORWARD_PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")
STREAMING = ("exec", "attach", "portforward")
_SHELLS = {"sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash"}
# How often an attach session looks for new log lines (seconds).
ATTACH_POLL = 0.2


def frame(channel: int, data: bytes = b"") -> bytes:
    """One channel message: the channel byte, then the data."""
    return bytes([channel]) + data


def parse_frame(message: bytes) -> tuple[int, bytes]:
    """(channel, data) of a received message; ValueError for an empty one."""
    if not message:
        raise ValueError("empty channel message")
    return message[0], message[1:]


def exit_status(code: int, argv: list[str]) -> dict[str, Any]:
    """The Status written on the error channel when a command ends (kubelet's
    remotecommand server: `command terminated with non-zero exit code`)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(argv)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def start_failure(argv: list[str]) -> dict[str, Any]:
    """runc's answer when the executable does not exist in the container."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "Internal error occurred: error executing command in container: failed to exec "
            "in container: failed to start exec: OCI runtime exec failed: exec failed: "
            "unable to start container process: exec: "
            f'"{argv[0]}": executable file not found in $PATH: unknown'
        ),
        "reason": "InternalError",
        "code": 500,
        "details": {"causes": [{"message": f'exec: "{argv[0]}": executable file not found'}]},
    }


def is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def connect(request: web.Request, cluster: Cluster, req: ApiRequest) -> web.StreamResponse:
    """Serve one streaming subresource request."""
    try:
        ctx = RequestContext(cluster, replace(req, method="POST"))
        # The parent's type: the streaming subresources are served here, not by the
        # pipeline's subresource table.
        ctx.rt = resolve_type(cluster, replace(ctx.request, subresource=None))
        authenticate(ctx)
        authorize(ctx)
        if cluster.store.get("", "pods", req.namespace, req.name or "") is None:
            raise ApiError(404, f'pods "{req.name}" not found', reason="NotFound")
        if not is_upgrade(request):
            raise ApiError(400, "Upgrade request required", reason="BadRequest")
        access = cluster.node_access
        if access is None:
            raise ApiError(400, "no node agents run in this cluster: containers cannot be reached")
        containers = ContainerAccess(access)
    except ApiError as exc:
        return _json(exc.code, exc.status())
    namespace, pod = req.namespace or "default", req.name or ""
    if req.subresource == "portforward":
        return await _port_forward(request, containers, namespace, pod)
    query = request.query
    container = query.get("container") or containers.default_container(namespace, pod)
    try:
        containers.check(namespace, pod, container)
    except ContainerError as exc:
        return _json(exc.code, ApiError(exc.code, exc.message).status())
    options = {key: query.get(key) in ("true", "1") for key in ("stdin", "stdout", "stderr", "tty")}
    if "stdout" not in query and req.subresource == "exec":
        options["stdout"] = True
    ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)
    session = _Session(ws, options)
    try:
        await session.announce()
        if req.subresource == "exec":
            argv = query.getall("command", [])
            await _exec(session, containers, namespace, pod, container, argv)
        else:
            await _attach(session, containers, cluster, namespace, pod, container)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


class _Session:
    """The channels of one exec/attach connection."""

    def __init__(self, ws: web.WebSocketResponse, options: dict[str, bool]) -> None:
        self.ws = ws
        self.options = options
        self.tty = options["tty"]
        self.v5 = ws.ws_protocol == V5
        self.size = (80, 24)

    async def announce(self) -> None:
        # wsstream: an empty message on the lowest writable channel says "connected".
        for channel, key in ((STDOUT, "stdout"), (STDERR, "stderr")):
            if self.options[key]:
                await self.ws.send_bytes(frame(channel))
                return
        await self.ws.send_bytes(frame(ERROR))

    async def out(self, data: bytes, channel: int = STDOUT) -> None:
        if not data:
            return
        if self.tty:
            channel = STDOUT  # a terminal has one output stream
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if channel == STDOUT and not self.options["stdout"]:
            return
        if channel == STDERR and not (self.options["stderr"] or self.tty):
            return
        await self.ws.send_bytes(frame(channel, data))

    async def status(self, status: dict[str, Any]) -> None:
        await self.ws.send_bytes(frame(ERROR, json.dumps(status).encode()))

    async def receive(self) -> tuple[int, bytes] | None:
        """The next client message as (channel, data); None when the client is gone."""
        while True:
            msg = await self.ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None
            if msg.type == WSMsgType.BINARY:
                data = msg.data
            elif msg.type == WSMsgType.TEXT:
                data = msg.data.encode()
            else:
                continue
            try:
                channel, payload = parse_frame(data)
            except ValueError:
                continue
            if channel == RESIZE:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    size = json.loads(payload)
                    self.size = (int(size["Width"]), int(size["Height"]))
                continue
            return channel, payload

    async def read_stdin(self) -> bytes:
        """All of stdin, until the client half-closes it (v5) or leaves."""
        chunks: list[bytes] = []
        while True:
            item = await self.receive()
            if item is None:
                break
            channel, payload = item
            if channel == STDIN:
                chunks.append(payload)
            elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                break
        return b"".join(chunks)


async def _run(shell: ContainerShell, line: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    loop = asyncio.get_running_loop()

    def work() -> tuple[int, bytes, bytes]:
        shell.exit_code = None
        if stdin:
            with shell.nodes.lock:
                result = shell._simple(shlex.split(line), decode(stdin))
        else:
            result = shell.run(line)
        return result.exit_code, encode(result.stdout), encode(result.stderr)

    return await loop.run_in_executor(None, work)


def _interactive(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in _SHELLS and argv[1:] in ([], ["-i"], ["-l"])


async def _exec(
    session: _Session,
    containers: ContainerAccess,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
) -> None:
    try:
        shell = containers.shell(namespace, pod, container)
    except ContainerError as exc:
        await session.status(ApiError(exc.code, exc.message).status())
        return
    if not argv or not shell.has(argv[0]):
        await session.status(start_failure(argv or [""]))
        return
    if session.options["stdin"] and _interactive(argv):
        code = await _shell_session(session, shell)
    elif session.options["stdin"] and _streaming_cat(argv):
        code = await _echo_stdin(session)
    else:
        stdin = await session.read_stdin() if session.options["stdin"] else b""
        line = " ".join(shlex.quote(a) for a in argv)
        code, out, err = await _run(shell, line, stdin)
        await session.out(out, STDOUT)
        await session.out(err, STDERR)
    await session.status(exit_status(code, argv))


def _streaming_cat(argv: list[str]) -> bool:
    """`cat` over standard input (`cat`, `sh -c cat`): echoed chunk by chunk as the
    real process does, so a client reads each line back before closing stdin."""
    return argv == ["cat"] or (len(argv) == 3 and argv[0] in _SHELLS and argv[1:] == ["-c", "cat"])


async def _echo_stdin(session: _Session) -> int:
    while True:
        item = await session.receive()
        if item is None:
            return 0
        channel, payload = item
        if channel == STDIN:
            await session.out(payload, STDOUT)
        elif channel == CLOSE and payload[:1] == bytes([STDIN]):
            return 0


def _prompt(shell: ContainerShell) -> bytes:
    # busybox ash's PS1 is "\w # "; bash in Debian images "root@HOST:\w# ".
    if "bash" in shell.context.profile.tools:
        return f"root@{shell.context.pod}:{shell.cwd}# ".encode()
    return f"{shell.cwd} # ".encode()


async def _shell_session(session: _Session, shell: ContainerShell) -> int:
    """An interactive shell: each line of stdin runs as it is completed; a terminal
    gets prompts and the echo of what is typed. Ends on `exit`, Ctrl-D on an empty
    line, stdin closing or the client leaving; returns the exit code."""
    buffer = b""
    code = 0
    if session.tty:
        await session.out(_prompt(shell))
    while True:
        item = await session.receive()
        if item is None:
            return code
        channel, payload = item
        if channel == CLOSE:
            if buffer.strip():
                code, out, err = await _run(shell, buffer.decode("utf-8", "replace"))
                await session.out(out)
                await session.out(err, STDERR)
            shell.exit_code = code if shell.exit_code is None else shell.exit_code
            return shell.exit_code
        if channel != STDIN:
            continue
        buffer, code, finished = await _shell_input(session, shell, payload, buffer, code)
        if finished is not None:
            return finished


async def _shell_input(
    session: _Session, shell: ContainerShell, payload: bytes, buffer: bytes, code: int
) -> tuple[bytes, int, int | None]:
    """Feed typed bytes to the shell: returns the line typed so far, the last exit code
    and, once the shell has ended, its exit code (None while it runs)."""
    for byte in payload:
        ch = bytes([byte])
        if session.tty and ch in (b"\x7f", b"\x08"):
            if buffer:
                buffer = buffer[:-1]
                await session.out(b"\x08 \x08")
            continue
        if session.tty and ch == b"\x03":
            buffer = b""
            await session.out(b"^C\n" + _prompt(shell))
            continue
        if ch == b"\x04" and not buffer:
            shell.exit_code = code  # end of input: the shell exits
            return buffer, code, code
        if ch in (b"\r", b"\n"):
            if session.tty:
                await session.out(b"\n")
            line, buffer = buffer.decode("utf-8", "replace"), b""
            if line.strip():
                code, out, err = await _run(shell, line)
                await session.out(out)
                await session.out(err, STDERR)
                if shell.exit_code is not None:
                    return buffer, code, shell.exit_code
            if session.tty:
                await session.out(_prompt(shell))
            continue
        buffer += ch
        if session.tty:
            await session.out(ch)
    return buffer, code, None


async def _attach(
    session: _Session,
    containers: ContainerAccess,
    cluster: Cluster,
    namespace: str,
    pod: str,
    container: str,
) -> None:
    """Attach to the container's main process: a shell (a container started with
    `stdin: true`, as `kubectl run -it` makes) answers the attached terminal; any
    other process streams what it prints from now on."""
    try:
        shell = containers.shell(namespace, pod, container)
    except ContainerError as exc:
        await session.status(ApiError(exc.code, exc.message).status())
        return
    argv = shell.context.main_argv
    if session.options["stdin"] and argv and argv[0] in _SHELLS and "-c" not in argv:
        code = await _shell_session(session, shell)
        await session.status(exit_status(code, argv))
        if shell.exit_code is not None:
            # `exit` (or the end of stdin) ends the container's main process.
            await asyncio.get_running_loop().run_in_executor(
                None, containers.end_main_process, namespace, pod, container, code
            )
        return
    seen = len(cluster.container_log(namespace, pod, container) or [])
    reader = asyncio.ensure_future(session.receive())
    try:
        while True:
            done, _ = await asyncio.wait({reader}, timeout=ATTACH_POLL)
            if done:
                item = reader.result()
                if item is None or item[0] == CLOSE:
                    return
                reader = asyncio.ensure_future(session.receive())
            lines = cluster.container_log(namespace, pod, container) or []
            if len(lines) > seen:
                text = "".join(line + "\n" for line in lines[seen:])
                await session.out(text.encode())
                seen = len(lines)
            try:
                containers.check(namespace, pod, container)
            except ContainerError:
                await session.status(exit_status(0, argv))
                return
    finally:
        reader.cancel()


# ---- port-forward ---------------------------------------------------------------------


async def _port_forward(
    request: web.Request, containers: ContainerAccess, namespace: str, pod: str
) -> web.StreamResponse:
    """The WebSocket port-forward (the Python client's): all requested ports at once.
    As the kubelet (pkg/kubelet/cri/streaming/portforward/websocket.go), each port is
    dialled when the connection opens: a port nothing listens on gets its error at
    once on its error channel. Client data frames carry no port prefix."""
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if spdy.PROTOCOL in offered:
        return await _port_forward_spdy(request, containers, namespace, pod)
    try:
        # The kubelet splits each `ports` value on commas (portforward.NewV4Options).
        values = request.query.getall("ports", [])
        ports = [int(p) for value in values for p in value.split(",")]
    except ValueError:
        return _json(400, ApiError(400, "invalid port in the ports parameter").status())
    if not ports or any(not 0 < p < 65536 for p in ports):
        return _json(400, ApiError(400, "at least one valid port is required").status())
    ws = web.WebSocketResponse(protocols=PORT_FORWARD_PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    try:
        protocols = await loop.run_in_executor(
            None, lambda: [containers.port_protocol(namespace, pod, port) for port in ports]
        )
        for index, port in enumerate(ports):
            prefix = port.to_bytes(2, "little")
            await ws.send_bytes(frame(2 * index, prefix))
            await ws.send_bytes(frame(2 * index + 1, prefix))
            if protocols[index] is None:
                refused = f"dial tcp4 127.0.0.1:{port}: connect: connection refused"
                await ws.send_bytes(frame(2 * index + 1, _forward_error(port, pod, refused)))
        await _forward_frames(ws, containers, namespace, pod, ports, protocols)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


def _forward_error(port: int, pod: str, reason: str) -> bytes:
    return (
        f"error forwarding port {port} to pod {pod}: failed to connect to "
        f"localhost:{port} inside namespace: {reason}"
    ).encode()


async def _forward_frames(
    ws: web.WebSocketResponse,
    containers: ContainerAccess,
    namespace: str,
    pod: str,
    ports: list[int],
    protocols: list[str | None],
) -> None:
    """Carry the client's data frames: an echo server sends each back as it comes;
    an HTTP server answers each whole request (up to its blank line)."""
    pending: dict[int, bytes] = {}
    loop = asyncio.get_running_loop()
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        index = channel // 2
        if channel % 2 or index >= len(ports) or protocols[index] is None:
            continue
        if protocols[index] == "echo":
            if data:
                await ws.send_bytes(frame(channel, data))
            continue
        pending[channel] = pending.get(channel, b"") + data
        if b"\r\n\r\n" not in pending[channel]:
            continue
        raw, pending[channel] = pending[channel], b""
        port = ports[index]
        try:
            answer = await loop.run_in_executor(
                None, containers.http_response, namespace, pod, port, raw
            )
        except (OSError, ContainerError) as exc:
            reason = getattr(exc, "message", None) or str(exc)
            await ws.send_bytes(frame(2 * index + 1, _forward_error(port, pod, reason)))
            continue
        await ws.send_bytes(frame(2 * index, answer))


async def _port_forward_spdy(
    request: web.Request, containers: ContainerAccess, namespace: str, pod: str
) -> web.StreamResponse:
    """kubectl's port-forward: a SPDY session tunnelled through the WebSocket, a
    (data, error) stream pair per local connection; the port is a stream header."""
    ws = web.WebSocketResponse(protocols=(spdy.PROTOCOL,), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    session = spdy.Session()
    loop = asyncio.get_running_loop()
    # requestID -> {"data": stream id, "error": stream id, "port": int, "buffer": bytes}
    pairs: dict[str, dict[str, Any]] = {}
    by_stream: dict[int, str] = {}
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            try:
                frames = session.feed(msg.data)
            except (zlib.error, ValueError, IndexError, UnicodeDecodeError):
                break
            for item in frames:
                if item.control and item.kind == spdy.PING:
                    await ws.send_bytes(spdy.control(spdy.PING, 0, item.payload))
                elif item.control and item.kind == spdy.SYN_STREAM:
                    headers = item.headers
                    key = headers.get("requestid", str(item.stream_id))
                    pair = pairs.setdefault(key, {"buffer": b"", "done": False})
                    pair[headers.get("streamtype", "data")] = item.stream_id
                    try:
                        pair["port"] = int(headers.get("port", "0"))
                    except ValueError:
                        pair["port"] = 0
                    by_stream[item.stream_id] = key
                    await ws.send_bytes(session.syn_reply(item.stream_id))
                elif item.control and item.kind == spdy.GOAWAY:
                    return ws
                elif not item.control:
                    data_pair = pairs.get(by_stream.get(item.stream_id) or "")
                    if (
                        data_pair is None
                        or data_pair.get("data") != item.stream_id
                        or data_pair["done"]
                    ):
                        continue
                    await _spdy_data(ws, session, loop, containers, namespace, pod, data_pair, item)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


async def _spdy_data(
    ws: web.WebSocketResponse,
    session: spdy.Session,
    loop: asyncio.AbstractEventLoop,
    containers: ContainerAccess,
    namespace: str,
    pod: str,
    pair: dict[str, Any],
    item: Any,
) -> None:
    """A data frame of one forwarded connection: an echo server sends it back at
    once; else it is buffered until a whole HTTP request (or the stream's end)."""
    if "protocol" not in pair:
        port = int(pair.get("port") or 0)
        pair["protocol"] = await loop.run_in_executor(
            None, containers.port_protocol, namespace, pod, port
        )
    if pair["protocol"] == "echo":
        if item.payload:
            await ws.send_bytes(spdy.data(pair["data"], item.payload))
        if item.flags & spdy.FLAG_FIN:
            pair["done"] = True
            await ws.send_bytes(spdy.data(pair["data"], b"", fin=True))
        return
    pair["buffer"] += item.payload
    if b"\r\n\r\n" not in pair["buffer"] and not item.flags & spdy.FLAG_FIN:
        return
    pair["done"] = True
    await _answer_pair(ws, session, loop, containers, namespace, pod, pair)


async def _answer_pair(
    ws: web.WebSocketResponse,
    session: spdy.Session,
    loop: asyncio.AbstractEventLoop,
    containers: ContainerAccess,
    namespace: str,
    pod: str,
    pair: dict[str, Any],
) -> None:
    port = int(pair.get("port") or 0)
    try:
        answer = await loop.run_in_executor(
            None, containers.http_response, namespace, pod, port, pair["buffer"]
        )
    except (OSError, ContainerError) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        message = (
            f"error forwarding port {port} to pod {pod}: failed to connect to "
            f"localhost:{port} inside namespace: {reason}"
        )
        if "error" in pair:
            await ws.send_bytes(spdy.data(pair["error"], message.encode(), fin=True))
        if "data" in pair:
            await ws.send_bytes(spdy.data(pair["data"], b"", fin=True))
        return
    for start in range(0, len(answer), 16384):
        await ws.send_bytes(spdy.data(pair["data"], answer[start : start + 16384]))
    await ws.send_bytes(spdy.data(pair["data"], b"", fin=True))
    if "error" in pair:
        await ws.send_bytes(spdy.data(pair["error"], b"", fin=True))
