"""Scorers: one small pure function per item type, registered by type name.

A scorer takes the question body (the validated YAML item) and the learner's loaded
response (None when unanswered) and returns the credit earned as a fraction in [0, 1];
the attempt multiplies it by the question's points. Rules are those of
docs/content-format.md.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Scorer = Callable[[Mapping[str, Any], Mapping[str, Any] | None], float]

SCORERS: dict[str, Scorer] = {}

# Floating-point slack for numeric answers: 0.1 + 0.2 must equal 0.3 within tolerance 0.
NUMERIC_EPSILON = 1e-9


def register_scorer(type_name: str) -> Callable[[Scorer], Scorer]:
    """Decorator registering a scorer for `type_name`; raises `ValueError` on a duplicate."""

    def decorate(function: Scorer) -> Scorer:
        if type_name in SCORERS:
            raise ValueError(f"a scorer for {type_name!r} is already registered")
        SCORERS[type_name] = function
        return function

    return decorate


def score_response(
    type_name: str, body: Mapping[str, Any], response: Mapping[str, Any] | None
) -> float:
    """Credit in [0, 1] for `response`; raises `KeyError` for a type without a scorer."""
    if response is None:
        return 0.0
    credit = SCORERS[type_name](body, response)
    return min(1.0, max(0.0, credit))


@register_scorer("single")
def score_single(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    if response is None:
        return 0.0
    correct = next(o["id"] for o in body["options"] if o["correct"])
    return 1.0 if response.get("choice") == correct else 0.0


@register_scorer("multiple")
def score_multiple(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    """Share of correct options picked, minus (with negative marking) the share of wrong
    options picked, floored at 0."""
    if response is None:
        return 0.0
    picked = set(response.get("choices") or [])
    right = {o["id"] for o in body["options"] if o["correct"]}
    wrong = {o["id"] for o in body["options"] if not o["correct"]}
    credit = len(picked & right) / len(right)
    if body.get("negative_marking") and wrong:
        credit -= len(picked & wrong) / len(wrong)
    return max(0.0, credit)


@register_scorer("true_false")
def score_true_false(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    if response is None:
        return 0.0
    value = response.get("value")
    return 1.0 if isinstance(value, bool) and value == body["answer"] else 0.0


@register_scorer("ordering")
def score_ordering(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    """Share of adjacent pairs of the right order that the response keeps in order.

    An item missing from the response breaks both pairs it belongs to.
    """
    if response is None:
        return 0.0
    correct = [item["id"] for item in body["items"]]
    position = {item_id: index for index, item_id in enumerate(response.get("order") or [])}
    pairs = list(itertools.pairwise(correct))
    kept = sum(
        1
        for first, second in pairs
        if first in position and second in position and position[first] < position[second]
    )
    return kept / len(pairs)


@register_scorer("matching")
def score_matching(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    if response is None:
        return 0.0
    matches = response.get("matches") or {}
    prompts = body["prompts"]
    right = sum(1 for prompt in prompts if matches.get(prompt["id"]) == prompt["match"])
    return right / len(prompts)


def normalise_text(text: str, case_sensitive: bool = False) -> str:
    """Trim, collapse runs of whitespace, and fold case unless `case_sensitive`."""
    collapsed = " ".join(text.split())
    return collapsed if case_sensitive else collapsed.casefold()


@register_scorer("short_answer")
def score_short_answer(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    if response is None:
        return 0.0
    text = response.get("text")
    if not isinstance(text, str):
        return 0.0
    case_sensitive = bool(body.get("case_sensitive"))
    given = normalise_text(text, case_sensitive)
    if any(given == normalise_text(a, case_sensitive) for a in body.get("accept") or []):
        return 1.0
    flags = 0 if case_sensitive else re.IGNORECASE
    stripped = " ".join(text.split())
    for pattern in body.get("accept_regex") or []:
        if re.fullmatch(pattern, stripped, flags):
            return 1.0
    return 0.0


@register_scorer("numeric")
def score_numeric(body: Mapping[str, Any], response: Mapping[str, Any] | None) -> float:
    if response is None:
        return 0.0
    value = response.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    tolerance = body.get("tolerance") or 0
    return 1.0 if abs(value - body["answer"]) <= tolerance + NUMERIC_EPSILON else 0.0


@dataclass(frozen=True)
class ItemScore:
    """What one item contributes: `score` of `max_score` points, by domain and topic."""

    score: float
    max_score: float
    domain: str
    topic: str


def _bucket(items: Iterable[ItemScore], key: Callable[[ItemScore], str]) -> dict[str, Any]:
    totals: dict[str, list[float]] = {}
    for item in items:
        entry = totals.setdefault(key(item), [0.0, 0.0])
        entry[0] += item.score
        entry[1] += item.max_score
    return {
        name: {
            "score": round(score, 4),
            "max_score": round(max_score, 4),
            "percent": percent(score, max_score),
        }
        for name, (score, max_score) in sorted(totals.items())
    }


def percent(score: float, max_score: float) -> float:
    """`score` as a percentage of `max_score`, to two decimals (0 when nothing to score)."""
    return round(100.0 * score / max_score, 2) if max_score else 0.0


def summarise(items: list[ItemScore], pass_mark: float) -> dict[str, Any]:
    """Total, percent, pass/fail against `pass_mark` (percent), per-domain and per-topic."""
    score = sum(i.score for i in items)
    max_score = sum(i.max_score for i in items)
    result_percent = percent(score, max_score)
    return {
        "score": round(score, 4),
        "max_score": round(max_score, 4),
        "percent": result_percent,
        "passed": result_percent >= pass_mark,
        "domains": _bucket(items, lambda i: i.domain),
        "topics": _bucket(items, lambda i: i.topic),
    }


def combine_attempts(method: str, percents: list[float]) -> float | None:
    """The quiz result from submitted attempts' percents, oldest first (None: no attempt)."""
    if not percents:
        return None
    if method == "highest":
        return max(percents)
    if method == "last":
        return percents[-1]
    if method == "average":
        return round(sum(percents) / len(percents), 2)
    raise ValueError(f"unknown grading method {method!r}")
