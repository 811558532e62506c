"""Structured logging: format choice, JSON lines with bound context, request ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.logging import (
    bind_context,
    clear_context,
    configure_logging,
    get_logger,
    request_id_from,
    reset_logging,
    resolve_format,
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging():
    level = logging.getLogger().level
    yield
    reset_logging(level)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_when_stdout_is_not_a_terminal_and_console_when_it_is(monkeypatch):
    monkeypatch.delenv("CERTPREP_LOG_FORMAT", raising=False)
    assert resolve_format(stream=io.StringIO()) == "json"
    assert resolve_format(stream=_Terminal()) == "console"


def test_the_environment_variable_forces_a_format(monkeypatch):
    monkeypatch.setenv("CERTPREP_LOG_FORMAT", "json")
    assert resolve_format(stream=_Terminal()) == "json"
    monkeypatch.setenv("CERTPREP_LOG_FORMAT", "Console")
    assert resolve_format(stream=io.StringIO()) == "console"
    monkeypatch.setenv("CERTPREP_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="CERTPREP_LOG_FORMAT"):
        resolve_format(stream=io.StringIO())


def test_structlog_events_are_json_lines_with_the_bound_context(restore_logging):
    stream = io.StringIO()
    assert configure_logging(fmt="json", level="INFO", stream=stream) == "json"

    bind_context(request_id="req-1")
    get_logger("app.test").info("job.done", job_id=7)
    get_logger("app.test").debug("hidden")
    clear_context()
    get_logger("app.test").warning("after")

    first, second = _lines(stream)
    assert first["event"] == "job.done" and first["job_id"] == 7
    assert first["request_id"] == "req-1"
    assert first["level"] == "info" and first["logger"] == "app.test"
    assert first["timestamp"].endswith("Z")
    assert second["event"] == "after" and "request_id" not in second


def test_standard_library_records_go_through_the_same_renderer(restore_logging):
    stream = io.StringIO()
    configure_logging(fmt="json", level="INFO", stream=stream)

    bind_context(task_id="t-1")
    logging.getLogger("celery.worker").info("consumer %s ready", "c1")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gunicorn.error").exception("failed")

    ready, failed = _lines(stream)
    assert ready["event"] == "consumer c1 ready" and ready["task_id"] == "t-1"
    assert ready["logger"] == "celery.worker"
    assert failed["level"] == "error"
    assert failed["exception"][0]["exc_type"] == "ValueError"


def test_console_format_is_human_readable(restore_logging):
    stream = io.StringIO()
    configure_logging(fmt="console", level="INFO", stream=stream)
    get_logger("app.test").info("hello", answer=42)
    line = stream.getvalue()
    assert "hello" in line and "answer=42" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_reconfiguring_replaces_the_handler_and_keeps_others(restore_logging):
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=first)
    configure_logging(fmt="json", stream=second)

    get_logger("app.test").warning("once")

    assert first.getvalue() == ""
    assert len(_lines(second)) == 1
    assert other in logging.getLogger().handlers
    reset_logging()
    assert logging.getLogger().handlers.count(other) == 1
    logging.getLogger().removeHandler(other)


def test_an_unknown_level_is_refused(restore_logging):
    with pytest.raises(ValueError, match="CERTPREP_LOG_LEVEL"):
        configure_logging(fmt="json", level="LOUD", stream=io.StringIO())


@pytest.mark.parametrize("incoming", ["abc-123", "0f" * 16, "edge.proxy:42/7"])
def test_a_well_formed_incoming_request_id_is_kept(incoming):
    assert request_id_from(incoming) == incoming


@pytest.mark.parametrize("incoming", [None, "", "x" * 129, "has space", "new\nline", "<script>"])
def test_a_missing_or_unsafe_request_id_is_replaced(incoming):
    generated = request_id_from(incoming)
    assert generated != incoming
    assert len(generated) == 32 and all(c in "0123456789abcdef" for c in generated)


def test_json_lines_are_those_of_structlogs_own_formatter(restore_logging):
    """The JSON formatter's shortcut for plain structlog events writes the very line
    structlog's `ProcessorFormatter` would."""
    import datetime

    import structlog

    from app.logging import _shared_processors

    stream, reference = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", level="INFO", stream=stream)
    plain = logging.StreamHandler(reference)
    plain.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.getLogger().addHandler(plain)

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    try:
        bind_context(request_id="req-9")
        log = get_logger("app.request")
        log.info("request", method="PUT", path="/api/v1/x", status=200, duration_ms=1.25)
        log.info("odd", at=datetime.date(2020, 1, 2), thing=Opaque(), text="é\u2028", n=None)
        log.warning("formatted %s", "value")
        try:
            raise KeyError("k")
        except KeyError:
            log.exception("failed")
        logging.getLogger("gunicorn.error").info("plain %d", 3)
    finally:
        logging.getLogger().removeHandler(plain)

    def without_time(text: str) -> list[dict]:
        lines = [json.loads(line) for line in text.splitlines()]
        for line in lines:
            line.pop("timestamp")
        return lines

    assert len(stream.getvalue().splitlines()) == 5
    assert without_time(stream.getvalue()) == without_time(reference.getvalue())
    # Key order too: the structlog events' lines are identical text.
    assert stream.getvalue().splitlines()[:3] == reference.getvalue().splitlines()[:3]
