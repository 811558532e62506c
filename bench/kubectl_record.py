"""What kubectl sends and gets: a forwarder in front of the simulator that records every
exchange (HTTP and WebSocket), and can then answer recorded requests itself.

`Forwarder(upstream).app()` is an aiohttp application. Point a kubeconfig at it (its own
TLS: `forwarder_tls()`) with the simulator's path and token: in record mode each
request goes on to `upstream` (the simulator's base URL) unchanged and the request and
its answer are kept as an `Exchange`; a WebSocket upgrade (`kubectl exec`) is opened
upstream with the same subprotocols and its messages are relayed both ways and kept.
After `forwarder.replay = True` (or `POST /-/replay`) it answers the recorded HTTP
requests from memory, keyed by path, query and Accept header (404 and a miss counted for
any other); `GET /-/replay` answers the counts of recorded responses and misses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# Hop-by-hop or per-connection headers: not forwarded, not replayed.
_HOP = {
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
}


@dataclass
class Exchange:
    """One request kubectl sent and the answer it got. A WebSocket exchange keeps the
    negotiated subprotocol and the binary messages each side sent."""

    method: str
    path_qs: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int
    answer_headers: list[tuple[str, str]]
    answer: bytes
    websocket: str | None = None
    sent: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.answer_headers if k.lower() == "content-type"), "")


def forwarder_tls() -> Any:
    """A TLS context for the forwarder and the CA (PEM) a kubeconfig must trust."""
    from app.sim.machinery.tls import generate_ca, issue_server_cert, server_ssl_context

    ca = generate_ca("forwarder")
    return server_ssl_context(ca, issue_server_cert(ca)), ca.cert_pem


class Forwarder:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.replay = False
        self.misses = 0
        self._answers: dict[tuple[str, str], Exchange] = {}
        self._client: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.cleanup_ctx.append(self._session)
        app.router.add_route("*", "/-/replay", self.control)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def control(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            self.replay = True
        return web.json_response({"recorded": len(self._answers), "misses": self.misses})

    async def _session(self, app: web.Application) -> Any:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        yield
        await self._client.close()

    def take(self) -> list[Exchange]:
        """The exchanges recorded since the last call."""
        taken, self.exchanges = self.exchanges, []
        return taken

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.replay:
            found = self._answers.get((request.path_qs, request.headers.get("Accept", "")))
            if found is None:
                self.misses += 1
                return web.Response(status=404, text=f"not recorded: {request.path_qs}")
            return web.Response(
                status=found.status, body=found.answer, headers=found.answer_headers
            )
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, headers)
        body = await request.read()
        assert self._client is not None
        async with self._client.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            ssl=False,
        ) as upstream:
            answer = await upstream.read()
            kept = [(k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP]
        exchange = Exchange(
            request.method, request.path_qs, headers, body, upstream.status, kept, answer
        )
        self.exchanges.append(exchange)
        self._answers[(request.path_qs, request.headers.get("Accept", ""))] = exchange
        return web.Response(status=upstream.status, body=answer, headers=kept)

    async def _websocket(
        self, request: web.Request, headers: list[tuple[str, str]]
    ) -> web.StreamResponse:
        offered = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p
        ]
        plain = [(k, v) for k, v in headers if k.lower() != "sec-websocket-protocol"]
        assert self._client is not None
        upstream = await self._client.ws_connect(
            self.upstream + request.path_qs, protocols=offered, headers=plain, ssl=False
        )
        exchange = Exchange(request.method, request.path_qs, headers, b"", 101, [], b"")
        exchange.websocket = upstream.protocol
        self.exchanges.append(exchange)
        client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else [])
        await client.prepare(request)

        await asyncio.gather(
            _relay(upstream, client, exchange.received), _relay(client, upstream, exchange.sent)
        )
        return client


async def _relay(source: Any, sink: Any, log: list[bytes]) -> None:
    """Copy the binary frames of one WebSocket direction to the other, keeping each in
    `log`; close `sink` when `source` ends."""
    async for message in source:
        if message.type == aiohttp.WSMsgType.BINARY:
            log.append(message.data)
            await sink.send_bytes(message.data)
    await sink.close()
