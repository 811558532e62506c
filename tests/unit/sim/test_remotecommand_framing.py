"""The WebSocket channel framing of pods/exec, attach and portforward, and the exit
Status kubectl reads its exit code from."""

from __future__ import annotations

import json

import pytest

from app.sim.serving import spdy
from app.sim.serving.remotecommand import (
    CLOSE,
    ERROR,
    STDIN,
    STDOUT,
    exit_status,
    frame,
    parse_frame,
    start_failure,
)


def test_a_frame_is_the_channel_byte_then_the_data() -> None:
    assert frame(STDOUT, b"hi\n") == b"\x01hi\n"
    assert frame(ERROR) == b"\x03"
    assert parse_frame(b"\x00abc") == (STDIN, b"abc")
    # v5's close signal names the stream it half-closes.
    assert parse_frame(bytes([CLOSE, STDIN])) == (255, b"\x00")
    with pytest.raises(ValueError):
        parse_frame(b"")


def test_success_and_non_zero_exit_status() -> None:
    assert exit_status(0, ["echo", "hi"]) == {"metadata": {}, "status": "Success"}
    failed = exit_status(3, ["sh", "-c", "exit 3"])
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert failed["message"] == (
        "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 3], exit code 3"
    )
    json.dumps(failed)  # written as JSON on the error channel


def test_missing_executable_is_runcs_error() -> None:
    status = start_failure(["sheep"])
    assert status["status"] == "Failure" and status["code"] == 500
    assert 'exec: "sheep": executable file not found in $PATH: unknown' in status["message"]


def test_spdy_frames_round_trip_through_a_session() -> None:
    client, server = spdy.Session(), spdy.Session()
    opened = client.syn_stream(1, {"streamType": "data", "port": "80", "requestID": "0"})
    # Split across WebSocket messages: a frame is only returned once complete.
    assert server.feed(opened[:5]) == []
    (frame_,) = server.feed(opened[5:] + spdy.data(1, b"GET / HTTP/1.1\r\n\r\n"))[:1]
    assert frame_.control and frame_.kind == spdy.SYN_STREAM and frame_.stream_id == 1
    assert frame_.headers == {"streamtype": "data", "port": "80", "requestid": "0"}
    reply = client.feed(server.syn_reply(1) + spdy.data(1, b"", fin=True))
    assert [(f.kind, f.stream_id) for f in reply] == [(spdy.SYN_REPLY, 1), (0, 1)]
    assert reply[1].flags & spdy.FLAG_FIN


def test_spdy_dictionary_is_the_spec_one() -> None:
    # SPDY/3 section 2.6.10.1: 1423 bytes, starting with "options" and ending "enq=0."
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")
