"""Headless Chromium against a live server with the real worker and simulator: a learner
starts the broken-scheduler lab from its page, waits on the console while the cluster is
prepared, lists the manifests folder, opens the scheduler's manifest in the editor,
fixes it, saves it to the node and grades the cluster to 100 %; the console stays usable
390 px wide and axe-core finds no serious violation. Screenshots go to test-output/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.lab_console import cluster_clock, grade_until_full, wait_pod_ready
from tests.fixtures.learner_browser import axe_serious, new_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.kubectl]

SLUG = "pending-pods-control-plane-1"
EMAIL = "console@example.test"


def test_fix_the_scheduler_in_the_console(
    lab_server: str,
    lab_stack: Any,
    browser: Any,
    make_user: Any,
) -> None:
    make_user("learner", email=EMAIL)
    page = new_page(browser)
    page.goto(f"{lab_server}/labs/{SLUG}")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{lab_server}/labs/{SLUG}")
    assert "kubeconfigg" not in page.content()
    page.get_by_role("button", name="Start the lab").click()
    page.wait_for_url(re.compile(r".*/lab-sessions/\d+$"))
    # The page refreshes itself until the cluster is ready.
    page.wait_for_selector("#file-content", timeout=90_000)
    assert re.fullmatch(r"\d+:\d\d", page.locator("#lab-countdown-value").inner_text())

    page.get_by_role("button", name="List folder").click()
    page.get_by_role("button", name="kube-scheduler.yaml").click()
    editor = page.get_by_label("File content")
    page.wait_for_function("() => !document.getElementById('file-content').disabled")
    text = editor.input_value()
    assert "--kubeconfigg=" in text
    assert "kube-scheduler" in page.locator("#file-highlight .y-value").all_inner_texts()[1:][
        0
    ] or (page.locator("#file-highlight .y-key").count() > 5)
    editor.fill(text.replace("--kubeconfigg=", "--kubeconfig="))
    assert page.locator("#file-state").inner_text() == "Unsaved changes"
    page.get_by_role("button", name="Save to the node").click()
    page.wait_for_function(
        "() => document.getElementById('file-state').textContent.startsWith('Saved ')"
    )
    violations = axe_serious(page)
    shot(page, "console")

    # The test simulator's clusters only move when a test ticks them: let the kubelet
    # restart the scheduler and the scheduler place the pods.
    session_id = int(page.url.rsplit("/", 1)[1])
    with cluster_clock(lab_stack, session_id):
        wait_pod_ready(lab_stack, session_id, "kube-system", "kube-scheduler-controlplane")
        percent = grade_until_full(page)
    assert percent.endswith(": 100 %"), page.locator("#checks").inner_text()
    assert page.locator("#checks li.pass").count() == page.locator("#checks li").count()
    shot(page, "console-graded")

    phone = new_page(browser, width=390, height=844)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(page.url)
    phone.wait_for_selector("#grade-percent")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "console-390")
    phone.context.close()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop the session").click()
    page.wait_for_selector("#session-ended")
    page.context.close()
    assert not violations, violations
