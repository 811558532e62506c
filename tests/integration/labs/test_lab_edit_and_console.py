"""Fixing a broken-scheduler lab two ways, with the real worker and a live simulator:
`certprep lab edit` (an external $EDITOR edits the node file) and the web console
(the page's API calls with the browser session: read, write, grade). Also `certprep lab
sessions` and the session-limit message that names CLI commands."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import DEFAULT_PASSWORD
from tests.fixtures.lab_cli import run

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "pending-pods-control-plane-1"
MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DATA = re.compile(r'<script type="application/json" id="console-data">(.*?)</script>', re.S)

FIXING_EDITOR = """\
import sys
path = sys.argv[1]
text = open(path).read()
open(path, "w").write(text.replace("--kubeconfigg=", "--kubeconfig="))
"""


def grade_until_done(client: Any, session_id: int, headers: dict[str, str]) -> dict[str, Any]:
    requested = client.post(f"/api/v1/lab-sessions/{session_id}/grades", headers=headers)
    assert requested.status_code == 202, requested.get_json()
    grade_id = requested.get_json()["id"]
    end = time.monotonic() + 120
    while time.monotonic() < end:
        grade = client.get(
            f"/api/v1/lab-sessions/{session_id}/grades/{grade_id}?wait=20"
        ).get_json()
        if grade["status"] in ("done", "failed"):
            return grade
    pytest.fail("grade not done in time")


def test_lab_edit_opens_the_editor_and_writes_back(
    live_lab_api: str, lab_stack: Any, make_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    _, token = make_user()
    started = run(["start", SLUG], live_lab_api, token)
    assert started.exit_code == 0, started.output
    session_id = int(re.search(r"session (\d+) is ready", started.output).group(1))

    listed = run(["sessions"], live_lab_api, token)
    assert listed.exit_code == 0, listed.output
    assert re.search(rf"^\s+{session_id}\s+ready\s+.*{SLUG}$", listed.output, re.M), listed.output

    editor = tmp_path / "editor.py"
    editor.write_text(FIXING_EDITOR)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    edited = run(["edit", str(session_id), "controlplane", MANIFEST], live_lab_api, token)
    assert edited.exit_code == 0, edited.output
    assert re.search(rf"{MANIFEST} on controlplane: saved \(\d+ bytes\)", edited.output)
    shown = run(
        ["ssh", str(session_id), "controlplane", "-c", f"cat {MANIFEST}"], live_lab_api, token
    )
    assert "--kubeconfig=" in shown.output and "--kubeconfigg=" not in shown.output
    # Nothing left behind locally.
    assert not list((tmp_path / "config" / "labs").rglob("kube-scheduler.yaml"))
    # A second edit with no change writes nothing.
    unchanged = run(["edit", str(session_id), "controlplane", MANIFEST], live_lab_api, token)
    assert "no change" in unchanged.output

    graded = run(["grade", str(session_id)], live_lab_api, token)
    assert re.search(r"^manifest-fixed\s+pass", graded.output, re.M), graded.output

    # At the session limit the message names the commands to use, not REST paths.
    run(["start", SLUG], live_lab_api, token)
    refused = run(["start", SLUG], live_lab_api, token)
    assert refused.exit_code == 1
    assert "certprep lab stop SESSION" in refused.output and "/lab-sessions" not in refused.output
    for stopped in re.findall(r"^\s+(\d+)\s", run(["sessions"], live_lab_api, token).output, re.M):
        run(["stop", stopped], live_lab_api, token)


def test_web_console_reads_writes_and_grades_with_the_browser_session(
    lab_stack: Any, make_user: Any
) -> None:
    user, _ = make_user(email="console@example.test")
    browser = lab_stack.app.test_client()
    token = CSRF.search(browser.get("/login").get_data(as_text=True)).group(1)
    logged_in = browser.post(
        "/login",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert logged_in.status_code == 302
    page = browser.get(f"/labs/{SLUG}").get_data(as_text=True)
    assert "kubeconfigg" not in page
    started = browser.post(f"/labs/{SLUG}/start", data={"csrf_token": CSRF.search(page).group(1)})
    assert started.status_code == 302
    session_id = int(started.headers["Location"].rsplit("/", 1)[1])
    end = time.monotonic() + 60
    while time.monotonic() < end:
        status = browser.get(f"/api/v1/lab-sessions/{session_id}").get_json()["status"]
        if status == "ready":
            break
        time.sleep(0.2)
    console = browser.get(f"/lab-sessions/{session_id}").get_data(as_text=True)
    data = DATA.search(console).group(1)
    assert '"status": "ready"' in data and "controlplane" in data
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', console).group(1)
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/v1/lab-sessions/{session_id}/nodes/controlplane/files?path={MANIFEST}"
    content = browser.get(url).get_json()["content"]
    assert "--kubeconfigg=" in content
    # Without the page's CSRF token the session cookie cannot change anything.
    assert browser.put(url, json={"content": "x"}).status_code == 403
    fixed = content.replace("--kubeconfigg=", "--kubeconfig=")
    assert browser.put(url, json={"content": fixed}, headers=headers).status_code == 200
    grade = grade_until_done(browser, session_id, headers)
    checks = {c["id"]: c for c in grade["checks"]}
    assert checks["manifest-fixed"]["passed"] is True
    stop_token = CSRF.search(console).group(1)
    stopped = browser.post(f"/lab-sessions/{session_id}/stop", data={"csrf_token": stop_token})
    assert stopped.status_code == 302
    assert "has ended" in browser.get(f"/lab-sessions/{session_id}").get_data(as_text=True)
