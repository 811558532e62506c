"""kuttl partial matching and JMESPath assertions."""

from __future__ import annotations

import pytest

from app.grading.matchers import (
    ExpressionError,
    evaluate_assertion,
    fragment_values,
    partial_match,
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "app.kubernetes.io/part-of": "shop"}},
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                    {"name": "log", "image": "busybox"},
                ]
            }
        },
    },
    "status": {"readyReplicas": 3},
}


def test_maps_match_as_subsets() -> None:
    assert partial_match({"spec": {"replicas": 3}, "metadata": {"name": "web"}}, DEPLOYMENT) == []


def test_scalar_mismatch_names_the_path_and_both_values() -> None:
    [mismatch] = partial_match({"spec": {"replicas": 5}}, DEPLOYMENT)
    assert str(mismatch) == "spec.replicas: expected 5, found 3"


def test_missing_field_is_reported_as_missing() -> None:
    [mismatch] = partial_match({"spec": {"paused": True}}, DEPLOYMENT)
    assert mismatch.missing
    assert str(mismatch) == "spec.paused: expected true, found nothing (field missing)"


def test_lists_need_the_same_length() -> None:
    expected = {"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}
    [mismatch] = partial_match(expected, DEPLOYMENT)
    assert str(mismatch) == "spec.template.spec.containers (length): expected 1, found 2"


def test_list_elements_match_in_order_as_subsets() -> None:
    in_order = {"spec": {"template": {"spec": {"containers": [{"name": "web"}, {"name": "log"}]}}}}
    assert partial_match(in_order, DEPLOYMENT) == []
    swapped = {"spec": {"template": {"spec": {"containers": [{"name": "log"}, {"name": "web"}]}}}}
    paths = [m.path for m in partial_match(swapped, DEPLOYMENT)]
    assert paths == [
        "spec.template.spec.containers[0].name",
        "spec.template.spec.containers[1].name",
    ]


def test_nested_list_index_in_path() -> None:
    expected = {
        "spec": {
            "template": {
                "spec": {"containers": [{"ports": [{"containerPort": 8080}]}, {"name": "log"}]}
            }
        }
    }
    [mismatch] = partial_match(expected, DEPLOYMENT)
    assert mismatch.path == "spec.template.spec.containers[0].ports[0].containerPort"
    assert (mismatch.expected, mismatch.found) == (8080, 80)


def test_label_keys_with_dots_are_quoted_in_paths() -> None:
    [mismatch] = partial_match(
        {"metadata": {"labels": {"app.kubernetes.io/part-of": "cart"}}}, DEPLOYMENT
    )
    assert mismatch.path == 'metadata.labels["app.kubernetes.io/part-of"]'


def test_booleans_are_not_numbers() -> None:
    assert partial_match({"x": True}, {"x": 1}) != []
    assert partial_match({"x": 1}, {"x": 1.0}) == []


def test_type_mismatch_map_against_scalar() -> None:
    [mismatch] = partial_match({"spec": {"replicas": {"min": 1}}}, DEPLOYMENT)
    assert mismatch.path == "spec.replicas"


def test_fragment_values_show_the_actual_leaves() -> None:
    expected = {
        "kind": "Deployment",
        "spec": {
            "replicas": 5,
            "paused": True,
            "template": {"spec": {"containers": [{"name": "web"}, {"image": "busybox"}]}},
        },
        "metadata": {"(length(keys(labels)))": 2},
    }
    assert fragment_values(expected, DEPLOYMENT) == {
        "kind": "Deployment",
        "spec.replicas": 3,
        "spec.paused": None,
        "spec.template.spec.containers[0].name": "web",
        "spec.template.spec.containers[1].image": "busybox",
        "metadata.(length(keys(labels)))": 2,
    }


def test_chainsaw_projection_keys() -> None:
    spec = {"spec": {"template": {"spec": {"(length(containers))": 2}}}}
    assert partial_match(spec, DEPLOYMENT) == []
    [mismatch] = partial_match({"spec": {"(replicas > `5`)": True}}, DEPLOYMENT)
    assert str(mismatch) == "spec.(replicas > `5`): expected true, found false"
    names = {"spec": {"template": {"spec": {"(containers[].name)": ["web", "log"]}}}}
    assert partial_match(names, DEPLOYMENT) == []


@pytest.mark.parametrize(
    ("assertion", "passed", "message"),
    [
        ({"expr": "spec.replicas", "equals": 3}, True, "spec.replicas: expected 3, found 3"),
        ({"expr": "spec.replicas", "equals": 2}, False, "spec.replicas: expected 2, found 3"),
        ({"expr": "spec.replicas", "not_equals": 3}, False, "expected not 3, found 3"),
        ({"expr": "status.readyReplicas", "ge": 3}, True, "expected >= 3, found 3"),
        ({"expr": "status.readyReplicas", "gt": 3}, False, "expected > 3, found 3"),
        ({"expr": "status.readyReplicas", "lt": 4}, True, "expected < 4"),
        ({"expr": "spec.template.spec.containers[].name", "contains": "log"}, True, "contain"),
        ({"expr": "spec.template.spec.containers[].name", "not_contains": "log"}, False, "not"),
        ({"expr": "spec.template.spec.containers[0].image", "matches": "^nginx:1\\."}, True, ""),
        ({"expr": "spec.paused", "exists": False}, True, "expected no value, found nothing"),
        ({"expr": "spec.paused", "exists": True}, False, "expected a value, found nothing"),
        ({"expr": "spec.template.spec.containers", "length": 2}, True, "length 2"),
        ({"expr": "spec.template.spec.containers", "length": 1}, False, "found length 2"),
        ({"expr": "metadata.labels", "equals": {"app": "web"}}, False, "expected"),
    ],
)
def test_assertions(assertion: dict, passed: bool, message: str) -> None:
    ok, text, _ = evaluate_assertion(assertion, DEPLOYMENT)
    assert ok is passed
    assert message in text


def test_equals_on_a_map_is_exact_not_a_subset() -> None:
    labels = {"app": "web", "app.kubernetes.io/part-of": "shop"}
    assert evaluate_assertion({"expr": "metadata.labels", "equals": labels}, DEPLOYMENT)[0]
    ok, _, _ = evaluate_assertion({"expr": "metadata.labels", "equals": {"app": "web"}}, DEPLOYMENT)
    assert not ok


def test_invalid_expression_raises() -> None:
    with pytest.raises(ExpressionError, match="invalid JMESPath"):
        evaluate_assertion({"expr": "spec.[", "equals": 1}, DEPLOYMENT)


def test_uncomparable_values_raise() -> None:
    with pytest.raises(ExpressionError, match="cannot compare"):
        evaluate_assertion({"expr": "metadata.name", "gt": 3}, DEPLOYMENT)
