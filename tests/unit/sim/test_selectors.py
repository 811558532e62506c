"""Label and field selectors as the API server parses and matches them."""

from __future__ import annotations

import pytest

from app.sim.machinery.errors import ApiError
from app.sim.machinery.selectors import (
    field_value,
    parse_field_selector,
    parse_label_selector,
    selector_from_map,
    selector_from_object,
)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),
        ("app=web,tier=front", {"app": "web"}, False),
        ("app in (web, db)", {"app": "db"}, True),
        ("app notin (web,db)", {"app": "db"}, False),
        ("app notin (web,db)", {}, True),
        ("app", {"app": ""}, True),
        ("!app", {"app": "x"}, False),
        ("!app", {}, True),
        ("replicas>2", {"replicas": "3"}, True),
        ("replicas<2", {"replicas": "3"}, False),
        (
            "node-role.kubernetes.io/control-plane",
            {"node-role.kubernetes.io/control-plane": ""},
            True,
        ),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selector_matches(selector: str, labels: dict, expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


@pytest.mark.parametrize("bad", ["app in (web", "a=b,,c", "bad key!=x", "x=a b", "n>abc"])
def test_bad_label_selector(bad: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_label_selector(bad)
    assert err.value.code == 400


def test_label_selector_round_trips_as_text() -> None:
    text = "app=web,tier in (back,front),!canary"
    assert str(parse_label_selector(text)) == text


def test_selector_objects() -> None:
    sel = selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}],
        }
    )
    assert sel.matches({"app": "web", "tier": "front"})
    assert not sel.matches({"app": "web", "tier": "db"})
    assert str(sel) == "app=web,tier notin (db)"
    assert not selector_from_object(None).matches({"app": "web"})
    assert selector_from_object({}).matches({"app": "web"})
    assert selector_from_map({"app": "web"}).matches({"app": "web", "x": "y"})
    with pytest.raises(ApiError):
        selector_from_object({"matchExpressions": [{"key": "a", "operator": "Near"}]})


def test_field_selectors() -> None:
    pod = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "node01", "hostNetwork": False},
        "status": {"phase": "Running"},
    }
    sel = parse_field_selector("spec.nodeName=node01,status.phase!=Pending", "", "pods")
    assert sel.matches(pod)
    assert not parse_field_selector("metadata.name=db", "", "pods").matches(pod)
    assert parse_field_selector("spec.hostNetwork=false", "", "pods").matches(pod)
    assert parse_field_selector("metadata.name=web", "", "pods").exact_name() == "web"
    assert field_value({"source": {"component": "kubelet"}}, "source") == "kubelet"


def test_event_field_selectors() -> None:
    event = {"involvedObject": {"kind": "Pod", "name": "web"}, "reason": "Scheduled"}
    sel = parse_field_selector("involvedObject.name=web,involvedObject.kind=Pod", "", "events")
    assert sel.matches(event)


def test_unsupported_field_label() -> None:
    with pytest.raises(ApiError) as err:
        parse_field_selector("spec.replicas=3", "apps", "deployments")
    assert err.value.code == 400
    assert err.value.message == "field label not supported: spec.replicas"


def test_malformed_field_selector() -> None:
    with pytest.raises(ApiError) as err:
        parse_field_selector("metadata.name", "", "pods")
    assert err.value.code == 400
