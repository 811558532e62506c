"""Blueprint draw rules: weighted splits, rule order, least-seen preference, shortfalls."""

from __future__ import annotations

import pytest

from app.banks.draw import DrawShortfall, expand_rules, plan_draw, split_by_weights


def question(qid: str, **attrs: str) -> dict[str, str]:
    return {"id": qid, "section": "etcd", "domain": "Cluster Architecture", **attrs}


POOL = [
    question("e1", difficulty="easy"),
    question("e2", difficulty="hard"),
    question("e3", difficulty="hard"),
    question("s1", section="scheduler", domain="Troubleshooting", difficulty="easy"),
    question("s2", section="scheduler", domain="Troubleshooting", difficulty="medium"),
]


def test_split_by_weights_uses_largest_remainder() -> None:
    weights = {"A": 35, "B": 30, "C": 20, "D": 10, "E": 5}
    assert split_by_weights(40, weights) == {"A": 14, "B": 12, "C": 8, "D": 4, "E": 2}
    assert split_by_weights(10, {"x": 1, "y": 1, "z": 1}) == {"x": 4, "y": 3, "z": 3}
    assert sum(split_by_weights(7, {"a": 0.2, "b": 0.3, "c": 0.5}).values()) == 7


def test_weighted_rule_expands_per_value_with_the_filter() -> None:
    steps = expand_rules(
        [{"by": "domain", "weights": {"A": 1, "B": 1}, "count": 3, "where": {"section": ["x"]}}]
    )
    assert [(s.where, s.count) for s in steps] == [
        ({"section": ["x"], "domain": ["A"]}, 2),
        ({"section": ["x"], "domain": ["B"]}, 1),
    ]


def test_rules_draw_in_order_without_repeats() -> None:
    chosen = plan_draw(
        POOL,
        [
            {"where": {"section": ["etcd"]}, "count": 2},
            {"where": {"difficulty": ["hard"]}, "count": 1},
        ],
    )
    ids = [q["id"] for q in chosen]
    assert len(ids) == len(set(ids)) == 3
    # The broad first rule left a hard question for the narrow second one.
    assert ids[2] in {"e2", "e3"} and "e1" in ids[:2]


def test_rank_prefers_least_seen() -> None:
    seen = {"s1": 3, "s2": 0}
    chosen = plan_draw(
        POOL, [{"where": {"section": ["scheduler"]}, "count": 1}], rank=lambda q: seen[q["id"]]
    )
    assert [q["id"] for q in chosen] == ["s2"]


def test_shortfall_names_the_rule() -> None:
    with pytest.raises(DrawShortfall) as caught:
        plan_draw(
            POOL,
            [
                {"where": {"section": ["etcd"]}, "count": 3},
                {"where": {"difficulty": ["hard"]}, "count": 1},
            ],
        )
    assert caught.value.step.rule == 1 and caught.value.available == 0
    assert "difficulty=hard" in str(caught.value)
