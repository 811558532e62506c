"""Headless Chromium uses the exam attempt page's terminal (xterm.js over the WebSocket,
a real worker, the test simulator and the real kubectl), with the page's own
Content-Security-Policy: the contexts, `kubectl config use-context`, `ssh` into the
current context's node, and `vi` opening the page's editor whose Save writes the node
file back. A screenshot goes to test-output/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_terminal_browser import screen, type_line
from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.browser import serving
from tests.fixtures.exams import ExamStack
from tests.fixtures.learner_browser import shot
from tests.integration.exams.test_exam_terminal import SLUG, two_context_exam

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.kubectl]

EMAIL = "exam-terminal@example.test"


def test_exam_terminal_switches_contexts_and_edits_a_node_file(
    exam_stack: ExamStack, browser: Any, make_user: Any
) -> None:
    two_context_exam()
    make_user("learner", email=EMAIL)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    with serving(exam_stack.app) as base:
        page.goto(f"{base}/exams/{SLUG}")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/exams/{SLUG}")
        page.get_by_role("button", name=re.compile("Start")).click()
        page.wait_for_url(re.compile(r".*/exam-attempts/\d+$"))
        page.wait_for_selector("#terminal .xterm-rows", timeout=90_000)
        page.locator("#terminal").scroll_into_view_if_needed()
        page.wait_for_function(
            "() => document.getElementById('terminal-state').textContent === 'Connected'"
        )
        assert "contexts k8s-x, k8s-y" in type_line(page, "k config current-context", "k8s-x\n")
        type_line(page, "kubectl config use-context k8s-y", 'Switched to context "k8s-y".')
        type_line(page, "ssh node02", "root@node02:~#")
        type_line(page, "vi /root/notes.yaml", "in the editor")
        page.wait_for_function("() => !document.getElementById('file-content').disabled")
        assert page.locator("#file-title").inner_text() == "/root/notes.yaml on node02 (k8s-y)"
        page.get_by_label("File content").fill("answer: 42\n")
        page.get_by_role("button", name="Save").click()
        page.wait_for_function(
            "() => document.getElementById('file-state').textContent.startsWith('Saved ')"
        )
        page.locator("#terminal").scroll_into_view_if_needed()
        assert "answer: 42" in type_line(page, "cat /root/notes.yaml", "answer: 42")
        shot(page, "exam-terminal")
        assert "root:x:0" not in screen(page)
    context.close()
    assert not problems, problems
