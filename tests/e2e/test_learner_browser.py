"""Headless Chromium (Debian's, driven by Playwright) against a live server: a learner
logs in at /login and takes a whole quiz with every item type (drag and keyboard
ordering, matching selects, numeric with unit), navigates, flags, reloads and resumes at
the first unanswered question, watches the countdown, submits from the summary and reads
the review. Then a 390 px wide pass and a keyboard-only pass. axe-core (vendored, injected
by the test only) must find no serious or critical violation on any page. Screenshots go
to test-output/ (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.builders import CORRECT
from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.learner_browser import axe_serious, new_page, shot
from tests.fixtures.quizzes import ManualClock

pytestmark = pytest.mark.browser

EMAIL = "ada@example.test"


def log_in(page: Any, base: str, path: str) -> None:
    page.goto(base + path)
    assert "/login?next=" in page.url
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + path)


def player_items(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("JSON.parse(document.getElementById('player-data').textContent).items")


def current_index(page: Any) -> int:
    heading = page.locator("#q-heading").inner_text()
    return int(re.match(r"Question (\d+) of", heading).group(1)) - 1


def text_of(entries: list[dict[str, str]], ident: str) -> str:
    return next(e["text"] for e in entries if e["id"] == ident)


def answer_with_mouse(page: Any, item: dict[str, Any], wait_saved: bool = True) -> None:
    """Answer the shown question correctly with the mouse (and one drag)."""
    key = CORRECT[item["question_id"]]
    kind = item["type"]
    if kind == "single":
        page.get_by_label(text_of(item["options"], key["choice"]), exact=True).check()
    elif kind == "multiple":
        for choice in key["choices"]:
            page.get_by_label(text_of(item["options"], choice), exact=True).check()
    elif kind == "true_false":
        page.get_by_label("True", exact=True).check()
    elif kind == "ordering":
        # First a drag: the item that belongs first is dragged onto the first place...
        first = text_of(item["items"], key["order"][0])
        rows = page.locator(".order-item")
        rows.filter(has_text=first).drag_to(rows.nth(0))
        page.wait_for_function(
            "t => document.querySelector('.order-item .order-text').textContent === t", arg=first
        )
        # ...then the arrow buttons for the rest.
        for target, ident in enumerate(key["order"]):
            text = text_of(item["items"], ident)
            texts = page.locator(".order-item .order-text").all_inner_texts()
            for _ in range(texts.index(text) - target):
                page.get_by_role("button", name=f"Move {text} up").click()
        assert page.locator(".order-item .order-text").all_inner_texts() == [
            text_of(item["items"], i) for i in key["order"]
        ]
    elif kind == "matching":
        for prompt, choice in key["matches"].items():
            page.get_by_label(text_of(item["prompts"], prompt), exact=True).select_option(
                label=text_of(item["choices"], choice)
            )
    elif kind == "short_answer":
        page.get_by_label("Your answer").fill(key["text"])
        page.get_by_label("Your answer").press("Tab")
    elif kind == "numeric":
        assert page.locator(".unit").inner_text() == item["unit"]
        page.get_by_label("Your answer (a number)").fill(str(key["value"]))
        page.get_by_label("Your answer (a number)").press("Tab")
    if wait_saved:
        wait_saved_state(page)


def wait_saved_state(page: Any) -> None:
    page.wait_for_function(
        "() => document.getElementById('save-state').textContent === 'All answers saved'"
    )


def test_learner_takes_a_quiz_in_chromium(
    live_server: str, browser: Any, make_quiz: Callable, make_user: Callable
) -> None:
    make_quiz(attempts_allowed=0)
    make_user("learner", email=EMAIL)
    page = new_page(browser)
    violations: dict[str, list[str]] = {}

    log_in(page, live_server, "/quizzes/sample-quiz")
    violations["quiz"] = axe_serious(page)
    shot(page, "quiz")
    start = page.get_by_role("button", name="Start attempt 1")
    page.get_by_label(re.compile("I understand that starting counts as attempt 1")).check()
    start.click()
    page.wait_for_url(re.compile(r".*/attempts/\d+$"))
    attempt_url = page.url
    items = player_items(page)
    assert len(items) == 7

    # The countdown runs from the server's remaining time (20 minutes).
    first = page.locator("#countdown-value").inner_text()
    assert re.fullmatch(r"(19:5\d|20:00)", first), first
    page.wait_for_function(
        "t => document.getElementById('countdown-value').textContent !== t", arg=first
    )
    assert "submitted automatically" in page.locator("#expiry-note").inner_text()

    # Three answers, a flag, a jump and back, then a reload: resume at question 4.
    for index in range(3):
        assert current_index(page) == index
        answer_with_mouse(page, items[index])
        if index == 1:
            page.get_by_role("button", name="Flag for review").click()
        page.locator("#next-button").click()
    page.locator("#navigator .nav-item").nth(5).click()
    assert current_index(page) == 5
    page.get_by_role("button", name="Previous").click()
    assert current_index(page) == 4
    violations["player"] = axe_serious(page)
    shot(page, "player")
    page.reload()
    assert current_index(page) == 3
    nav = page.locator("#navigator .nav-item")
    assert "answered" in nav.nth(0).get_attribute("class")
    assert "flagged" in nav.nth(1).get_attribute("class")
    assert "answered" not in nav.nth(3).get_attribute("class")

    # Offline: the answer waits and is retried; back online it is saved.
    page.context.set_offline(True)
    answer_with_mouse(page, items[3], wait_saved=False)
    page.wait_for_function(
        "() => document.getElementById('save-state').textContent.startsWith('Not saved')"
    )
    assert "retrying in" in page.locator("#save-state").inner_text()
    page.context.set_offline(False)
    wait_saved_state(page)
    page.locator("#next-button").click()
    for index in range(4, 7):
        answer_with_mouse(page, items[index])
        page.locator("#next-button").click()
    # "Review and submit" on the last question opens the summary.
    assert page.locator("#summary").is_visible()
    counts = page.locator("#summary-counts").inner_text()
    assert (
        "Answered 7 of 7" in counts
        and "Unanswered: 0" in counts
        and "Flagged for review: 1" in counts
    )
    violations["summary"] = axe_serious(page)
    shot(page, "summary")
    page.get_by_role("button", name="Submit attempt").click()
    page.wait_for_url(attempt_url)
    assert "100 %" in page.locator("#result").inner_text()
    review = page.locator("#review").inner_text()
    assert "Why: SECRET-WHY-FOLLOWER" in review and "SECRET-EXPLANATION-NUMERIC" in review
    assert "Right answer: 2 members" in review
    violations["review"] = axe_serious(page)
    shot(page, "review")

    page.goto(live_server + "/")
    assert "Sample quiz" in page.locator("#results").inner_text()
    violations["home"] = axe_serious(page)
    shot(page, "home")
    page.goto(live_server + "/me/history")
    violations["history"] = axe_serious(page)
    shot(page, "history")
    page.context.close()
    assert not any(violations.values()), violations


def tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching SELECTOR has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def choose_radio_with_keyboard(page: Any, index: int, wanted: str) -> None:
    """A radio group is one Tab stop; the arrow keys move (and select) within it."""
    keys = page.keyboard
    tab_to(page, f'input[name="q{index + 1}"]')
    for _ in range(8):
        if page.evaluate("() => document.activeElement.value") == wanted:
            keys.press("Space")
            break
        keys.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.checked")


def order_with_keyboard(page: Any, item: dict[str, Any], order: list[str]) -> None:
    """Move each item up with its button until the list is in ORDER."""
    for target, ident in enumerate(order):
        text = text_of(item["items"], ident)
        while True:
            texts = page.locator(".order-item .order-text").all_inner_texts()
            if texts.index(text) == target:
                break
            tab_to(page, f'button[aria-label="Move {text} up"]')
            page.keyboard.press("Enter")


def answer_with_keyboard(page: Any, item: dict[str, Any], index: int) -> None:
    """Answer ITEM (question INDEX + 1) correctly with the keyboard alone."""
    keys = page.keyboard
    key = CORRECT[item["question_id"]]
    kind = item["type"]
    if kind == "multiple":
        for option in item["options"]:
            if option["id"] in key["choices"]:
                tab_to(page, f'input[value="{option["id"]}"]')
                keys.press("Space")
    elif kind in ("single", "true_false"):
        wanted = key["choice"] if kind == "single" else "true"
        choose_radio_with_keyboard(page, index, wanted)
    elif kind == "ordering":
        order_with_keyboard(page, item, key["order"])
    elif kind == "matching":
        for prompt, choice in key["matches"].items():
            tab_to(page, f"#q{index + 1}-{prompt}")
            position = [c["id"] for c in item["choices"]].index(choice) + 1
            for _ in range(position):
                keys.press("ArrowDown")
    elif kind in ("short_answer", "numeric"):
        tab_to(page, f"#q{index + 1}-answer")
        keys.type(str(key.get("text", key.get("value"))))


def take_on_narrow_screen(browser: Any, live_server: str) -> None:
    """390 px wide: nothing wider than the screen, the countdown warns at 5 minutes."""
    phone = new_page(browser, width=390, height=844)
    log_in(phone, live_server, "/quizzes/sample-quiz")
    phone.get_by_label(re.compile("I understand")).check()
    phone.get_by_role("button", name="Start attempt 1").click()
    phone.wait_for_url(re.compile(r".*/attempts/\d+$"))
    items = player_items(phone)
    phone.wait_for_function("() => document.getElementById('countdown').classList.contains('warn')")
    assert phone.locator("#time-warning").inner_text() == "5 minutes left."
    for index in range(7):
        answer_with_mouse(phone, items[index])
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"question {index + 1} is {width} px wide"
        if index == 3:
            shot(phone, "player-390")
        phone.locator("#next-button").click()
    shot(phone, "summary-390")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.get_by_role("button", name="Submit attempt").click()
    phone.wait_for_selector("#result")
    shot(phone, "review-390")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.context.close()


def take_with_keyboard_only(browser: Any, live_server: str) -> None:
    """A second attempt from the quiz page to the review, with the keyboard alone."""
    page = new_page(browser)
    keys = page.keyboard
    page.goto(live_server + "/login?next=/quizzes/sample-quiz")
    tab_to(page, "#email")
    keys.type(EMAIL)
    tab_to(page, "#password")
    keys.type(DEFAULT_PASSWORD)
    keys.press("Enter")
    page.wait_for_url(live_server + "/quizzes/sample-quiz")
    tab_to(page, "#confirm")
    keys.press("Space")
    tab_to(page, "#start-form button")
    keys.press("Enter")
    page.wait_for_url(re.compile(r".*/attempts/\d+$"))
    items = player_items(page)
    for index, item in enumerate(items):
        assert current_index(page) == index
        answer_with_keyboard(page, item, index)
        tab_to(page, "#next-button")
        keys.press("Enter")
        page.wait_for_function(
            "() => document.getElementById('save-state').textContent === 'All answers saved'"
        )
    assert "Unanswered: 0" in page.locator("#summary-counts").inner_text()
    tab_to(page, "#submit-button")
    keys.press("Enter")
    page.wait_for_selector("#result")
    assert "100 %" in page.locator("#result").inner_text()
    page.context.close()


def test_narrow_screen_and_keyboard_only(
    live_server: str, browser: Any, make_quiz: Callable, make_user: Callable
) -> None:
    make_quiz(attempts_allowed=0, time_limit_minutes=5)
    make_user("learner", email=EMAIL)
    take_on_narrow_screen(browser, live_server)
    take_with_keyboard_only(browser, live_server)


def test_countdown_warns_and_the_expiry_policy_applies_at_zero(
    live_server: str, browser: Any, make_quiz: Callable, make_user: Callable, clock: ManualClock
) -> None:
    make_quiz(attempts_allowed=0)
    make_user("learner", email=EMAIL)
    page = new_page(browser)
    log_in(page, live_server, "/quizzes/sample-quiz")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Start attempt 1").click()
    page.wait_for_url(re.compile(r".*/attempts/\d+$"))
    answer_with_mouse(page, player_items(page)[0])
    # Server time moves to 6 s before the deadline; the page takes it from the server.
    clock.advance(minutes=19, seconds=54)
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('countdown').classList.contains('danger')"
    )
    assert page.locator("#time-warning").inner_text() == "1 minute left."
    page.wait_for_function(
        "() => document.getElementById('time-warning').textContent.startsWith('Time is up.')",
        timeout=15_000,
    )
    assert "submitted automatically" in page.locator("#expiry-note").inner_text()
    assert page.evaluate("document.querySelector('fieldset.answer').disabled")
    clock.advance(seconds=10)
    # The page reloads by itself and shows what the policy did.
    page.wait_for_selector("#result", timeout=15_000)
    assert "Submitted automatically when the time ran out." in page.locator("#result").inner_text()
    page.context.close()
