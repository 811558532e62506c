"""Operations endpoints and per-request bookkeeping (a plain Flask blueprint, `bp`).

- `GET /healthz`: the process is alive; checks nothing else (a liveness probe).
- `GET /readyz`: the database, the broker and the simulator servers answer (a readiness
  probe); 503 naming the failing parts, with every check in the JSON body. The checks
  run in parallel and the answer comes within `READY_BUDGET` seconds even when a
  dependency accepts connections and never answers.
- `GET /metrics`: Prometheus text format (see `app.metrics`).

For every request of the app the hooks below take the `X-Request-ID` header (or make
one), bind it to the log context, echo it in the response, log one `request` line and
record the request metrics.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy import text

from app.extensions import db
from app.logging import REQUEST_ID_HEADER, bind_context, clear_context, get_logger, request_id_from
from app.metrics import observe_request, render_metrics

bp = Blueprint("health", __name__)
log = get_logger("app.request")

# Seconds each readiness check may take: a probe must answer before the orchestrator's
# own probe timeout (Kubernetes' default timeoutSeconds is 1 s, compose's 30 s; ours are
# configured at 5 s in docker/compose.yaml).
CHECK_TIMEOUT = 2.0
# Seconds /readyz waits for all checks together (they run in parallel); a check still
# running then counts as failing, so the probe answers in well under 2 s.
READY_BUDGET = 1.5

# Probe threads, shared by the requests of this process. At most one probe per app and
# dependency is in flight: a hung dependency holds one thread (until its own socket
# timeout), and later requests wait on that probe instead of starting another.
_probe_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")
_inflight: dict[tuple[int, str], Future[dict[str, Any]]] = {}
_inflight_lock = threading.Lock()

# Paths probed constantly by orchestrators; logged at debug level to keep logs readable.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@bp.before_app_request
def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    clear_context()
    bind_context(request_id=request_id)


@bp.after_app_request
def _finish_request(response: Response) -> Response:
    # Runs on every request: each `request`/`g` attribute read goes through a context
    # lookup, so read them once.
    req = request._get_current_object()  # type: ignore[attr-defined]
    state = g._get_current_object()
    request_id = getattr(state, "request_id", None)
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = getattr(state, "request_started", None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    rule = req.url_rule
    method, path, status = req.method, req.path, response.status_code
    observe_request(rule.rule if rule is not None else None, method, status, seconds)
    emit = log.debug if path in _QUIET_PATHS else log.info
    emit("request", method=method, path=path, status=status, duration_ms=round(seconds * 1000, 2))
    return response


@bp.teardown_app_request
def _end_request(_exc: BaseException | None) -> None:
    clear_context("request_id")


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: answers 200 while the process can serve requests."""
    return jsonify(status="ok")


def check_database() -> dict[str, Any]:
    """Run `SELECT 1` on the application database."""
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "detail": db.engine.dialect.name}
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "detail": f"{type(exc).__name__}: {_first_line(exc)}"}


def check_broker() -> dict[str, Any]:
    """Connect to the Celery broker (for the filesystem broker: its folder is writable)."""
    celery = current_app.extensions["celery"]
    url = celery.conf.broker_url
    safe_url = maybe_sanitize_url(url)
    if url.startswith("filesystem://"):
        folder = (celery.conf.broker_transport_options or {}).get("data_folder_in", "")
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK):
            return {"ok": True, "detail": f"filesystem {folder}"}
        return {"ok": False, "detail": f"filesystem broker folder not writable: {folder!r}"}
    try:
        with celery.connection_for_write(connect_timeout=CHECK_TIMEOUT) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)
        return {"ok": True, "detail": safe_url}
    except Exception as exc:
        return {"ok": False, "detail": f"{safe_url}: {type(exc).__name__}: {_first_line(exc)}"}


def check_simulators() -> dict[str, Any]:
    """`GET <url>/healthz` on every configured simulator server; not configured is fine."""
    urls = current_app.config["CERTPREP_SETTINGS"].sim_urls
    if not urls:
        return {"ok": True, "detail": "not configured"}
    if len(urls) == 1:
        servers = {urls[0]: probe_simulator(urls[0])}
    else:
        with ThreadPoolExecutor(max_workers=min(len(urls), 8)) as pool:
            servers = dict(zip(urls, pool.map(probe_simulator, urls), strict=True))
    failing = [url for url, result in servers.items() if not result["ok"]]
    detail = "all reachable" if not failing else "unreachable: " + ", ".join(failing)
    return {"ok": not failing, "detail": detail, "servers": servers}


def probe_simulator(url: str, timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
    """`GET <url>/healthz` on a simulator server: `{"ok": bool, "detail": str}`.
    Never raises."""
    try:
        with warnings.catch_warnings():
            # The simulator serves a self-signed certificate; this probe sends nothing
            # secret and only asks whether the server answers, so it skips verification.
            warnings.simplefilter("ignore")
            response = requests.get(url.rstrip("/") + "/healthz", timeout=timeout, verify=False)
    except requests.RequestException as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {_first_line(exc)}"}
    if response.status_code != 200:
        return {"ok": False, "detail": f"HTTP {response.status_code}"}
    return {"ok": True, "detail": "HTTP 200"}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""


def _run_in_context(app: Flask, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    with app.app_context():
        try:
            return check()
        except Exception as exc:  # a check never raises; this is the last guard
            return {"ok": False, "detail": f"{type(exc).__name__}: {_first_line(exc)}"}


def run_checks(
    checks: dict[str, Callable[[], dict[str, Any]]], budget: float = READY_BUDGET
) -> dict[str, dict[str, Any]]:
    """Run `checks` in parallel probe threads and return each result; a check that has
    not answered within `budget` seconds is failing ("no answer within ..."). Needs an
    app context."""
    # current_app is a werkzeug LocalProxy; Flask types it as Flask, without the proxy's
    # _get_current_object().
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    futures: dict[str, Future[dict[str, Any]]] = {}
    with _inflight_lock:
        for name, check in checks.items():
            key = (id(app), name)
            future = _inflight.get(key)
            if future is None or future.done():
                future = _probe_pool.submit(_run_in_context, app, check)
                _inflight[key] = future
            futures[name] = future
    end = time.monotonic() + budget
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, end - time.monotonic()))
        except FutureTimeout:
            results[name] = {"ok": False, "detail": f"no answer within {budget:g} s"}
    return results


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: 200 when every dependency answers, else 503 naming the failing ones."""
    checks = run_checks(
        {"database": check_database, "broker": check_broker, "simulator": check_simulators}
    )
    failing = [name for name, result in checks.items() if not result["ok"]]
    if failing:
        log.warning("not_ready", failing=failing)
        body = {
            "status": "unavailable",
            "message": "not ready: " + ", ".join(failing),
            "failing": failing,
            "checks": checks,
        }
        return jsonify(body), 503
    return jsonify(status="ready", failing=[], checks=checks), 200


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics of this process (all gunicorn workers in multiprocess mode)."""
    from app.services.jobs import count_jobs

    def count_jobs_or_rollback() -> tuple[dict[str, int], int]:
        try:
            return count_jobs()
        except Exception:
            db.session.rollback()
            raise

    body, content_type = render_metrics(count_jobs_or_rollback)
    return Response(body, status=200, content_type=content_type)
