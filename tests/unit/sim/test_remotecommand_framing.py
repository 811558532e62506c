"""The WebSocket channel framing of pods/exec, attach and portforward, and the exit
Status kubectl reads its exit code from."""

from __future__ import annotations

import json

import pytest

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
