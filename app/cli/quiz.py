"""`certprep quiz list|take|result`: the learner's side of quizzes, through the REST API."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from app.cli.login import ApiClient, ApiError, api_options, config_dir
from app.services.quiz_text import describe_response, expiry_words, score_text


def format_remaining(seconds: int) -> str:
    """`12:05` for 725 seconds; `1:02:03` beyond an hour."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]


def parse_answer(item: dict[str, Any], text: str) -> dict[str, Any]:
    """Turn what the learner typed into the item type's response shape.

    Raises `click.BadParameter` for input that cannot be a response (a number that is not
    a number, an unknown true/false word).
    """
    kind = item["type"]
    text = text.strip()
    if kind == "single":
        return {"choice": text}
    if kind == "multiple":
        return {"choices": _ids(text)}
    if kind == "ordering":
        return {"order": _ids(text)}
    if kind == "true_false":
        word = text.lower()
        if word in ("t", "true", "y", "yes"):
            return {"value": True}
        if word in ("f", "false", "n", "no"):
            return {"value": False}
        raise click.BadParameter("answer true or false")
    if kind == "numeric":
        try:
            number = float(text)
        except ValueError:
            raise click.BadParameter("answer with a number") from None
        return {"value": int(number) if number.is_integer() else number}
    if kind == "short_answer":
        return {"text": text}
    raise click.BadParameter(f"cannot answer a {kind} question here")


def _show_item(item: dict[str, Any], total: int, flagged: bool = False) -> None:
    click.echo("")
    click.secho(
        f"Question {item['position']}/{total} ({item['type'].replace('_', ' ')},"
        f" {item['points']:g} point(s)){'  [flagged]' if flagged else ''}",
        bold=True,
    )
    click.echo(item["stem"].rstrip())
    for key in ("options", "items"):
        for entry in item.get(key) or []:
            click.echo(f"  [{entry['id']}] {entry['text']}")
    if item.get("prompts"):
        click.echo("  match each of:")
        for number, entry in enumerate(item["prompts"], 1):
            click.echo(f"    {number}. {entry['text']}")
    if item.get("choices"):
        click.echo("  with one of:")
        for entry in item["choices"]:
            click.echo(f"    [{entry['id']}] {entry['text']}")
    if item.get("unit"):
        click.echo(f"  (unit: {item['unit']})")
    if item.get("response") is not None:
        click.echo("  saved: " + "; ".join(describe_response(item, item["response"])))


def _hint(item: dict[str, Any]) -> str:
    return {
        "single": "option id",
        "multiple": "option ids, comma-separated",
        "ordering": "item ids in order, comma-separated",
        "true_false": "true/false",
        "numeric": "a number",
        "short_answer": "your answer",
        "matching": "choice id for the first item",
    }.get(item["type"], "answer")


NAVIGATION_HELP = (
    "  n next, p previous, g N go to question N, f flag/unflag, s summary and submit,"
    " q save and leave"
)


def _ask_matching(item: dict[str, Any], first: str) -> dict[str, Any] | None:
    """Matches for every prompt: `first` for the first one, then one prompt each."""
    matches = dict((item.get("response") or {}).get("matches") or {})
    matches[item["prompts"][0]["id"]] = first
    for prompt in item["prompts"][1:]:
        current = matches.get(prompt["id"], "")
        chosen = click.prompt(
            f"  {prompt['text']} -> choice id", default=current, show_default=bool(current)
        ).strip()
        if chosen:
            matches[prompt["id"]] = chosen
    return {"matches": matches} if matches else None


def _read_command(item: dict[str, Any]) -> tuple[str, Any]:
    """One line of input for the shown item: ("answer", response), ("skip", None) for
    Enter, or a navigation command ("next", "prev", "goto", "flag", "summary", "quit")."""
    while True:
        text = click.prompt(
            f"  answer ({_hint(item)}; Enter skips; ? for commands)", default="", show_default=False
        ).strip()
        ids = {e["id"] for e in (item.get("options") or []) + (item.get("items") or [])}
        if text and text in ids:
            return "answer", parse_answer(item, text)
        if item["type"] == "matching" and text in {c["id"] for c in item["choices"]}:
            return "answer", _ask_matching(item, text)
        word = text.lower()
        if word == "":
            return "skip", None
        if word in ("?", "h", "help"):
            click.echo(NAVIGATION_HELP)
            continue
        if word == "n":
            return "next", None
        if word == "p":
            return "prev", None
        if word == "f":
            return "flag", None
        if word == "s":
            return "summary", None
        if word == "q":
            return "quit", None
        if word.startswith("g ") or (word.startswith("g") and word[1:].isdigit()):
            number = word[1:].strip()
            if number.isdigit():
                return "goto", int(number)
            click.echo("  g N: the question number, e.g. g 3")
            continue
        if item["type"] == "matching":
            click.echo("  type the choice id for the first item")
            continue
        try:
            return "answer", parse_answer(item, text)
        except click.BadParameter as exc:
            click.echo(f"  {exc.message}")


def _print_result(attempt: dict[str, Any]) -> None:
    result = attempt.get("result")
    if attempt["status"] == "abandoned" or not result:
        click.echo(f"attempt {attempt['id']}: {attempt['status'].replace('_', ' ')}")
        return
    verdict = "PASSED" if result["passed"] else "not passed"
    click.secho(
        f"attempt {attempt['id']}: {score_text(result['score'])}/{score_text(result['max_score'])}"
        f" ({score_text(result['percent'])} %) {verdict}",
        bold=True,
    )


def _time_over(client: ApiClient, attempt_id: int, slug: str) -> bool:
    """Say clearly what happened once the attempt stopped taking answers; True when it
    can still be submitted (the grace period of the quiz's expiry policy)."""
    attempt = client.get(f"/attempts/{attempt_id}")
    if attempt["status"] == "submitted" and attempt.get("close_reason") != "deadline":
        click.echo("This attempt is already submitted.")
        _print_result(attempt)
        click.echo(f"Details: certprep quiz result {attempt_id}")
        return False
    click.secho("Time ran out.", bold=True)
    if attempt["status"] == "submitted":
        click.echo("Your saved answers were submitted automatically.")
        _print_result(attempt)
        click.echo(f"Details: certprep quiz result {attempt_id}")
        return False
    if attempt["status"] == "abandoned":
        click.echo(
            "The attempt was not submitted in time, so it is abandoned: it scores nothing and"
            " still counts as used."
        )
        return False
    click.echo(
        "No more answers are accepted, but you can still submit during the grace period"
        f" (until {attempt['expires_at']})."
    )
    return True


def _flags_file(attempt_id: int) -> Path:
    return config_dir() / "flags" / f"attempt-{attempt_id}.json"


def _load_flags(attempt_id: int) -> set[str]:
    try:
        return set(json.loads(_flags_file(attempt_id).read_text()))
    except (OSError, ValueError):
        return set()


def _save_flags(attempt_id: int, flags: set[str]) -> None:
    path = _flags_file(attempt_id)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps(sorted(flags)))


def _summary(items: list[dict[str, Any]], flags: set[str]) -> int:
    """Print the answered/unanswered/flagged summary; returns the unanswered count."""
    unanswered = [i for i in items if i.get("response") is None]
    flagged = [i for i in items if i["question_id"] in flags]
    click.echo("")
    click.secho(
        f"Summary: {len(items) - len(unanswered)} of {len(items)} answered,"
        f" {len(unanswered)} unanswered, {len(flagged)} flagged",
        bold=True,
    )
    for item in items:
        marks = []
        if item.get("response") is None:
            marks.append("unanswered")
        if item["question_id"] in flags:
            marks.append("flagged")
        click.echo(f"  {item['position']:>2}. {', '.join(marks) or 'answered'}")
    return len(unanswered)


@click.group("quiz")
def quiz() -> None:
    """Timed quizzes: list them, take one, read a result."""


@quiz.command("list")
@api_options
def list_quizzes(client: ApiClient) -> None:
    """Quizzes you can take."""
    quizzes = client.get("/quizzes", params={"page_size": 100})
    for entry in quizzes:
        attempts = entry["attempts_allowed"] or "unlimited"
        click.echo(
            f"{entry['slug']:<34} {entry['question_count']:>3} questions"
            f" {entry['time_limit_minutes']:>3} min  attempts: {attempts}  {entry['title']}"
        )


def _first_unanswered(items: list[dict[str, Any]]) -> int:
    return next((i for i, item in enumerate(items) if item.get("response") is None), 0)


@dataclass
class _TakeState:
    """Where a `quiz take` run stands: the question shown, the time left, the flags."""

    client: ApiClient
    slug: str
    attempt: dict[str, Any]
    flags: set[str]
    # The server's remaining time, counted down locally between answers.
    remaining: int
    measured_at: float
    index: int = 0
    wants_summary: bool = False
    time_over: bool = False

    @property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.attempt["items"]
        return items

    def left(self) -> float:
        return self.remaining - (time.monotonic() - self.measured_at)

    def saved_and_leave(self) -> bool:
        click.echo(f"Saved. Resume with: certprep quiz take {self.slug}")
        return False

    def on_time_over(self) -> bool:
        """The time-over prompt; False when the learner leaves."""
        if not _time_over(self.client, self.attempt["id"], self.slug):
            return False
        self.time_over = self.wants_summary = True
        return True


def _summary_step(state: _TakeState, submit: bool | None) -> bool | None:
    """The summary before submitting: True to submit, False to leave, None to go back
    to the questions."""
    unanswered = _summary(state.items, state.flags)
    if submit is None:
        question = "Submit the attempt now?"
        if unanswered:
            question = f"{unanswered} question(s) unanswered (they score zero). Submit now?"
        if click.confirm(question, default=False):
            return True
        if not state.time_over and click.confirm("Go back to the questions?", default=False):
            state.wants_summary = False
            state.index = _first_unanswered(state.items)
            return None
        return state.saved_and_leave()
    if not submit:
        return state.saved_and_leave()
    return True


def _save_answer(state: _TakeState, item: dict[str, Any], value: Any) -> bool:
    """Save one answer and move on; False when the learner leaves."""
    try:
        saved = state.client.put(
            f"/attempts/{state.attempt['id']}/responses/{item['question_id']}",
            json={"response": value},
        )
    except ApiError as exc:
        if exc.status == 409:
            return state.on_time_over()
        if exc.status == 422:
            click.echo(f"  not saved: {exc.message}")
            return True
        raise
    item["response"] = value
    state.remaining, state.measured_at = saved["remaining_seconds"], time.monotonic()
    click.echo(f"  saved. time left {format_remaining(state.remaining)}")
    state.index += 1
    return True


def _apply_command(state: _TakeState, item: dict[str, Any], action: str, value: Any) -> bool:
    """Act on one command at the answer prompt; False when the learner leaves."""
    total = len(state.items)
    if action == "next" or action == "skip":
        state.index += 1
    elif action == "prev":
        state.index = max(0, state.index - 1)
    elif action == "goto":
        if 1 <= value <= total:
            state.index = value - 1
        else:
            click.echo(f"  there are questions 1 to {total}")
    elif action == "flag":
        state.flags.symmetric_difference_update({item["question_id"]})
        _save_flags(state.attempt["id"], state.flags)
        click.echo("  flagged for review" if item["question_id"] in state.flags else "  unflagged")
    elif action == "summary":
        state.wants_summary = True
    elif action == "quit":
        return state.saved_and_leave()
    elif action == "answer" and value is not None:
        return _save_answer(state, item, value)
    return True


def _answer_questions(state: _TakeState, submit: bool | None) -> bool:
    """The question loop; True when the attempt is to be submitted."""
    while True:
        left = state.left()
        if left <= 0 and not state.time_over and not state.on_time_over():
            return False
        if state.wants_summary or state.index >= len(state.items):
            decision = _summary_step(state, submit)
            if decision is None:
                continue
            return decision
        item = state.items[state.index]
        _show_item(item, len(state.items), item["question_id"] in state.flags)
        click.echo(f"  (time left {format_remaining(int(left))})")
        action, value = _read_command(item)
        if not _apply_command(state, item, action, value):
            return False


def _submit_attempt(
    client: ApiClient, attempt: dict[str, Any], slug: str, submit: bool | None
) -> None:
    try:
        result = client.post(f"/attempts/{attempt['id']}/submit")
    except ApiError as exc:
        if exc.status == 409:
            _time_over(client, attempt["id"], slug)
            return
        raise click.ClickException(f"submit refused: {exc.body.get('message')}") from None
    _print_result(result)
    wants_review = submit is None and result["status"] == "submitted"
    if wants_review and click.confirm("Show the review now?", default=True):
        print_review(client, result, attempt["id"])
        return
    click.echo(f"Details: certprep quiz result {attempt['id']}")


@quiz.command("take")
@click.argument("slug")
@click.option("--submit/--no-submit", default=None, help="Submit at the end without asking.")
@api_options
def take(client: ApiClient, slug: str, submit: bool | None) -> None:
    """Take quiz SLUG: each answer is saved at once; run again to resume at the first
    unanswered question. At the answer prompt: n next, p previous, g N go to question N,
    f flag for review, s summary and submit, q save and leave."""
    status, attempt = client.request("POST", f"/quizzes/{slug}/attempts")
    verb = "resuming" if status == 200 else "started"
    click.echo(
        f"{verb} attempt {attempt['id']} of {attempt['quiz_title']}:"
        f" {len(attempt['items'])} questions, {format_remaining(attempt['remaining_seconds'])} left"
    )
    with contextlib.suppress(ApiError):
        rules = client.get(f"/quizzes/{slug}")
        click.echo(expiry_words(rules["expiry_policy"], rules["grace_minutes"]))
    click.echo(NAVIGATION_HELP)
    state = _TakeState(
        client,
        slug,
        attempt,
        _load_flags(attempt["id"]),
        attempt["remaining_seconds"],
        time.monotonic(),
        index=_first_unanswered(attempt["items"]),
    )
    if status == 200:
        click.echo(f"resuming at question {state.index + 1} (the first unanswered)")
    if _answer_questions(state, submit):
        _submit_attempt(client, attempt, slug, submit)


def print_review(client: ApiClient, attempt: dict[str, Any], attempt_id: int) -> None:
    """The review of a submitted attempt as the quiz allows: by domain, then per question
    the option texts, the learner's answer, the right answer, each option's why, the
    explanation and the source section."""
    review = client.get(f"/attempts/{attempt_id}/review")
    for name, bucket in review["domains"].items():
        click.echo(
            f"  {name:<26} {score_text(bucket['score'])}/{score_text(bucket['max_score'])}"
            f" ({score_text(bucket['percent'])} %)"
        )
    if review["level"] == "score_only":
        click.echo("Question details are not shown for this quiz (yet).")
    shown = {item["question_id"]: item for item in attempt["items"]}
    for entry in review["items"]:
        item = shown.get(entry["question_id"], entry)
        mark = "right" if entry["correct"] else "wrong"
        click.echo(
            f"\n{entry['position']}. [{mark}, {score_text(entry['score'])}/"
            f"{score_text(entry['max_score'])}]"
        )
        click.echo(f"   {entry['stem'].strip()}")
        why = {o["id"]: o for o in entry.get("option_feedback") or []}
        for option in item.get("options") or []:
            feedback = why.get(option["id"])
            marker = ""
            if feedback is not None:
                marker = " (correct)" if feedback["correct"] else ""
            click.echo(f"   - {option['text']}{marker}")
            if feedback is not None and feedback.get("why"):
                click.echo(f"       why: {feedback['why'].strip()}")
        answer = describe_response(item, entry["response"])
        click.echo(f"   your answer: {'; '.join(answer) if answer else '(none)'}")
        if "answer" in entry:
            click.echo(f"   right answer: {'; '.join(describe_response(item, entry['answer']))}")
        if "explanation" in entry:
            click.echo(f"   explanation: {entry['explanation'].strip()}")
        if entry.get("seed_section"):
            click.echo(f"   source section: {entry['seed_section']}")
        if entry.get("source"):
            click.echo(f"   read more: {entry['source']}")


@quiz.command("result")
@click.argument("attempt_id", type=int)
@api_options
def result(client: ApiClient, attempt_id: int) -> None:
    """Score of ATTEMPT_ID, and as much review as the quiz allows: option texts, your
    answer, the right answer, why each option is right or wrong, the explanation."""
    attempt = client.get(f"/attempts/{attempt_id}")
    if attempt["status"] == "in_progress":
        click.echo(
            f"attempt {attempt_id} is in progress,"
            f" {format_remaining(attempt['remaining_seconds'])} left"
            f" (continue: certprep quiz take {attempt['quiz_slug']})"
        )
        return
    _print_result(attempt)
    if attempt.get("close_reason") == "deadline":
        click.echo("Time ran out: the saved answers were submitted automatically.")
    elif attempt["status"] == "abandoned":
        click.echo("Time ran out before it was submitted: it scores nothing.")
    if attempt["status"] != "submitted":
        return
    print_review(client, attempt, attempt_id)


commands = [quiz]
