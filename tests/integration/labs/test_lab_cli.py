"""`certprep lab list|start|grade|ssh|stop` against the API served over HTTP, with the real
worker and a live simulator."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from app.cli.lab import format_grade
from tests.fixtures.app import bearer
from tests.fixtures.lab_cli import run

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "rbac-exact-permissions"


def test_start_grade_and_stop_from_the_terminal(
    live_lab_api: str, lab_stack: Any, make_user: Any, tmp_path: Path
) -> None:
    _, token = make_user()
    listed = run(["list"], live_lab_api, token)
    assert listed.exit_code == 0 and SLUG in listed.output

    started = run(["start", SLUG], live_lab_api, token)
    assert started.exit_code == 0, started.output
    match = re.search(r"^export KUBECONFIG=(\S+)$", started.output, re.MULTILINE)
    assert match, started.output
    config = Path(match.group(1))
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "provisioning" in started.output and "Task 1:" in started.output
    session_id = int(re.search(r"session (\d+) is ready", started.output).group(1))

    kubectl = Path(sys.executable).parent / "kubectl"
    roles = subprocess.run(
        [str(kubectl), "-n", "dev", "get", "roles", "-o", "name"],
        env={"KUBECONFIG": str(config), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert roles.stdout.strip() == "role.rbac.authorization.k8s.io/pod-reader", roles.stderr

    graded = run(["grade", str(session_id)], live_lab_api, token)
    assert graded.exit_code == 0, graded.output
    # Only the command's own lines (the server's log lines share the captured output).
    lines = [line for line in graded.output.splitlines() if " [info " not in line]
    start = next(i for i, line in enumerate(lines) if line.startswith("CHECK "))
    table = lines[start:]
    assert len(table) == 1 + 4 + 1
    assert re.search(r"^role-exact-rules\s+FAIL\s+0/3\s+Role dev/pod-reader", graded.output, re.M)
    assert lines[-1] == "0/10 points, 0 %"

    stopped = run(["stop", str(session_id)], live_lab_api, token)
    assert stopped.exit_code == 0 and f"session {session_id}: ended" in stopped.output


def test_ssh_runs_node_commands(live_lab_api: str, lab_stack: Any, make_user: Any) -> None:
    _, token = make_user()
    started = run(["start", SLUG], live_lab_api, token)
    assert started.exit_code == 0, started.output
    session_id = int(re.search(r"session (\d+) is ready", started.output).group(1))
    probe = requests.post(
        f"{live_lab_api}/api/v1/lab-sessions/{session_id}/nodes/controlplane/exec",
        json={"command": "ls /etc/kubernetes/manifests"},
        headers=bearer(token),
        timeout=30,
    )
    assert probe.status_code == 200 and "kube-scheduler.yaml" in probe.json()["stdout"]

    one = run(
        ["ssh", str(session_id), "controlplane", "-c", "ls /etc/kubernetes/manifests"],
        live_lab_api,
        token,
    )
    assert one.exit_code == 0 and "kube-apiserver.yaml" in one.output
    shell = run(
        ["ssh", str(session_id), "controlplane"],
        live_lab_api,
        token,
        input="ls /etc/kubernetes/manifests\nexit\n",
    )
    assert shell.exit_code == 0 and "kube-scheduler.yaml" in shell.output


def test_grade_table_shows_hints_and_the_cap() -> None:
    lines = format_grade(
        {
            "earned": 2,
            "possible": 4,
            "percentage": 20,
            "capped": True,
            "checks": [
                {
                    "id": "a",
                    "passed": True,
                    "earned": 2,
                    "points": 2,
                    "message": "A ok",
                    "hint": None,
                },
                {
                    "id": "bb",
                    "passed": False,
                    "earned": 0,
                    "points": 2,
                    "message": "B ok",
                    "hint": "try b",
                    "error": False,
                },
            ],
        }
    )
    assert lines == [
        "CHECK  RESULT  POINTS   MESSAGE",
        "a      pass    2/2      A ok",
        "bb     FAIL    0/2      B ok",
        "       hint: try b",
        "2/4 points, 20 % (capped: a shortcut was detected)",
    ]
