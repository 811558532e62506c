"""Scorers for every item type, their edge cases, and the registries' duplicate guard."""

from __future__ import annotations

import random

import pytest
from marshmallow import ValidationError

from app.banks.item_types import ITEM_TYPES, ItemType, register_item_type
from app.services.scoring import (
    SCORERS,
    ItemScore,
    combine_attempts,
    register_scorer,
    score_response,
    summarise,
)

OPTIONS = [
    {"id": "a", "text": "A", "correct": True, "why": "."},
    {"id": "b", "text": "B", "correct": False, "why": "."},
    {"id": "c", "text": "C", "correct": True, "why": "."},
    {"id": "d", "text": "D", "correct": False, "why": "."},
]
SINGLE = {"options": [{**OPTIONS[0]}, {**OPTIONS[1]}]}
MULTIPLE = {"options": OPTIONS, "negative_marking": False}
ORDERING = {"items": [{"id": i, "text": i} for i in ("authn", "authz", "admit", "etcd")]}
MATCHING = {
    "prompts": [
        {"id": "p1", "text": "scheduler", "match": "c1"},
        {"id": "p2", "text": "kubelet", "match": "c2"},
    ],
    "choices": [
        {"id": "c1", "text": "bind"},
        {"id": "c2", "text": "run"},
        {"id": "c3", "text": "x"},
    ],
}
SHORT = {"accept": ["kube-scheduler"], "accept_regex": [], "case_sensitive": False}


def test_every_item_type_has_a_scorer() -> None:
    assert set(ITEM_TYPES) == set(SCORERS)


def test_unanswered_scores_zero() -> None:
    assert score_response("single", SINGLE, None) == 0.0
    assert score_response("numeric", {"answer": 2, "tolerance": 0}, None) == 0.0


@pytest.mark.parametrize(("choice", "credit"), [("a", 1.0), ("b", 0.0), ("zz", 0.0)])
def test_single(choice: str, credit: float) -> None:
    assert score_response("single", SINGLE, {"choice": choice}) == credit


@pytest.mark.parametrize(
    ("choices", "negative", "credit"),
    [
        (["a", "c"], False, 1.0),
        (["a"], False, 0.5),
        (["a", "b"], False, 0.5),
        (["a", "b", "c", "d"], False, 1.0),
        (["a", "b"], True, 0.0),
        (["a", "c", "b"], True, 0.5),
        (["b", "d"], True, 0.0),  # floored at 0, never negative
        ([], True, 0.0),
    ],
)
def test_multiple_partial_and_negative(choices: list[str], negative: bool, credit: float) -> None:
    body = {**MULTIPLE, "negative_marking": negative}
    assert score_response("multiple", body, {"choices": choices}) == pytest.approx(credit)


def test_multiple_all_correct_with_negative_marking_has_no_division_by_zero() -> None:
    body = {"options": [o | {"correct": True} for o in OPTIONS], "negative_marking": True}
    assert score_response("multiple", body, {"choices": ["a", "b"]}) == 0.5


@pytest.mark.parametrize(("value", "credit"), [(True, 1.0), (False, 0.0)])
def test_true_false(value: bool, credit: float) -> None:
    assert score_response("true_false", {"answer": True}, {"value": value}) == credit


@pytest.mark.parametrize(
    ("order", "credit"),
    [
        (["authn", "authz", "admit", "etcd"], 1.0),
        (["etcd", "admit", "authz", "authn"], 0.0),
        (["authz", "authn", "admit", "etcd"], 2 / 3),  # authz<admit and admit<etcd kept
        (["authn", "authz"], 1 / 3),  # missing items break their pairs
        ([], 0.0),
    ],
)
def test_ordering_adjacent_pairs(order: list[str], credit: float) -> None:
    assert score_response("ordering", ORDERING, {"order": order}) == pytest.approx(credit)


@pytest.mark.parametrize(
    ("matches", "credit"),
    [({"p1": "c1", "p2": "c2"}, 1.0), ({"p1": "c1", "p2": "c3"}, 0.5), ({}, 0.0)],
)
def test_matching_share_of_prompts(matches: dict[str, str], credit: float) -> None:
    assert score_response("matching", MATCHING, {"matches": matches}) == credit


@pytest.mark.parametrize(
    ("text", "body", "credit"),
    [
        ("  Kube-Scheduler ", SHORT, 1.0),
        ("kube   scheduler", {**SHORT, "accept": ["kube scheduler"]}, 1.0),
        ("Kube-Scheduler", {**SHORT, "case_sensitive": True}, 0.0),
        ("kube-scheduler", {**SHORT, "case_sensitive": True}, 1.0),
        ("scheduler", SHORT, 0.0),
        ("KUBE-SCHEDULER-X", {**SHORT, "accept_regex": [r"kube-scheduler(-\w)?"]}, 1.0),
        ("my kube-scheduler", {**SHORT, "accept_regex": [r"kube-scheduler"]}, 0.0),  # full match
    ],
)
def test_short_answer_normalising(text: str, body: dict, credit: float) -> None:
    assert score_response("short_answer", body, {"text": text}) == credit


@pytest.mark.parametrize(
    ("value", "tolerance", "credit"),
    [(2, 0, 1.0), (2.0, 0, 1.0), (3, 0, 0.0), (2.4, 0.5, 1.0), (2.6, 0.5, 0.0), (0.3, 0, 0.0)],
)
def test_numeric_tolerance(value: float, tolerance: float, credit: float) -> None:
    assert score_response("numeric", {"answer": 2, "tolerance": tolerance}, {"value": value}) == (
        credit
    )


def test_numeric_float_rounding_is_forgiven() -> None:
    body = {"answer": 0.3, "tolerance": 0}
    assert score_response("numeric", body, {"value": 0.1 + 0.2}) == 1.0


def test_duplicate_scorer_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_scorer("single")(lambda body, response: 1.0)


def test_duplicate_item_type_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_item_type(ITEM_TYPES["single"])
    assert isinstance(ITEM_TYPES["single"], ItemType)


def test_summary_per_domain_and_topic_and_pass_mark() -> None:
    items = [
        ItemScore(1.0, 1.0, "Cluster Architecture", "etcd-quorum"),
        ItemScore(0.5, 1.0, "Cluster Architecture", "etcd-quorum"),
        ItemScore(0.0, 2.0, "Troubleshooting", "static-pods"),
    ]
    summary = summarise(items, pass_mark=50)
    assert summary["score"] == 1.5 and summary["max_score"] == 4.0
    assert summary["percent"] == 37.5 and summary["passed"] is False
    assert summary["domains"]["Cluster Architecture"]["percent"] == 75.0
    assert summary["topics"]["static-pods"] == {"score": 0.0, "max_score": 2.0, "percent": 0.0}
    assert summarise(items, pass_mark=37.5)["passed"] is True


@pytest.mark.parametrize(
    ("method", "expected"), [("highest", 80.0), ("last", 40.0), ("average", 60.0)]
)
def test_grading_methods(method: str, expected: float) -> None:
    assert combine_attempts(method, [60.0, 80.0, 40.0]) == expected
    assert combine_attempts(method, []) is None


def test_response_shapes_are_validated() -> None:
    single = ITEM_TYPES["single"]
    assert single.validate_response(SINGLE, {"choice": "a"}) == {"choice": "a"}
    for bad in ({"choice": "zz"}, {"choices": ["a"]}, {"choice": "a", "extra": 1}, ["a"]):
        with pytest.raises(ValidationError):
            single.validate_response(SINGLE, bad)
    with pytest.raises(ValidationError):
        ITEM_TYPES["numeric"].validate_response({"answer": 2}, {"value": "2"})
    with pytest.raises(ValidationError):
        ITEM_TYPES["matching"].validate_response(MATCHING, {"matches": {"p9": "c1"}})
    with pytest.raises(ValidationError):
        ITEM_TYPES["ordering"].validate_response(ORDERING, {"order": ["authn", "authn"]})
    with pytest.raises(ValidationError):
        ITEM_TYPES["true_false"].validate_response({"answer": True}, {"value": "yes"})


def test_ordering_is_never_shown_in_the_right_order() -> None:
    ordering = ITEM_TYPES["ordering"]
    for seed in range(50):
        shown = ordering.display_order(ORDERING, random.Random(seed), shuffle=False)
        assert sorted(shown) == sorted(i["id"] for i in ORDERING["items"])
        assert shown != [i["id"] for i in ORDERING["items"]]


def test_presentation_has_no_answer_fields() -> None:
    shown = ITEM_TYPES["matching"].present(MATCHING, ["c3", "c1", "c2"])
    assert [c["id"] for c in shown["choices"]] == ["c3", "c1", "c2"]
    assert all(set(p) == {"id", "text"} for p in shown["prompts"])
    assert all(
        set(o) == {"id", "text"} for o in ITEM_TYPES["single"].present(SINGLE, None)["options"]
    )
