"""`certprep exam` against a live API with a real worker and the test simulator: list,
start (kubeconfig with every context written 0600), status, a node shell command,
submit with the per-task breakdown, result with the reference solutions."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from werkzeug.serving import make_server

from app.cli.exam import exam
from tests.fixtures.exams import ExamStack, small_exam

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]


@pytest.fixture
def api_url(
    exam_stack: ExamStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, exam_stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CERTPREP_CONFIG_DIR", str(tmp_path / "config"))
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def run(args: list[str], api: str, token: str) -> Any:
    return CliRunner().invoke(exam, [*args, "--api", api, "--token", token])


def test_a_candidate_takes_an_exam_from_the_terminal(
    exam_stack: ExamStack, api_url: str, make_user: Any, tmp_path: Path
) -> None:
    small_exam()
    _, token = make_user()
    listed = run(["list"], api_url, token)
    assert listed.exit_code == 0, listed.output
    assert "cka-mock-1" in listed.output and "120 min" in listed.output

    started = run(["start", "tiny-mock"], api_url, token)
    assert started.exit_code == 0, started.output
    assert "context k8s-x: nodes controlplane, node01" in started.output
    assert "Task 1 (70 %, Cluster Architecture, context k8s-x): answer" in started.output
    export = next(line for line in started.output.splitlines() if line.startswith("export"))
    config = Path(export.split("=", 1)[1])
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [c["name"] for c in yaml.safe_load(config.read_text())["contexts"]] == ["k8s-x"]
    attempt_id = int(re.search(r"attempt (\d+) is running", started.output).group(1))

    status = run(["status"], api_url, token)
    assert status.exit_code == 0, status.output
    assert f"attempt {attempt_id} of tiny-mock: running, time left 1" in status.output

    shell = run(
        ["ssh", str(attempt_id), "k8s-x", "node01", "-c", "systemctl is-active kubelet"],
        api_url,
        token,
    )
    assert shell.exit_code == 0 and "active" in shell.output.splitlines()

    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), "create", "namespace", "done"],
        env={"KUBECONFIG": str(config), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    submitted = run(["submit", str(attempt_id), "--yes"], api_url, token)
    assert submitted.exit_code == 0, submitted.output
    assert "missed: ConfigMap default/answer has value=42" in submitted.output
    assert "score 30 % (pass mark 66 %): FAIL" in submitted.output

    result = run(["result", str(attempt_id), "--solutions"], api_url, token)
    assert result.exit_code == 0, result.output
    assert "kubectl create configmap answer --from-literal=value=42" in result.output
    again = run(["start", "no-such-exam"], api_url, token)
    assert again.exit_code != 0 and "not found" in again.output
