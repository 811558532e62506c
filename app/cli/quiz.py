"""`certprep quiz list|take|result`: the learner's side of quizzes, through the REST API."""

from __future__ import annotations

import time
from typing import Any

import click

from app.cli.login import ApiClient, ApiError, api_options


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


def _show_item(item: dict[str, Any], total: int) -> None:
    click.echo("")
    click.secho(
        f"Question {item['position']}/{total} ({item['type'].replace('_', ' ')},"
        f" {item['points']:g} point(s))",
        bold=True,
    )
    click.echo(item["stem"].rstrip())
    for key in ("options", "items"):
        for entry in item.get(key) or []:
            click.echo(f"  [{entry['id']}] {entry['text']}")
    if item.get("choices"):
        click.echo("  choices:")
        for entry in item["choices"]:
            click.echo(f"    [{entry['id']}] {entry['text']}")
    if item.get("unit"):
        click.echo(f"  (unit: {item['unit']})")
    if item.get("response") is not None:
        click.echo(f"  saved: {item['response']}")


def _hint(item: dict[str, Any]) -> str:
    return {
        "single": "option id",
        "multiple": "option ids, comma-separated",
        "ordering": "item ids in order, comma-separated",
        "true_false": "true/false",
        "numeric": "a number",
        "short_answer": "your answer",
    }.get(item["type"], "answer")


def _ask(item: dict[str, Any]) -> dict[str, Any] | None:
    """Prompt until the input parses; None keeps the saved response (empty input)."""
    if item["type"] == "matching":
        matches = dict((item.get("response") or {}).get("matches") or {})
        for prompt in item["prompts"]:
            current = matches.get(prompt["id"], "")
            chosen = click.prompt(
                f"  {prompt['text']} -> choice id", default=current, show_default=bool(current)
            ).strip()
            if chosen:
                matches[prompt["id"]] = chosen
        return {"matches": matches} if matches else None
    while True:
        text = click.prompt(
            f"  answer ({_hint(item)}; Enter to skip)", default="", show_default=False
        )
        if not text.strip():
            return None
        try:
            return parse_answer(item, text)
        except click.BadParameter as exc:
            click.echo(f"  {exc.message}")


def _print_result(attempt: dict[str, Any]) -> None:
    result = attempt.get("result")
    if attempt["status"] == "abandoned" or not result:
        click.echo(f"attempt {attempt['id']}: {attempt['status']}")
        return
    verdict = "PASSED" if result["passed"] else "not passed"
    click.secho(
        f"attempt {attempt['id']}: {result['score']:g}/{result['max_score']:g}"
        f" ({result['percent']:g} %) {verdict}",
        bold=True,
    )


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


@quiz.command("take")
@click.argument("slug")
@click.option("--submit/--no-submit", default=None, help="Submit at the end without asking.")
@api_options
def take(client: ApiClient, slug: str, submit: bool | None) -> None:
    """Take quiz SLUG: each answer is saved at once; run again to resume."""
    status, attempt = client.request("POST", f"/quizzes/{slug}/attempts")
    verb = "resuming" if status == 200 else "started"
    click.echo(
        f"{verb} attempt {attempt['id']} of {attempt['quiz_title']}:"
        f" {len(attempt['items'])} questions, {format_remaining(attempt['remaining_seconds'])} left"
    )
    total = len(attempt["items"])
    # The server's remaining time, counted down locally between answers.
    remaining, measured_at = attempt["remaining_seconds"], time.monotonic()
    for item in attempt["items"]:
        left = remaining - (time.monotonic() - measured_at)
        _show_item(item, total)
        click.echo(f"  (time left {format_remaining(int(left))})")
        response = _ask(item)
        if response is None:
            continue
        try:
            saved = client.put(
                f"/attempts/{attempt['id']}/responses/{item['question_id']}",
                json={"response": response},
            )
        except ApiError as exc:
            if exc.status == 409:
                click.echo(f"  not saved: {exc.body.get('message')}")
                break
            if exc.status == 422:
                click.echo(f"  not saved: {exc.message}")
                continue
            raise
        remaining, measured_at = saved["remaining_seconds"], time.monotonic()
        click.echo(f"  saved. time left {format_remaining(remaining)}")
    if submit is None:
        submit = click.confirm("Submit the attempt now?", default=False)
    if not submit:
        click.echo(f"Saved. Resume with: certprep quiz take {slug}")
        return
    try:
        result = client.post(f"/attempts/{attempt['id']}/submit")
    except ApiError as exc:
        raise click.ClickException(f"submit refused: {exc.body.get('message')}") from None
    _print_result(result)
    click.echo(f"Details: certprep quiz result {attempt['id']}")


@quiz.command("result")
@click.argument("attempt_id", type=int)
@api_options
def result(client: ApiClient, attempt_id: int) -> None:
    """Score of ATTEMPT_ID, and as much review as the quiz allows."""
    attempt = client.get(f"/attempts/{attempt_id}")
    if attempt["status"] == "in_progress":
        click.echo(
            f"attempt {attempt_id} is in progress,"
            f" {format_remaining(attempt['remaining_seconds'])} left"
        )
        return
    _print_result(attempt)
    if attempt["status"] != "submitted":
        return
    review = client.get(f"/attempts/{attempt_id}/review")
    for name, bucket in review["domains"].items():
        click.echo(
            f"  {name:<26} {bucket['score']:g}/{bucket['max_score']:g} ({bucket['percent']:g} %)"
        )
    if review["level"] == "score_only":
        click.echo("Question details are not shown for this quiz (yet).")
    for entry in review["items"]:
        mark = "right" if entry["correct"] else "wrong"
        click.echo(f"\n{entry['position']}. [{mark}, {entry['score']:g}/{entry['max_score']:g}]")
        click.echo(f"   {entry['stem'].strip()}")
        click.echo(f"   your answer: {entry['response']}")
        if "answer" in entry:
            click.echo(f"   right answer: {entry['answer']}")
        if "explanation" in entry:
            click.echo(f"   why: {entry['explanation'].strip()}")


commands = [quiz]
