"""The browser fixtures skip loudly without Chromium, and fail instead when CI requires it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.browser import find_chromium, resolve_chromium


def _executable(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_no_chromium_on_path_skips_with_a_loud_reason(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        resolve_chromium({"PATH": str(tmp_path)})
    assert "BROWSER TEST SKIPPED" in str(skipped.value)
    assert "CERTPREP_REQUIRE_BROWSER=1" in str(skipped.value)


@pytest.mark.parametrize("value", ["1", "true"])
def test_required_browser_missing_is_a_failure(tmp_path: Path, value: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        resolve_chromium({"PATH": str(tmp_path), "CERTPREP_REQUIRE_BROWSER": value})
    assert "no Chromium found" in str(failed.value)


def test_chromium_is_found_on_path_or_where_the_variable_points(tmp_path: Path) -> None:
    on_path = _executable(tmp_path, "chromium-browser")
    assert find_chromium({"PATH": str(tmp_path)}) == str(on_path)
    chosen = _executable(tmp_path, "my-chromium")
    assert find_chromium({"PATH": "", "CERTPREP_CHROMIUM": str(chosen)}) == str(chosen)
    # A variable pointing nowhere is not silently replaced by PATH's browser.
    missing = str(tmp_path / "absent")
    assert find_chromium({"PATH": str(tmp_path), "CERTPREP_CHROMIUM": missing}) is None
