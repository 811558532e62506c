"""Celery, bound to the Flask app (the `celery_init_app` pattern from Flask's docs).

`celery_init_app(app)` (called from `app.extensions.init_app`) builds one Celery
application per Flask app and stores it in `app.extensions["celery"]`. Every task runs
inside that Flask app's context, so tasks use `db.session` like views do.

Rules every task inherits: JSON only, `acks_late` with `reject_on_worker_lost` (a message
is acknowledged after the task ran, and given back when the worker process dies), soft and
hard time limits, retries with exponential backoff and jitter, no result backend (job
status lives in our tables, see `app.services.jobs`).

Brokers: `CERTPREP_BROKER_URL=redis://...` in production; the embedded default
`filesystem://` keeps messages as files in `<instance>/broker/`, so no server is needed.

The worker entry point: `certprep worker`, or `celery -A app.celery_app worker`
(`celery` below is built on first access from the environment's settings).
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_init
from flask import Flask

# The queue every certprep task goes to unless routed elsewhere.
DEFAULT_QUEUE = "certprep"

# Seconds. The soft limit raises SoftTimeLimitExceeded inside the task so it can clean
# up; the hard limit kills the worker child (prefork pool only: Celery enforces time
# limits with signals in pool processes, not in the solo or threads pools).
TASK_SOFT_TIME_LIMIT = 240
TASK_TIME_LIMIT = 300

# Retry policy for job tasks: delay = random(0, min(MAX, FACTOR * 2**retries)) seconds,
# i.e. exponential backoff with full jitter, at most TASK_MAX_RETRIES times.
TASK_MAX_RETRIES = 3
TASK_RETRY_BACKOFF = 2
TASK_RETRY_BACKOFF_MAX = 600

# Redis redelivers a message that was taken but not acknowledged after this many seconds;
# it must exceed the longest countdown a task is given (retry backoff) or the task runs
# twice (Celery's documented caveat for the Redis transport).
REDIS_VISIBILITY_TIMEOUT = 3600

# Seconds to wait for the broker when a web process publishes; the job row is already
# committed (in the outbox), so a slow broker only delays the job until the sweeper
# publishes it. Without a socket (read) timeout, a broker that accepts the connection but
# never answers would hold a web request forever.
BROKER_CONNECT_TIMEOUT = 2
BROKER_SOCKET_TIMEOUT = 2

_celery_from_env: Celery | None = None


def broker_folder(instance_dir: Path) -> Path:
    """Where the embedded filesystem broker keeps its message files."""
    return instance_dir / "broker"


def celery_config(settings: Any) -> dict[str, Any]:
    """The Celery configuration for `app.config.Settings`."""
    from app.tasks.schedule import beat_schedule

    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "broker_connection_timeout": BROKER_CONNECT_TIMEOUT,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options(settings.broker_url, settings.instance_dir),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        "task_time_limit": TASK_TIME_LIMIT,
        "task_default_queue": DEFAULT_QUEUE,
        # One message at a time per worker process: with acks_late a prefetched message
        # would wait behind a long task while another worker sits idle.
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(),
        "beat_schedule_filename": str(settings.instance_dir / "celerybeat-schedule"),
    }
    return config


# How often an idle worker looks for new messages in the filesystem broker's folder.
FILESYSTEM_POLL_SECONDS = 0.05


def transport_options(broker_url: str, instance_dir: Path) -> dict[str, Any]:
    """The kombu transport options for `broker_url`: folders for the filesystem broker,
    visibility and socket timeouts for Redis, none for others."""
    if broker_url.startswith("filesystem://"):
        folder = broker_folder(instance_dir)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # kombu's virtual transports poll an empty queue once a second by default,
            # which put a second on every embedded grade; a listdir every 50 ms costs
            # next to nothing (bench/embedded_grade_bench.py).
            "polling_interval": FILESYSTEM_POLL_SECONDS,
        }
    if broker_url.startswith(("redis://", "rediss://")):
        return {
            "visibility_timeout": REDIS_VISIBILITY_TIMEOUT,
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT,
            # Applies to synchronous commands (publish, ack); kombu's BRPOP loop has its
            # own liveness check (`health_check_interval`), so it is not cut by this.
            "socket_timeout": BROKER_SOCKET_TIMEOUT,
        }
    return {}


def ensure_broker_folders(celery: Celery) -> None:
    """Create the filesystem broker's folders (no-op for other brokers).

    Raises `OSError` when the instance folder is not writable.
    """
    options = celery.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


def task_modules() -> list[str]:
    """Every module of the `app.tasks` package: tasks are discovered, not listed."""
    import app.tasks as package

    return sorted(
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    )


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery application for `app` and make it the default one.

    Flask config key `CELERY` (a dict of Celery settings) overrides the computed
    configuration. Raises `ImportError` when a task module fails to import.
    """
    settings = app.config["CERTPREP_SETTINGS"]

    class FlaskTask(Task):
        # Defaults for every task; the same values are in the config for tasks that
        # bring their own base class.
        acks_late = True
        reject_on_worker_lost = True
        max_retries = TASK_MAX_RETRIES
        retry_backoff = TASK_RETRY_BACKOFF
        retry_backoff_max = TASK_RETRY_BACKOFF_MAX
        retry_jitter = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    config = celery_config(settings)
    overrides = dict(app.config.get("CELERY") or {})
    if "broker_url" in overrides and "broker_transport_options" not in overrides:
        # Another broker than the settings name: its own transport options.
        overrides["broker_transport_options"] = transport_options(
            overrides["broker_url"], settings.instance_dir
        )
    config.update(overrides)
    celery.config_from_object(config)
    ensure_broker_folders(celery)
    celery.conf.imports = task_modules()
    for module in celery.conf.imports:
        import_module(module)
    celery.set_default()
    _connect_task_context_signals()
    _connect_fresh_connections_after_fork(app)
    app.extensions["celery"] = celery
    return celery


def _connect_fresh_connections_after_fork(app: Flask) -> None:
    """A prefork pool process drops the database connections it inherited from the
    parent and opens its own: a SQLite connection used across fork() corrupts the
    database file ("database disk image is malformed"), and a PostgreSQL socket shared
    by two processes mixes their conversations."""

    def forget_inherited_connections(**_: Any) -> None:
        from app.extensions import db

        with app.app_context():
            for engine in db.engines.values():
                # close=False: the parent's connections stay open for the parent.
                engine.dispose(close=False)

    worker_process_init.connect(
        forget_inherited_connections, weak=False, dispatch_uid=f"certprep.fork.{id(app)}"
    )


def _on_setup_logging(loglevel: Any = None, **_: Any) -> None:
    # Connected so Celery leaves logging alone and uses ours (structured, task ids).
    from app.logging import configure_logging

    configure_logging(level=loglevel or None)


def _on_task_prerun(task_id: str | None = None, task: Task | None = None, **_: Any) -> None:
    from app.logging import bind_context

    bind_context(task_id=task_id, task_name=getattr(task, "name", None))


def _on_task_postrun(**_: Any) -> None:
    from app.logging import clear_context

    clear_context("task_id", "task_name")


def use_certprep_logging() -> None:
    """Make Celery worker and beat processes log through `app.logging` instead of
    configuring logging themselves. Called by the worker and beat entry points only, so
    an embedded test worker leaves the test runner's logging alone."""
    setup_logging.connect(_on_setup_logging, weak=False, dispatch_uid="certprep.logging")


def _connect_task_context_signals() -> None:
    # Every log line written while a task runs carries its task id and name.
    task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="certprep.task_prerun")
    task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="certprep.task_postrun")


def __getattr__(name: str) -> Celery:
    # `celery -A app.celery_app` looks for `app`, then `celery`: build the Flask app from
    # the environment on first use only, so importing this module stays side-effect free.
    global _celery_from_env
    if name != "celery":
        raise AttributeError(name)
    if _celery_from_env is None:
        from app import create_app

        use_certprep_logging()
        _celery_from_env = create_app().extensions["celery"]
    return _celery_from_env
