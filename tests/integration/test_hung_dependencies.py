"""A dependency that accepts connections and never answers (a hung broker, database or
simulator) never holds a request: publishing gives up within the broker's socket
timeouts and leaves the job in the outbox, and /readyz answers within 2 s.

The hung peer is a real TCP server on 127.0.0.1 started by the test: it accepts every
connection and never sends a byte. The bounds asserted here detect a hang (a request
that waits forever); they are not speed targets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from app import create_app
from app.celery_app import BROKER_SOCKET_TIMEOUT
from app.extensions import db
from app.models.base import utcnow
from app.models.job import Job, JobStatus
from app.services import jobs
from tests.fixtures.peers import SilentPeer
from tests.fixtures.worker import wait_for_job

pytestmark = pytest.mark.reliability

PING = "certprep.maintenance.ping"
# The Flask config keys `tests.fixtures.labs.sim_provider_config` sets.
LAB_PROVIDER_KEYS = (
    "CERTPREP_SIM_URLS",
    "CERTPREP_SIM_ADMIN_TOKEN",
    "CERTPREP_SIM_CA_FILE",
    "CERTPREP_LAB_PROVIDER",
)
# The guarantee of /readyz (docs/operations.md).
READY_ANSWER_SECONDS = 2.0


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    peer = SilentPeer()
    yield peer
    peer.close()


@pytest.fixture
def make_app(app, app_config) -> Iterator[Any]:
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


def test_readyz_answers_within_two_seconds_when_every_dependency_hangs(make_app, silent_peer):
    port = silent_peer.port
    application = make_app(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/hung",
        sim_urls=[f"http://127.0.0.1:{port}"],
        CELERY={"broker_url": f"redis://127.0.0.1:{port}/0"},
    )
    client = application.test_client()

    for _ in range(2):  # the second request finds the first one's probes still running
        began = time.monotonic()
        response = client.get("/readyz")
        took = time.monotonic() - began

        body = response.get_json()
        assert response.status_code == 503
        assert sorted(body["failing"]) == ["broker", "database", "simulator"]
        assert took < READY_ANSWER_SECONDS, f"/readyz took {took:.2f} s"
    assert silent_peer.accepted  # the probes did reach the peer


def test_readyz_names_only_the_hung_broker(make_app, silent_peer):
    application = make_app(CELERY={"broker_url": f"redis://127.0.0.1:{silent_peer.port}/0"})

    response = application.test_client().get("/readyz")

    body = response.get_json()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"]["ok"] is True


def test_a_hung_broker_gets_redis_socket_timeouts(make_app, silent_peer):
    application = make_app(CELERY={"broker_url": f"redis://127.0.0.1:{silent_peer.port}/0"})
    options = application.extensions["celery"].conf.broker_transport_options
    assert options["socket_timeout"] == BROKER_SOCKET_TIMEOUT
    assert options["socket_connect_timeout"] > 0


@pytest.mark.redis
def test_a_commit_with_a_hung_broker_returns_and_the_sweeper_publishes_later(
    celery_worker, make_app, silent_peer
):
    hung = make_app(CELERY={"broker_url": f"redis://127.0.0.1:{silent_peer.port}/0"})
    with hung.app_context():
        began = time.monotonic()
        job_id = jobs.enqueue(PING, "outbox").id
        db.session.commit()  # publishes after commit: the broker never answers
        took = time.monotonic() - began
        db.session.remove()
    # One attempt bounded by the socket timeouts, never an endless wait.
    assert took < 4 * BROKER_SOCKET_TIMEOUT + 2, f"commit took {took:.1f} s"

    db.session.rollback()
    row = db.session.get(Job, job_id, populate_existing=True)
    assert row.status is JobStatus.PENDING and row.published_at is None

    # The sweeper of a process whose broker answers publishes the outbox row.
    later = utcnow() + timedelta(seconds=jobs.OUTBOX_GRACE_SECONDS + 1)
    report = jobs.sweep_stuck_jobs(now=later)
    assert report.published == [job_id]
    done = wait_for_job(job_id)
    assert done.status is JobStatus.DONE and done.result["reply"] == "outbox"
    assert done.attempts == 1


def test_the_sweeper_stops_publishing_at_the_first_broker_failure(
    app, make_app, make_job, silent_peer
):
    hung = make_app(CELERY={"broker_url": f"redis://127.0.0.1:{silent_peer.port}/0"})
    with hung.app_context():
        stranded = [
            make_job(
                PING,
                published_at=None,
                updated_at=utcnow(),
                deadline_at=utcnow() + timedelta(minutes=10),
            ).id
            for _ in range(3)
        ]
        lost = [make_job(PING).id for _ in range(3)]  # past their deadline: new attempts
        later = utcnow() + timedelta(seconds=jobs.OUTBOX_GRACE_SECONDS + 1)
        began = time.monotonic()
        report = jobs.sweep_stuck_jobs(now=later)
        took = time.monotonic() - began
        rows = db.session.scalars(db.select(Job).where(Job.id.in_(stranded))).all()
        assert report.published == []
        assert all(row.published_at is None and row.attempts == 1 for row in rows)
        assert sorted(report.requeued) == sorted(lost)
        requeued = db.session.scalars(db.select(Job).where(Job.id.in_(lost))).all()
        # Re-published as a new attempt, still in the outbox: the next sweep publishes.
        assert all(row.published_at is None and row.attempts == 2 for row in requeued)
        db.session.remove()
    # One failed publish after commit and one for the outbox rows, not one per row.
    assert took < 5 * BROKER_SOCKET_TIMEOUT, f"sweep took {took:.1f} s"


@pytest.mark.redis
def test_a_session_whose_provisioning_publish_failed_is_ready_after_a_sweep(
    lab_stack, make_user, make_app, silent_peer
):
    from app.models.lab import LabSession
    from tests.fixtures.app import bearer
    from tests.fixtures.labs import API

    _, token = make_user()
    hung = make_app(
        CELERY={"broker_url": f"redis://127.0.0.1:{silent_peer.port}/0"},
        **{key: lab_stack.app.config[key] for key in LAB_PROVIDER_KEYS},
    )
    began = time.monotonic()
    response = hung.test_client().post(
        f"{API}/labs/rbac-exact-permissions/sessions", headers=bearer(token)
    )
    took = time.monotonic() - began
    # The request succeeds: the session and its job are committed, the message is not.
    assert response.status_code == 202, response.get_json()
    assert took < 4 * BROKER_SOCKET_TIMEOUT + 5, f"request took {took:.1f} s"
    session_id = response.get_json()["id"]
    db.session.rollback()
    row = db.session.get(LabSession, session_id)
    job = db.session.get(Job, row.provision_job_id)
    assert row.status.value == "provisioning"
    assert job.status is JobStatus.PENDING and job.published_at is None

    # The next sweep (of a process whose broker answers) publishes it; a worker provisions.
    later = utcnow() + timedelta(seconds=jobs.OUTBOX_GRACE_SECONDS + 1)
    assert jobs.sweep_stuck_jobs(now=later).published == [job.id]
    ready = lab_stack.wait_status(session_id, token, "ready")
    assert ready["status"] == "ready"
