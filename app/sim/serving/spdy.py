"""SPDY/3.1 framing for `kubectl port-forward`, which tunnels a SPDY session inside
a WebSocket (subprotocol `SPDY/3.1+portforward.k8s.io`, client-go's
tools/portforward tunneling dialer; the binary messages carry the SPDY byte stream).

Per forwarded connection the client opens two streams whose headers name them:
`streamType: error` and `streamType: data`, with `port` and `requestID`. The server
accepts each with SYN_REPLY, answers the data stream's bytes with the pod's reply
and half-closes both (FLAG_FIN) when done; PING frames are echoed.

Frames (draft-mbelshe-httpbis-spdy-00): a control frame is `1|version(15) type(16)
flags(8) length(24)`; a data frame `0|stream-id(31) flags(8) length(24)`. Header
blocks are zlib streams primed with the SPDY/3 dictionary, one context per direction.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
)
FLAG_FIN = 0x01
PROTOCOL = "SPDY/3.1+portforward.k8s.io"

# The SPDY/3 header-compression dictionary (section 2.6.10.1): length-prefixed
# header names and common values, then a run of common text.
_DICTIONARY_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding "
    "accept-language accept-ranges age allow authorization cache-control connection "
    "content-base content-encoding content-language content-length content-location "
    "content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status|200 OK|version|HTTP/1.1|url public set-cookie "
    "keep-alive origin"
)
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
    "charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    words: list[str] = []
    for chunk in _DICTIONARY_WORDS.split("|"):
        # "200 OK" and "HTTP/1.1" hold spaces or slashes: they are split out with "|".
        words.extend([chunk] if chunk in ("200 OK", "HTTP/1.1", "version") else chunk.split())
    out = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return out + _DICTIONARY_TAIL.encode()


DICTIONARY = _dictionary()


@dataclass
class Frame:
    control: bool
    kind: int  # control frame type, or 0 for data
    flags: int
    stream_id: int
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Session:
    """One side of a SPDY session: feed received bytes, get frames; build replies."""

    def __init__(self) -> None:
        self._buffer = b""
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        """The complete frames in the bytes received so far."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, payload = self._buffer[:8], self._buffer[8 : 8 + length]
            self._buffer = self._buffer[8 + length :]
            flags = head[4]
            if head[0] & 0x80:
                kind = int.from_bytes(head[2:4], "big")
                frame = Frame(True, kind, flags, 0, payload)
                if kind in (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE):
                    frame.stream_id = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                if kind == SYN_STREAM:
                    frame.headers = self._headers(payload[10:])
                elif kind in (SYN_REPLY, HEADERS):
                    frame.headers = self._headers(payload[4:])
                frames.append(frame)
            else:
                stream_id = int.from_bytes(head[:4], "big") & 0x7FFFFFFF
                frames.append(Frame(False, 0, flags, stream_id, payload))
        return frames

    def _headers(self, block: bytes) -> dict[str, str]:
        data = self._inflate.decompress(block)
        count = struct.unpack(">I", data[:4])[0]
        offset = 4
        headers: dict[str, str] = {}
        for _ in range(count):
            size = struct.unpack(">I", data[offset : offset + 4])[0]
            name = data[offset + 4 : offset + 4 + size].decode()
            offset += 4 + size
            size = struct.unpack(">I", data[offset : offset + 4])[0]
            value = data[offset + 4 : offset + 4 + size].decode()
            offset += 4 + size
            headers[name.lower()] = value.split("\x00")[0]
        return headers

    def header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.encode()
            raw += struct.pack(">I", len(value)) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        payload = struct.pack(">I", stream_id) + self.header_block(headers or {})
        return control(SYN_REPLY, 0, payload)

    def syn_stream(self, stream_id: int, headers: dict[str, str], flags: int = 0) -> bytes:
        payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + self.header_block(headers)
        return control(SYN_STREAM, flags, payload)


def control(kind: int, flags: int, payload: bytes) -> bytes:
    return (
        struct.pack(">HHB", 0x8000 | VERSION, kind, flags)
        + len(payload).to_bytes(3, "big")
        + payload
    )


def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
    return (
        struct.pack(">IB", stream_id & 0x7FFFFFFF, FLAG_FIN if fin else 0)
        + len(payload).to_bytes(3, "big")
        + payload
    )
