"""The broken-scheduler lab's checks against the shortcuts a learner might take.

The cluster states are built on a live simulator through the API: pods, bindings and
events exactly as a scheduler, a hand binding or a second scheduler leave them. Only a
running default scheduler that binds the lab's pods and a fresh probe pod earns the
"scheduler fixed" points; every shortcut leaves a guard failed and the grade capped.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from app.grading.reader import ClusterReader
from tests.fixtures.grading import bind, pod, scheduled_event

CAP = 20


def scheduler_fixed_checks(budget: float = 3) -> list[dict[str, Any]]:
    """The checks a broken-scheduler lab writes (docs/labs-format.md shows them)."""
    return [
        {
            "id": "probe-scheduled",
            "kind": "probe_pod",
            "points": 4,
            "guard": True,
            "budget_seconds": budget,
            "poll_seconds": 0.1,
        },
        {
            "id": "web-scheduled-by-scheduler",
            "kind": "event_provenance",
            "points": 3,
            "guard": True,
            "namespace": "default",
            "label_selector": "app=web",
            "min_objects": 3,
        },
        {
            "id": "web-replicas",
            "kind": "jmespath",
            "points": 0,
            "guard": True,
            "apiVersion": "apps/v1",
            "resource": "Deployment",
            "namespace": "default",
            "name": "web",
            "assertions": [{"expr": "spec.replicas", "ge": 3}],
        },
        {
            "id": "web-bound",
            "kind": "count",
            "points": 2,
            "apiVersion": "v1",
            "resource": "Pod",
            "namespace": "default",
            "label_selector": "app=web",
            "where": "spec.nodeName",
            "op": ">=",
            "value": 3,
        },
    ]


@pytest.fixture
def broken_lab(reader: ClusterReader) -> list[dict[str, Any]]:
    """The lab's setup: a Deployment web (3 replicas) whose pods are Pending because
    no scheduler runs. Returns the three pods."""
    reader.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }
    )
    return [reader.create(pod(f"web-{i}")) for i in range(3)]


def _grade(run_checks, budget: float = 2) -> Any:
    return run_checks(scheduler_fixed_checks(budget), cap=CAP)


def test_untouched_broken_cluster_scores_nothing(run_checks, broken_lab) -> None:
    result = _grade(run_checks)
    assert result.earned == 0 and result.percentage == 0
    probe = result.check("probe-scheduled")
    assert probe.detail.endswith("was not bound within 2s and no scheduler reported on it")
    provenance = result.check("web-scheduled-by-scheduler")
    assert "default/web-0: no event" in provenance.detail


def test_running_default_scheduler_earns_everything(
    run_checks, broken_lab, scheduler_loop, reader: ClusterReader
) -> None:
    loop = scheduler_loop()
    result = run_checks(scheduler_fixed_checks(budget=20), cap=CAP)
    assert [c.id for c in result.checks if not c.passed] == []
    assert result.percentage == 100 and not result.capped
    probe = result.check("probe-scheduled")
    assert probe.detail.startswith("probe pod certprep-probe-")
    pod_evidence, event_evidence = probe.evidence
    assert pod_evidence["fields"]["nodeName"] in ("node01", "node02")
    assert event_evidence["fields"]["controller"] == "default-scheduler"
    assert event_evidence["fields"]["regarding"] == f"Pod {pod_evidence['name']}"
    # The probe was bound by the loop and then deleted by the grader.
    assert f"default/{pod_evidence['name']}" in loop.bound
    assert reader.get("v1", "Pod", pod_evidence["name"], "default") is None
    provenance = result.check("web-scheduled-by-scheduler")
    assert provenance.detail.startswith("3 of 3 Pod objects in namespace default")


def test_binding_by_hand_is_not_a_fix(run_checks, broken_lab, reader: ClusterReader) -> None:
    for index, created in enumerate(broken_lab):
        bind(reader, "default", created["metadata"]["name"], f"node0{index % 2 + 1}")
    result = _grade(run_checks)
    assert result.check("web-bound").passed  # the pods are bound...
    assert not result.check("web-scheduled-by-scheduler").passed  # ...but not by a scheduler
    assert not result.check("probe-scheduled").passed
    assert result.raw_percentage == 22.22 and result.capped and result.percentage == CAP


def test_recreating_pods_with_node_name_is_not_a_fix(
    run_checks, broken_lab, reader: ClusterReader, sim_cluster
) -> None:
    # The pods had been scheduled once before the session (setup); the learner deletes
    # them and re-creates them with spec.nodeName under the same names.
    before = sim_cluster.cluster.clock.now() - timedelta(minutes=5)
    for created in broken_lab:
        reader.create(scheduled_event(created, before))
        reader.delete("v1", "Pod", created["metadata"]["name"], "default", grace_period_seconds=0)
        reader.create(pod(created["metadata"]["name"], nodeName="node01"))
    result = _grade(run_checks)
    provenance = result.check("web-scheduled-by-scheduler")
    assert not provenance.passed
    # The old events name the old pods' uids: they prove nothing about the new pods.
    assert "default/web-0: no event" in provenance.detail
    assert result.check("web-bound").passed and result.percentage == CAP


def test_events_from_before_the_session_do_not_count(
    run_checks, broken_lab, reader: ClusterReader, sim_cluster
) -> None:
    before = sim_cluster.cluster.clock.now() - timedelta(minutes=5)
    for created in broken_lab:
        reader.create(scheduled_event(created, before))
    result = _grade(run_checks)
    detail = result.check("web-scheduled-by-scheduler").detail
    assert "the last event by default-scheduler is from before" in detail


def test_deleting_the_pending_pods_is_not_a_fix(
    run_checks, broken_lab, reader: ClusterReader
) -> None:
    for created in broken_lab:
        reader.delete("v1", "Pod", created["metadata"]["name"], "default")
    result = _grade(run_checks)
    assert result.check("web-scheduled-by-scheduler").detail == (
        "expected at least 3 Pod objects in namespace default with labels app=web, found 0"
    )
    assert result.check("web-replicas").passed
    assert result.percentage == 0


def test_scaling_to_zero_is_not_a_fix(run_checks, broken_lab, reader: ClusterReader) -> None:
    status, data = reader.request(
        "PUT",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        body={
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 0},
        },
    )
    assert status == 200, data
    for created in broken_lab:  # what the ReplicaSet controller would then delete
        reader.delete("v1", "Pod", created["metadata"]["name"], "default")
    result = _grade(run_checks)
    assert result.check("web-replicas").detail == (
        "Deployment default/web: spec.replicas: expected >= 3, found 0"
    )
    assert result.percentage == 0


def test_second_scheduler_under_another_name_is_not_a_fix(
    run_checks, broken_lab, reader: ClusterReader, scheduler_loop
) -> None:
    # The learner runs `my-scheduler` and points the pods at it.
    scheduler_loop(scheduler_name="my-scheduler", reporting_controller="my-scheduler")
    for created in broken_lab:
        name = created["metadata"]["name"]
        reader.delete("v1", "Pod", name, "default")
        reader.create(pod(name, schedulerName="my-scheduler"))
    result = run_checks(scheduler_fixed_checks(budget=3), cap=CAP)
    assert result.check("web-bound").passed
    provenance = result.check("web-scheduled-by-scheduler")
    assert "reported by my-scheduler, not default-scheduler" in provenance.detail
    # The probe asks for the default scheduler, which does not run.
    assert "was not bound within 3s" in result.check("probe-scheduled").detail
    assert result.capped and result.percentage == CAP


def test_second_scheduler_taking_default_pods_is_not_a_fix(
    run_checks, broken_lab, scheduler_loop
) -> None:
    # A scheduler binary that takes schedulerName default-scheduler pods but is not the
    # cluster's kube-scheduler: its events say who it is.
    scheduler_loop(reporting_controller="my-scheduler")
    result = run_checks(scheduler_fixed_checks(budget=3), cap=CAP)
    probe = result.check("probe-scheduled")
    assert not probe.passed
    assert "but no Scheduled event by default-scheduler" in probe.detail
    assert "reported by my-scheduler" in probe.detail
    assert result.check("web-bound").passed and result.percentage == CAP


def test_a_bot_binding_every_pending_pod_by_hand_is_not_a_fix(
    run_checks, broken_lab, reader: ClusterReader
) -> None:
    stop = threading.Event()

    def bot() -> None:
        while not stop.is_set():
            for item in reader.list("v1", "Pod", "default"):
                if not (item.get("spec") or {}).get("nodeName"):
                    bind(reader, "default", item["metadata"]["name"], "node01")
            stop.wait(0.1)

    thread = threading.Thread(target=bot, daemon=True)
    thread.start()
    try:
        result = run_checks(scheduler_fixed_checks(budget=2), cap=CAP)
    finally:
        stop.set()
        thread.join(timeout=5)
    probe = result.check("probe-scheduled")
    assert "was bound to node01, but no Scheduled event by default-scheduler" in probe.detail
    assert result.percentage == CAP


def test_core_v1_events_of_an_older_scheduler_count(
    run_checks, broken_lab, reader: ClusterReader, sim_cluster
) -> None:
    now = sim_cluster.cluster.clock.now()
    for index, created in enumerate(broken_lab):
        bind(reader, "default", created["metadata"]["name"], f"node0{index % 2 + 1}")
        reader.create(scheduled_event(created, now, core=True))
    checks = scheduler_fixed_checks()[1:2]
    result = run_checks(checks, cap=CAP)
    assert result.checks[0].passed
    events = [e for e in result.checks[0].evidence if e["kind"] == "Event"]
    # A server that serves one event storage through both APIs shows each event twice
    # (same uid); it is counted once.
    assert len({e["uid"] for e in events}) == len(events) == 3
    assert {e["fields"]["controller"] for e in events} == {"default-scheduler"}


def test_grading_is_deterministic_and_regradable(
    run_checks, broken_lab, reader: ClusterReader, sim_cluster
) -> None:
    now = sim_cluster.cluster.clock.now()
    bind(reader, "default", "web-0", "node01")
    reader.create(scheduled_event(broken_lab[0], now))
    checks = scheduler_fixed_checks()[1:]
    first = run_checks(checks, cap=CAP).to_dict()
    second = run_checks(checks, cap=CAP).to_dict()
    # Only the moment of grading differs between two grades of the same state.
    assert first.pop("graded_at") != "" and second.pop("graded_at") != ""
    assert first == second
    assert first["checks"][0]["detail"].endswith("default/web-1: no event; default/web-2: no event")
    names = [e["name"] for e in first["checks"][0]["evidence"]]
    assert (
        names[0] == "web-0"
        and names[1].startswith("web-0.")
        and names[2:]
        == [
            "web-1",
            "web-2",
        ]
    )


def test_a_probe_left_by_an_interrupted_run_is_replaced(
    run_checks, broken_lab, reader: ClusterReader, scheduler_loop, make_context
) -> None:
    name = make_context().probe_pod_name("probe-scheduled")
    leftover = reader.create(pod(name, labels={"certprep.io/probe": "true"}))
    loop = scheduler_loop()
    # The interrupted run got as far as the binding of its probe.
    for _ in range(100):
        if f"default/{name}" in loop.bound:
            break
        time.sleep(0.05)
    assert f"default/{name}" in loop.bound
    result = run_checks(scheduler_fixed_checks(budget=20)[:1])
    probe = result.checks[0]
    assert probe.passed, probe.detail
    assert probe.evidence[0]["name"] == name
    assert probe.evidence[0]["uid"] != leftover["metadata"]["uid"]
    assert reader.get("v1", "Pod", name, "default") is None
