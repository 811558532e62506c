"""Quiz responses, answer keys and rules as text for people: the web pages and the
command line print the same words. Pure functions over the learner's view of an item
(`app.services.attempts.learner_item`, or the API's `AttemptSchema` item)."""

from __future__ import annotations

from typing import Any


def score_text(value: float | None) -> str:
    """A score rounded for people: at most one decimal (`85.7`, `12`), `—` for none."""
    return "—" if value is None else f"{round(value, 1):g}"


def expiry_words(policy: str, grace_minutes: int = 0) -> str:
    """What happens when an attempt's time runs out under the expiry `policy`."""
    if policy == "autosubmit":
        return "When the time runs out, your saved answers are submitted automatically."
    if policy == "grace":
        return (
            "When the time runs out you can no longer change answers, but you have "
            f"{grace_minutes} more minute(s) to submit; an attempt not submitted by "
            "then is abandoned and scores nothing."
        )
    return (
        "When the time runs out, an attempt you have not submitted is abandoned: it scores "
        "nothing and still counts as used."
    )


def _text_of(entries: list[dict[str, Any]] | None, ident: Any) -> str:
    for entry in entries or []:
        if entry["id"] == ident:
            return str(entry["text"])
    return str(ident)


def _number(value: Any, unit: str | None) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value} {unit}" if unit else f"{value}"


def describe_response(item: dict[str, Any], response: dict[str, Any] | None) -> list[str]:
    """A response (or an answer key) of `item` as lines a person reads; [] for none.

    `item` carries the texts shown to the learner (`options`, `items`, `prompts`,
    `choices`, `unit`); ids are replaced by those texts.
    """
    if not response:
        return []
    kind = item["type"]
    if kind == "single":
        return [_text_of(item.get("options"), response.get("choice"))]
    if kind == "multiple":
        return [_text_of(item.get("options"), c) for c in response.get("choices") or []]
    if kind == "true_false":
        return ["True" if response.get("value") else "False"]
    if kind == "ordering":
        order = response.get("order") or []
        return [f"{n}. {_text_of(item.get('items'), i)}" for n, i in enumerate(order, 1)]
    if kind == "matching":
        return [
            f"{_text_of(item.get('prompts'), p)} → {_text_of(item.get('choices'), c)}"
            for p, c in (response.get("matches") or {}).items()
        ]
    if kind == "short_answer":
        if "accept" in response:
            return [", ".join(str(a) for a in response["accept"])]
        return [str(response.get("text", ""))]
    if kind == "numeric":
        text = _number(response.get("value"), item.get("unit") or response.get("unit"))
        if response.get("tolerance"):
            text += f" (± {response['tolerance']:g})"
        return [text]
    return [str(response)]
