"""Evidence trimming and reading events of both APIs (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.grading.checks.base import describe_selection, evidence_of
from app.grading.checks.events import (
    events_about,
    provenance_problem,
    seen_from_core_api,
    seen_from_events_api,
)

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "dev", "uid": "u-1", "resourceVersion": "42"},
}


def test_evidence_keeps_identity_and_trims_long_values() -> None:
    evidence = evidence_of(POD, note="x" * 500, args=list(range(200)), replicas=3)
    assert evidence["name"] == "web-0" and evidence["namespace"] == "dev"
    assert (evidence["uid"], evidence["resourceVersion"]) == ("u-1", "42")
    assert len(evidence["fields"]["note"]) == 200 and evidence["fields"]["note"].endswith("...")
    assert isinstance(evidence["fields"]["args"], str) and len(evidence["fields"]["args"]) == 200
    assert evidence["fields"]["replicas"] == 3
    assert "namespace" not in evidence_of({"kind": "Node", "metadata": {"name": "n"}})


def test_describe_selection() -> None:
    assert describe_selection({"resource": "Pod", "namespace": "dev", "name": "a"}) == "Pod dev/a"
    assert describe_selection(
        {"resource": "Pod", "namespace": "dev", "label_selector": "app=web"}
    ) == ("Pod objects in namespace dev with labels app=web")


def _events_api(uid: str, controller: str, at: str) -> dict:
    return {
        "metadata": {"name": "e1", "namespace": "dev", "uid": "e-1", "resourceVersion": "7"},
        "reason": "Scheduled",
        "reportingController": controller,
        "eventTime": at,
        "regarding": {"kind": "Pod", "name": "web-0", "uid": uid},
        "note": "Successfully assigned dev/web-0 to node01",
    }


def test_both_event_shapes_reduce_to_the_same_facts() -> None:
    modern = seen_from_events_api(_events_api("u-1", "default-scheduler", "2026-01-01T10:00:00.5Z"))
    core = seen_from_core_api(
        {
            "metadata": {"name": "e2", "namespace": "dev", "uid": "e-2"},
            "reason": "Scheduled",
            "source": {"component": "default-scheduler"},
            "lastTimestamp": "2026-01-01T10:00:01Z",
            "involvedObject": {"kind": "Pod", "name": "web-0", "uid": "u-1"},
            "message": "Successfully assigned dev/web-0 to node01",
        }
    )
    for event in (modern, core):
        assert (event.controller, event.regarding_uid, event.reason) == (
            "default-scheduler",
            "u-1",
            "Scheduled",
        )
    assert modern.time == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert core.time == datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC)


def test_events_match_by_uid_before_name() -> None:
    same = seen_from_events_api(_events_api("u-1", "default-scheduler", "2026-01-01T10:00:00Z"))
    older_pod = seen_from_events_api(
        _events_api("u-0", "default-scheduler", "2026-01-01T09:00:00Z")
    )
    assert events_about([same, older_pod], POD, "Scheduled") == [same]
    assert events_about([same], POD, "FailedScheduling") == []


def test_provenance_explains_what_is_wrong() -> None:
    since = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    other = seen_from_events_api(_events_api("u-1", "my-scheduler", "2026-01-01T10:00:05Z"))
    early = seen_from_events_api(_events_api("u-1", "default-scheduler", "2026-01-01T09:59:59Z"))
    good = seen_from_events_api(_events_api("u-1", "default-scheduler", "2026-01-01T10:00:00Z"))
    assert provenance_problem([], "default-scheduler", since) == (None, "no event")
    assert provenance_problem([other], "default-scheduler", since) == (
        None,
        "reported by my-scheduler, not default-scheduler",
    )
    assert provenance_problem([early], "default-scheduler", since)[1] == (
        "the last event by default-scheduler is from before 2026-01-01T10:00:00.000000Z"
    )
    assert provenance_problem([early, good], "default-scheduler", since) == (good, None)
