"""Structured logging with structlog, for the web processes, workers and the CLI.

`configure_logging()` sends structlog events *and* the standard library's records (Flask,
gunicorn, Celery, SQLAlchemy) through one renderer: JSON lines when stdout is not a
terminal or `CERTPREP_LOG_FORMAT=json`, coloured console lines otherwise. Context bound
with `bind_context` (the request id of a web request, the task id of a Celery task) is
added to every line logged while it is bound.

Nothing happens at import time; call `configure_logging()` from an entry point.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from typing import Any, TextIO

import structlog

LOG_FORMATS = ("json", "console")

# Header that carries a request id across services (the de-facto name used by proxies
# such as nginx and Heroku's router).
REQUEST_ID_HEADER = "X-Request-ID"

# An incoming id is echoed into logs and headers, so accept only short, printable ids;
# anything else is replaced by a fresh one.
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")

# Marks handlers installed here so reconfiguring replaces them and nothing else (pytest's
# capture handlers, for one, stay in place).
_HANDLER_MARK = "_certprep_handler"

# Libraries whose INFO lines are noise next to ours.
_QUIET_LOGGERS = {
    "urllib3": logging.WARNING,
    "kombu": logging.WARNING,
    "amqp": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
}


def resolve_format(requested: str | None = None, stream: TextIO | None = None) -> str:
    """Pick the output format: `requested`, else `CERTPREP_LOG_FORMAT`, else JSON unless
    `stream` (default stdout) is a terminal.

    Raises `ValueError` for a name other than "json" or "console".
    """
    name = (requested or os.environ.get("CERTPREP_LOG_FORMAT") or "").strip().lower()
    if not name:
        stream = stream or sys.stdout
        is_tty = getattr(stream, "isatty", lambda: False)()
        return "console" if is_tty else "json"
    if name not in LOG_FORMATS:
        raise ValueError(f"CERTPREP_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}: {name!r}")
    return name


def _json_default(value: Any) -> Any:
    """How a value JSON cannot encode is written: its `__structlog__()` when it has one
    (structlog's convention), else its `repr()` (as structlog's JSON renderer does)."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


# Built once: `json.dumps` with a `default` builds a new encoder on every call.
_JSON_ENCODER = json.JSONEncoder(default=_json_default)


class _JsonLinesFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's `ProcessorFormatter` for JSON lines, with a shortcut for the most
    common record: a structlog event (already through the shared processors) with no
    exception to render. For it the full path would copy the record, run processors
    that change nothing, and format the JSON text once more; the line is the same."""

    def format(self, record: logging.LogRecord) -> str:
        event = record.msg
        if (
            type(event) is dict
            and "exc_info" not in event
            and getattr(record, "_logger", None) is not None
            and getattr(record, "_name", None) is not None
        ):
            return _JSON_ENCODER.encode(event)
        return super().format(record)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_logging(
    *,
    fmt: str | None = None,
    level: str | int | None = None,
    stream: TextIO | None = None,
    cache_loggers: bool = False,
) -> str:
    """Route structlog and standard-library logging to `stream` (default stdout).

    `level` defaults to `CERTPREP_LOG_LEVEL` or INFO. Safe to call more than once: the
    previous certprep handler is replaced. `cache_loggers` makes each module's logger
    build its processor chain once instead of on every call; only for processes that
    configure logging once at start (the web server), since a cached logger keeps the
    configuration it was first used with. Returns the format used. Raises `ValueError`
    for an unknown format or level name.
    """
    stream = stream or sys.stdout
    chosen = resolve_format(fmt, stream)
    level_name = level if level is not None else os.environ.get("CERTPREP_LOG_LEVEL", "INFO")
    numeric_level = (
        level_name if isinstance(level_name, int) else logging.getLevelName(level_name.upper())
    )
    if not isinstance(numeric_level, int):
        raise ValueError(f"CERTPREP_LOG_LEVEL is not a logging level: {level_name!r}")

    renderer: Any
    formatter_class: type[structlog.stdlib.ProcessorFormatter]
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(default=_json_default)
        exception_processors: list[Any] = [structlog.processors.dict_tracebacks]
        formatter_class = _JsonLinesFormatter
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=getattr(stream, "isatty", lambda: False)())
        exception_processors = []
        formatter_class = structlog.stdlib.ProcessorFormatter

    shared = _shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached by default: tests and `certprep up` reconfigure, and cached loggers
        # would keep the old processors.
        cache_logger_on_first_use=cache_loggers,
    )
    formatter = formatter_class(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_processors,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet_level, numeric_level))
    return chosen


def reset_logging(level: int = logging.WARNING) -> None:
    """Undo `configure_logging`: remove its handler, set the root logger to `level`, drop
    bound context and structlog's configuration (for tests and embedding programs)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (a module's `__name__`)."""
    return structlog.stdlib.get_logger(name)


def request_id_from(incoming: str | None) -> str:
    """The request id to use: `incoming` when it is a short printable token, else a new
    random one (32 hex digits)."""
    if incoming and _REQUEST_ID_PATTERN.match(incoming):
        return incoming
    return uuid.uuid4().hex


def bind_context(**values: Any) -> None:
    """Add `values` to every log line of the current thread/task until `clear_context`."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context(*names: str) -> None:
    """Remove the named context values, or all of them when no name is given."""
    if names:
        structlog.contextvars.unbind_contextvars(*names)
    else:
        structlog.contextvars.clear_contextvars()
