"""Drawing a quiz's questions from the banks by its blueprint rules.

Pure functions shared by `bank check` (can this blueprint be satisfied?) and the attempt
engine (which questions does this attempt get?).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Where = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class DrawStep:
    """`count` questions matching every attribute in `where`; `rule` is the blueprint index."""

    rule: int
    where: Where
    count: int


class DrawShortfall(Exception):
    """A draw step matches fewer unused questions than it asks for."""

    def __init__(self, step: DrawStep, available: int) -> None:
        wanted = ", ".join(f"{k}={'|'.join(v)}" for k, v in step.where.items()) or "any question"
        super().__init__(
            f"draws {step.count} question(s) matching {wanted} but only {available} match"
            " (after earlier rules)"
        )
        self.step = step
        self.available = available


def split_by_weights(count: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split `count` over the keys of `weights` in proportion (largest remainder method).

    Ties in the remainder go to the key listed first, so the split is deterministic.
    """
    total = sum(weights.values())
    exact = {key: count * weight / total for key, weight in weights.items()}
    shares = {key: int(value) for key, value in exact.items()}
    left = count - sum(shares.values())
    order = sorted(weights, key=lambda k: (-(exact[k] - shares[k]), list(weights).index(k)))
    for key in order[:left]:
        shares[key] += 1
    return shares


def expand_rules(rules: Sequence[Mapping[str, Any]]) -> list[DrawStep]:
    """Turn blueprint rules into plain steps; a weighted rule becomes one step per value."""
    steps: list[DrawStep] = []
    for index, rule in enumerate(rules):
        where = dict(rule.get("where") or {})
        if rule.get("by"):
            for value, share in split_by_weights(rule["count"], rule["weights"]).items():
                if share:
                    steps.append(DrawStep(index, {**where, rule["by"]: [value]}, share))
        else:
            steps.append(DrawStep(index, where, rule["count"]))
    return steps


def matches(question: Mapping[str, Any], where: Where) -> bool:
    """True when the question's attribute equals one of the wanted values for every key."""
    return all(str(question.get(key)) in values for key, values in where.items())


def plan_draw(
    questions: Sequence[Mapping[str, Any]],
    rules: Sequence[Mapping[str, Any]],
    rank: Callable[[Mapping[str, Any]], Any] | None = None,
) -> list[Mapping[str, Any]]:
    """Pick questions for each rule in order, never the same question twice.

    Within a step, questions wanted by fewer later steps come first (so an early broad
    rule does not starve a later narrow one), then the lowest `rank`, then the id.
    Raises `DrawShortfall` for the first step that cannot be filled.
    """
    steps = expand_rules(rules)
    chosen: list[Mapping[str, Any]] = []
    used: set[Any] = set()
    for position, step in enumerate(steps):
        later = steps[position + 1 :]
        pool = [q for q in questions if q["id"] not in used and matches(q, step.where)]
        if len(pool) < step.count:
            raise DrawShortfall(step, len(pool))
        pool.sort(
            key=lambda q: (
                sum(1 for s in later if matches(q, s.where)),
                rank(q) if rank else 0,
                str(q["id"]),
            )
        )
        for question in pool[: step.count]:
            used.add(question["id"])
            chosen.append(question)
    return chosen
