"""How `certprep up` runs its children: output into `logs/<role>.log` (also on the
terminal with --verbose), and a failed start-up step shows the end of its log."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from app.cli.logs import log_file
from app.cli.serve import _run_step, _spawn

SCRIPT = "import sys\nprint('out line')\nprint('err line', file=sys.stderr)\nsys.exit({code})"


def _argv(code: int = 0) -> list[str]:
    return [sys.executable, "-c", SCRIPT.format(code=code)]


def test_quiet_child_writes_only_to_its_private_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = log_file(tmp_path, "web")
    process, copier = _spawn("web", _argv(), dict(os.environ), log, verbose=False)
    assert process.wait(timeout=30) == 0 and copier is None
    text = log.read_text()
    assert text.startswith("===== certprep up: web starting at ")
    assert "out line\n" in text and "err line\n" in text
    assert capsys.readouterr().out == ""
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    # A restart appends, with a new header.
    process, _ = _spawn("web", _argv(), dict(os.environ), log, verbose=False)
    process.wait(timeout=30)
    assert log.read_text().count("===== certprep up: web starting at ") == 2


def test_verbose_child_is_copied_to_the_terminal_with_its_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = log_file(tmp_path, "worker")
    process, copier = _spawn("worker", _argv(), dict(os.environ), log, verbose=True)
    assert process.wait(timeout=30) == 0 and copier is not None
    copier.join(timeout=10)
    shown = capsys.readouterr().out.splitlines()
    assert "worker | out line" in shown and "worker | err line" in shown
    assert "out line\n" in log.read_text()


def test_a_failed_step_shows_the_end_of_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_step("migrate", _argv(code=3), dict(os.environ), tmp_path, verbose=False) is False
    err = capsys.readouterr().err
    assert "  migrate | err line" in err
    assert "failed (exit 3); log: " in err and str(log_file(tmp_path, "migrate")) in err
    assert _run_step("content", _argv(), dict(os.environ), tmp_path, verbose=False) is True
