"""No learner-visible route returns answer keys or explanations before the review policy
allows: every quiz and attempt route is walked as a learner in every phase of an attempt
and each JSON body is searched for answer fields and the sample bank's secret markers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import marshmallow as ma

from app.schemas.attempts import AttemptSchema, AttemptSummarySchema, SavedResponseSchema
from app.schemas.quizzes import QuizDetailSchema, QuizOutSchema
from tests.builders import CORRECT
from tests.fixtures.quizzes import API, START, ManualClock, answer

# Keys that carry an answer key or feedback in question bodies and reviews.
ANSWER_KEYS = {
    "correct",
    "why",
    "answer",
    "accept",
    "accept_regex",
    "tolerance",
    "match",
    "explanation",
    "option_feedback",
    "negative_marking",
    "case_sensitive",
    "body",
    "seed_section",
}
# Every `why` and `explanation` of the sample bank contains this marker.
SECRET = "SECRET-"


def leaks(value: Any, path: str = "$") -> list[str]:
    """Paths in a JSON value where an answer key or a secret marker appears."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ANSWER_KEYS:
                found.append(f"{path}.{key}")
            found.extend(leaks(inner, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(leaks(inner, f"{path}[{index}]"))
    elif isinstance(value, str) and SECRET in value:
        found.append(path)
    return found


def schema_fields(schema: ma.Schema, prefix: str = "") -> set[str]:
    """Every field name of `schema`, nested schemas included."""
    names = set()
    for name, field in schema.fields.items():
        names.add(name)
        inner = field.inner if isinstance(field, ma.fields.List) else field
        if isinstance(inner, ma.fields.Nested):
            names |= schema_fields(inner.schema, f"{prefix}{name}.")
    return names


def test_learner_output_schemas_have_no_answer_fields() -> None:
    for schema in (
        AttemptSchema(),
        AttemptSummarySchema(),
        SavedResponseSchema(),
        QuizOutSchema(),
        QuizDetailSchema(),
    ):
        assert not schema_fields(schema) & ANSWER_KEYS, type(schema).__name__


class Walker:
    """Calls every learner route and records which it visited and any leak."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.visited: set[tuple[str, str]] = set()
        self.found: list[str] = []

    def call(self, method: str, rule: str, url: str, **kwargs: Any) -> Any:
        response = self.client.open(url, method=method, headers=self.headers, **kwargs)
        self.visited.add((method, rule))
        if response.is_json:
            self.found += [
                f"{method} {url} ({response.status_code}): {p}" for p in leaks(response.get_json())
            ]
        return response

    def walk(self, attempt_id: int | None, phase: str) -> None:
        """Every learner-visible route once, in the current phase."""
        self.call("GET", "/quizzes", f"{API}/quizzes")
        self.call("GET", "/quizzes/<slug>", f"{API}/quizzes/sample-quiz")
        self.call("GET", "/attempts", f"{API}/attempts")
        if attempt_id is None:
            return
        base = f"{API}/attempts/{attempt_id}"
        self.call("GET", "/attempts/<int:attempt_id>", base)
        self.call("GET", "/attempts/<int:attempt_id>/review", f"{base}/review")
        self.call(
            "PUT",
            "/attempts/<int:attempt_id>/responses/<question_id>",
            f"{base}/responses/sample-single",
            json={"response": {"choice": "b"}},
        )
        # A refused response must not echo the key either.
        self.call(
            "PUT",
            "/attempts/<int:attempt_id>/responses/<question_id>",
            f"{base}/responses/sample-numeric",
            json={"response": {"value": "two"}},
        )
        # Routes a learner may not use answer 403 without data.
        for method, rule, url in (
            ("GET", "/questions", f"{API}/questions"),
            ("GET", "/banks", f"{API}/banks"),
        ):
            response = self.call(method, rule, url)
            assert response.status_code == 403, (phase, url)


def test_no_route_leaks_answers_in_any_phase(
    client: Any, make_quiz: Callable, learner: Any, clock: ManualClock, app: Any
) -> None:
    # The most revealing policy, released only once the quiz closes.
    make_quiz(
        review_policy="explanations",
        review_after="close",
        close_at=START + timedelta(hours=3),
        expiry_policy="autosubmit",
        attempts_allowed=0,
    )
    _, headers = learner
    walker = Walker(client, headers)

    walker.walk(None, "before start")
    started = walker.call("POST", "/quizzes/<slug>/attempts", f"{API}/quizzes/sample-quiz/attempts")
    first = started.get_json()["id"]
    walker.walk(first, "in progress")
    for item in started.get_json()["items"]:
        answer(client, headers, first, item["question_id"], CORRECT[item["question_id"]])
    walker.walk(first, "answered")
    walker.call("POST", "/attempts/<int:attempt_id>/submit", f"{API}/attempts/{first}/submit")
    walker.walk(first, "submitted, quiz open")
    walker.call("POST", "/attempts/<int:attempt_id>/submit", f"{API}/attempts/{first}/submit")

    # A second attempt that runs out of time and is closed by the autosubmit policy.
    second = walker.call(
        "POST", "/quizzes/<slug>/attempts", f"{API}/quizzes/sample-quiz/attempts"
    ).get_json()["id"]
    clock.advance(minutes=25)
    walker.walk(second, "expired, quiz open")

    assert walker.found == []

    # Every attempt and quiz route a learner can call was walked.
    learner_rules = {
        (method, rule.rule.removeprefix(API))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(f"{API}/quizzes") or rule.rule.startswith(f"{API}/attempts")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    trainer_only = {("POST", "/quizzes"), ("GET", "/quizzes/<slug>/statistics")}
    assert learner_rules - trainer_only <= walker.visited

    # Once the quiz closes, the review releases what the policy allows, and only there.
    clock.advance(hours=3)
    review = client.get(f"{API}/attempts/{first}/review", headers=headers).get_json()
    assert review["level"] == "explanations"
    assert any(SECRET in i["explanation"] for i in review["items"])
    attempt = client.get(f"{API}/attempts/{first}", headers=headers).get_json()
    assert leaks(attempt) == []
