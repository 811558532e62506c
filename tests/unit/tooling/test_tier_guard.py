"""The unit tier's guard (tests/unit/conftest.py) errors a test that belongs elsewhere:
a copy of it runs over a probe module in a throw-away tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT

ROOT_CONFTEST = """
import pytest


def pytest_configure(config):
    for name in ("slow", "kubectl", "browser"):
        config.addinivalue_line("markers", f"{name}: probe")


@pytest.fixture
def kubectl():
    return "kubectl"
"""

PROBE = """
import pytest


def test_fast():
    assert True


@pytest.mark.slow
def test_marked_slow():
    assert True


@pytest.mark.kubectl
def test_marked_kubectl():
    assert True


def test_uses_kubectl(kubectl):
    assert kubectl
"""


def test_the_guard_fails_slow_and_kubectl_tests_in_the_unit_tier(tmp_path: Path) -> None:
    unit = tmp_path / "tests" / "unit"
    unit.mkdir(parents=True)
    (tmp_path / "tests" / "conftest.py").write_text(ROOT_CONFTEST)
    shutil.copy(PROJECT_ROOT / "tests" / "unit" / "conftest.py", unit / "conftest.py")
    (unit / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # Third-party plugins are not needed here and cost seconds to load.
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )

    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 passed, 3 errors" in out, out
    assert "test_marked_slow is not a unit test: it is marked `slow`" in out
    assert "test_marked_kubectl is not a unit test: it is marked `kubectl`" in out
    assert "test_uses_kubectl is not a unit test: it uses the `kubectl` fixture" in out
