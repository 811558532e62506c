"""Liveness, readiness (database, broker, simulator), metrics and request ids."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from app import create_app
from app.extensions import db
from app.logging import configure_logging, reset_logging
from app.services.jobs import enqueue


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_app(app, app_config) -> Iterator[Any]:
    """Build another app on the test database with extra overrides; disposed after."""
    built = []

    def factory(**overrides: Any) -> Any:
        application = create_app({**app_config, **overrides})
        built.append(application)
        return application

    yield factory
    for application in built:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name + "{"):
            continue
        sample_labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# ----------------------------------------------------------------------------- healthz


def test_healthz_answers_without_touching_dependencies(make_app):
    # Database and broker both unreachable: liveness must not care.
    broken = make_app(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere",
        CELERY={"broker_url": f"redis://127.0.0.1:{_closed_port()}/0"},
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_an_incoming_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-42"})
    assert response.headers["X-Request-ID"] == "edge-42"


def test_a_request_id_is_generated_when_missing_or_unsafe(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert re.fullmatch(r"[0-9a-f]{32}", replaced) and replaced != generated


def test_error_answers_carry_the_request_id_too(client):
    response = client.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "lost-1"


# ------------------------------------------------------------------------------ readyz


def test_readyz_reports_every_check_when_ready(client, app):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "simulator"}
    assert body["checks"]["database"] == {"ok": True, "detail": db.engine.dialect.name}
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["simulator"] == {"ok": True, "detail": "not configured"}


@pytest.mark.redis
def test_readyz_connects_to_a_redis_broker(make_app, redis_url):
    application = make_app(CELERY={"broker_url": redis_url})
    body = application.test_client().get("/readyz").get_json()
    assert body["checks"]["broker"] == {"ok": True, "detail": redis_url}


def test_readyz_names_an_unreachable_broker(make_app):
    port = _closed_port()
    application = make_app(CELERY={"broker_url": f"redis://:secret@127.0.0.1:{port}/0"})
    response = application.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert body["message"] == "not ready: broker"
    assert body["checks"]["broker"]["ok"] is False
    assert f"127.0.0.1:{port}" in body["checks"]["broker"]["detail"]
    assert "secret" not in json.dumps(body)  # credentials are masked
    assert body["checks"]["database"]["ok"] is True


def test_readyz_names_an_unreachable_database(make_app):
    application = make_app(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere"
    )
    response = application.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["failing"] == ["database"]
    assert "OperationalError" in body["checks"]["database"]["detail"]


def test_readyz_names_an_unreachable_simulator(make_app):
    url = f"http://127.0.0.1:{_closed_port()}"
    application = make_app(sim_urls=[url])
    response = application.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["failing"] == ["simulator"]
    simulator = body["checks"]["simulator"]
    assert simulator["detail"] == f"unreachable: {url}"
    assert simulator["servers"][url]["ok"] is False


def test_readyz_reaches_a_real_simulator_server_over_https(make_app):
    from app.sim.server import SimServer

    server = SimServer(port=0, tls=True).start_in_thread()
    try:
        application = make_app(sim_urls=[server.base_url])
        response = application.test_client().get("/readyz")
    finally:
        server.stop_thread()
    body = response.get_json()
    assert server.base_url.startswith("https://")
    assert response.status_code == 200, body
    assert body["checks"]["simulator"]["detail"] == "all reachable"
    assert body["checks"]["simulator"]["servers"][server.base_url] == {
        "ok": True,
        "detail": "HTTP 200",
    }


def test_readyz_broker_check_fails_when_the_filesystem_folder_is_gone(make_app, tmp_path):
    application = make_app(instance_dir=str(tmp_path / "instance"))
    folder = application.extensions["celery"].conf.broker_transport_options["data_folder_in"]
    import shutil

    shutil.rmtree(folder)
    body = application.test_client().get("/readyz").get_json()
    assert body["failing"] == ["broker"]
    assert "not writable" in body["checks"]["broker"]["detail"]


# ----------------------------------------------------------------------------- metrics


def test_metrics_count_requests_by_endpoint_and_status(client):
    before = client.get("/metrics").get_data(as_text=True)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/does-not-exist")
    after = client.get("/metrics").get_data(as_text=True)

    def delta(**labels: str) -> float:
        name = "certprep_http_requests_total"
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    assert delta(endpoint="/healthz", method="GET", status="200") == 2
    assert delta(endpoint="<unmatched>", method="GET", status="404") == 1
    assert _metric(after, "certprep_http_request_duration_seconds_count", endpoint="/healthz") > 0


def test_metrics_report_jobs_by_status(client, app):
    enqueue("certprep.maintenance.ping", "m")
    enqueue("certprep.maintenance.ping", "n")
    db.session.commit()

    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert _metric(text, "certprep_jobs", status="pending") == 2
    assert _metric(text, "certprep_jobs", status="done") == 0
    assert "certprep_jobs_overdue 0.0" in text


def test_metrics_still_answer_when_the_database_is_down(make_app):
    broken = make_app(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere"
    )
    response = broken.test_client().get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "certprep_http_requests_total" in text
    assert "certprep_jobs{" not in text  # left out, not reported as zero


# ----------------------------------------------------------------------------- logging


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    level = logging.getLogger().level
    stream = io.StringIO()
    configure_logging(fmt="json", level="DEBUG", stream=stream)
    yield stream
    reset_logging(level)


def test_each_request_is_logged_with_its_request_id(client, json_log):
    client.get("/api/openapi.json", headers={"X-Request-ID": "trace-7"})
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    request_lines = [line for line in lines if line["event"] == "request"]
    assert request_lines[-1]["request_id"] == "trace-7"
    assert request_lines[-1]["path"] == "/api/openapi.json"
    assert request_lines[-1]["status"] == 200
    assert request_lines[-1]["duration_ms"] >= 0
