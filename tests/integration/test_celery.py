"""Celery wiring: configuration rules, task discovery, and a round trip through a real
worker and the real Redis."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest

from app.celery_app import DEFAULT_QUEUE, TASK_RETRY_BACKOFF_MAX, celery_config, task_modules
from app.config import load_settings
from app.logging import configure_logging, reset_logging
from app.tasks.schedule import PERIODIC_JOBS, PeriodicJob, beat_schedule
from tests.fixtures.worker import wait_for_job


def test_celery_configuration_follows_the_reliability_rules(app):
    conf = app.extensions["celery"].conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.task_ignore_result is True
    assert conf.result_backend is None
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == DEFAULT_QUEUE


def test_embedded_broker_keeps_messages_in_the_instance_folder(app):
    settings = app.config["CERTPREP_SETTINGS"]
    options = app.extensions["celery"].conf.broker_transport_options
    assert app.extensions["celery"].conf.broker_url == "filesystem://"
    assert options["data_folder_in"].startswith(str(settings.instance_dir))
    assert (settings.instance_dir / "broker" / "queue").is_dir()
    # kombu's default (a poll a second) would put a second on every embedded grade.
    assert options["polling_interval"] <= 0.1


def test_a_redis_broker_gets_a_visibility_timeout_longer_than_any_retry(tmp_path):
    settings = load_settings(
        environ={"CERTPREP_BROKER_URL": "redis://cache:6379/2"},
        overrides={"instance_dir": str(tmp_path)},
    )
    config = celery_config(settings)
    assert config["broker_url"] == "redis://cache:6379/2"
    options = config["broker_transport_options"]
    assert options["visibility_timeout"] > TASK_RETRY_BACKOFF_MAX
    assert "data_folder_in" not in options
    assert config["beat_schedule_filename"] == str(tmp_path / "celerybeat-schedule")


def test_every_task_module_is_discovered_and_tasks_run_in_the_app_context(app):
    celery = app.extensions["celery"]
    assert "app.tasks.maintenance" in task_modules()
    assert "app.tasks.maintenance" in celery.conf.imports
    task = celery.tasks["certprep.maintenance.ping"]
    assert task.acks_late and task.reject_on_worker_lost
    assert task.retry_jitter is True and task.retry_backoff


def test_every_periodic_job_names_a_registered_task(app):
    celery = app.extensions["celery"]
    schedule = celery.conf.beat_schedule
    assert set(schedule) == {job.name for job in PERIODIC_JOBS}
    for entry in schedule.values():
        assert entry["task"] in celery.tasks
        assert entry["options"]["expires"] == entry["schedule"]


def test_a_periodic_job_listed_twice_is_refused():
    job = PeriodicJob("twice", "certprep.maintenance.sweep_stuck_jobs", 60)
    with pytest.raises(ValueError, match="twice"):
        beat_schedule([job, job])


@pytest.mark.redis
def test_a_job_round_trips_through_redis_and_a_real_worker(celery_worker):
    from app.extensions import db
    from app.services.jobs import enqueue

    job = enqueue("certprep.maintenance.ping", "hello")
    db.session.commit()

    finished = wait_for_job(job.id)

    assert finished.status.value == "done"
    assert finished.result["reply"] == "hello"
    assert finished.result["worker"] and finished.worker == finished.result["worker"]
    assert finished.runs == 1
    assert celery_worker.finished_count("certprep.maintenance.ping") == 1
    assert finished.started_at is not None and finished.finished_at >= finished.started_at


@pytest.mark.redis
def test_the_message_goes_to_the_per_test_queue_on_redis(celery_worker):
    assert celery_worker.celery.conf.broker_url.startswith("redis://")
    assert celery_worker.queue.startswith("certprep-test-")
    queues = {q.name for q in celery_worker.worker.consumer.task_consumer.queues}
    assert queues == {celery_worker.queue}


@pytest.fixture
def json_log():
    level = logging.getLogger().level
    stream = io.StringIO()
    configure_logging(fmt="json", level="DEBUG", stream=stream)
    yield stream
    reset_logging(level)


@pytest.mark.redis
def test_task_log_lines_carry_the_task_id(celery_worker, json_log):
    from app.extensions import db
    from app.services.jobs import enqueue

    job = enqueue("certprep.maintenance.ping", "logged")
    db.session.commit()
    wait_for_job(job.id)

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    done = [line for line in lines if line["event"] == "job.done" and line["job_id"] == job.id]
    assert len(done) == 1
    assert done[0]["task_name"] == "certprep.maintenance.ping"
    assert re.fullmatch(r"[0-9a-f-]{36}", done[0]["task_id"])
    # Bound only while the task runs: the publish line from this thread has no task id.
    published = [line for line in lines if line["event"] == "job.published"]
    assert [line["job_id"] for line in published] == [job.id]
    assert "task_id" not in published[0]


def test_a_forked_pool_process_opens_its_own_database_connections(app: Any) -> None:
    """After fork, a prefork pool process must not reuse the parent's pooled
    connections (SQLite files get corrupted, PostgreSQL sockets mixed): the
    `worker_process_init` hook gives it a fresh pool."""
    from celery.signals import worker_process_init

    from app.extensions import db

    with app.app_context():
        before = db.engine.pool
        db.session.execute(db.text("SELECT 1"))
        db.session.remove()
    worker_process_init.send(sender=None)
    with app.app_context():
        assert db.engine.pool is not before
        assert db.session.execute(db.text("SELECT 1")).scalar() == 1
