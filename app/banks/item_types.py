"""What each item type shows a learner, accepts as a response, and reveals at review.

One `ItemType` per question type, registered by name in `ITEM_TYPES` (a second
registration of a name is refused). Scoring lives in `app.services.scoring`, one scorer
per type name.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.banks.schemas import StrictBoolean, StrictNumber

MAX_TEXT_RESPONSE = 500


class ResponseSchema(Schema):
    class Meta:
        unknown = RAISE


class SingleResponse(ResponseSchema):
    choice = fields.String(required=True)


class MultipleResponse(ResponseSchema):
    choices = fields.List(fields.String(), required=True)


class TrueFalseResponse(ResponseSchema):
    value = StrictBoolean(required=True)


class OrderingResponse(ResponseSchema):
    order = fields.List(fields.String(), required=True)


class MatchingResponse(ResponseSchema):
    matches = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class ShortAnswerResponse(ResponseSchema):
    text = fields.String(required=True, validate=validate.Length(max=MAX_TEXT_RESPONSE))


class NumericResponse(ResponseSchema):
    value = StrictNumber(required=True)


@cache
def _schema_instance(schema_class: type[ResponseSchema]) -> ResponseSchema:
    """One instance per response schema: loading keeps no state on it, and building one
    per autosave cost more than the load itself."""
    return schema_class()


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in entries]


def _check_known(values: list[str], known: list[str], field_name: str) -> None:
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValidationError({field_name: [f"unknown id(s): {', '.join(map(str, unknown))}"]})
    if len(set(values)) != len(values):
        raise ValidationError({field_name: ["an id appears more than once"]})


def _public(entries: list[dict[str, Any]], order: list[str] | None) -> list[dict[str, str]]:
    """Only `id` and `text` of each entry, in display order: never `correct`, `why`, `match`."""
    by_id = {e["id"]: e for e in entries}
    ids = order if order else _ids(entries)
    return [{"id": i, "text": by_id[i]["text"]} for i in ids if i in by_id]


@dataclass(frozen=True)
class ItemType:
    """Presentation and response rules of one question type.

    `shuffled` names the list whose order is shuffled per attempt (None: nothing to
    shuffle); `always_shuffle` shuffles it even when the quiz turns option shuffling off
    (an ordering question is written in the right order).
    """

    name: str
    response_schema: type[ResponseSchema]
    present: Callable[[dict[str, Any], list[str] | None], dict[str, Any]]
    check_response: Callable[[dict[str, Any], dict[str, Any]], None]
    answer_key: Callable[[dict[str, Any]], dict[str, Any]]
    shuffled: str | None = None
    always_shuffle: bool = False

    def validate_response(self, body: dict[str, Any], response: Any) -> dict[str, Any]:
        """The response, loaded; raises `ValidationError` when its shape or ids are wrong."""
        if not isinstance(response, dict):
            raise ValidationError({"_schema": ["a response must be a JSON object"]})
        loaded = _schema_instance(self.response_schema).load(response)
        self.check_response(body, loaded)
        return loaded

    def display_order(self, body: dict[str, Any], rng: random.Random, shuffle: bool) -> list[str]:
        """The ids of the shuffled list in the order this attempt shows them."""
        if self.shuffled is None:
            return []
        ids = _ids(body[self.shuffled])
        if not (shuffle or self.always_shuffle):
            return ids
        shown = ids[:]
        for _ in range(8):
            rng.shuffle(shown)
            # Showing an ordering question already solved would give the answer away.
            if not self.always_shuffle or shown != ids:
                break
        return shown


ITEM_TYPES: dict[str, ItemType] = {}


def register_item_type(item_type: ItemType) -> ItemType:
    """Add `item_type` to the registry; raises `ValueError` if its name is taken."""
    if item_type.name in ITEM_TYPES:
        raise ValueError(f"item type {item_type.name!r} is already registered")
    ITEM_TYPES[item_type.name] = item_type
    return item_type


def _no_check(body: dict[str, Any], response: dict[str, Any]) -> None:
    return None


register_item_type(
    ItemType(
        name="single",
        response_schema=SingleResponse,
        present=lambda body, order: {"options": _public(body["options"], order)},
        check_response=lambda body, r: _check_known([r["choice"]], _ids(body["options"]), "choice"),
        answer_key=lambda body: {"choice": next(o["id"] for o in body["options"] if o["correct"])},
        shuffled="options",
    )
)
register_item_type(
    ItemType(
        name="multiple",
        response_schema=MultipleResponse,
        present=lambda body, order: {"options": _public(body["options"], order)},
        check_response=lambda body, r: _check_known(r["choices"], _ids(body["options"]), "choices"),
        answer_key=lambda body: {"choices": [o["id"] for o in body["options"] if o["correct"]]},
        shuffled="options",
    )
)
register_item_type(
    ItemType(
        name="true_false",
        response_schema=TrueFalseResponse,
        present=lambda body, order: {},
        check_response=_no_check,
        answer_key=lambda body: {"value": body["answer"]},
    )
)
register_item_type(
    ItemType(
        name="ordering",
        response_schema=OrderingResponse,
        present=lambda body, order: {"items": _public(body["items"], order)},
        check_response=lambda body, r: _check_known(r["order"], _ids(body["items"]), "order"),
        answer_key=lambda body: {"order": _ids(body["items"])},
        shuffled="items",
        always_shuffle=True,
    )
)


def _check_matches(body: dict[str, Any], response: dict[str, Any]) -> None:
    prompts = _ids(body["prompts"])
    choices = _ids(body["choices"])
    bad_prompts = [p for p in response["matches"] if p not in prompts]
    bad_choices = [c for c in response["matches"].values() if c not in choices]
    if bad_prompts or bad_choices:
        raise ValidationError(
            {"matches": [f"unknown id(s): {', '.join(map(str, bad_prompts + bad_choices))}"]}
        )


register_item_type(
    ItemType(
        name="matching",
        response_schema=MatchingResponse,
        present=lambda body, order: {
            "prompts": _public(body["prompts"], None),
            "choices": _public(body["choices"], order),
        },
        check_response=_check_matches,
        answer_key=lambda body: {"matches": {p["id"]: p["match"] for p in body["prompts"]}},
        shuffled="choices",
    )
)
register_item_type(
    ItemType(
        name="short_answer",
        response_schema=ShortAnswerResponse,
        present=lambda body, order: {},
        check_response=_no_check,
        answer_key=lambda body: {"accept": list(body["accept"] or body["accept_regex"])},
    )
)
register_item_type(
    ItemType(
        name="numeric",
        response_schema=NumericResponse,
        present=lambda body, order: {"unit": body["unit"]} if body.get("unit") else {},
        check_response=_no_check,
        answer_key=lambda body: {
            "value": body["answer"],
            "tolerance": body.get("tolerance", 0),
            **({"unit": body["unit"]} if body.get("unit") else {}),
        },
    )
)
