"""The unit tier stays fast: a test here that uses the `kubectl` fixture or is marked
`kubectl`, `browser` or `slow` fails with a pointer to the tier it belongs in (README,
"Tests"). Move it to tests/integration or tests/e2e instead of relaxing this."""

from __future__ import annotations

import pytest

# Fixtures that start real processes or servers: a unit test never needs one.
_FOREIGN_FIXTURES = {
    "kubectl": "tests/e2e",
    "sim_server": "tests/integration",
    "sim_cluster": "tests/integration",
}
_FOREIGN_MARKERS = {
    "kubectl": "tests/e2e",
    "browser": "tests/e2e",
    "slow": "tests/integration or tests/e2e",
}


def tier_violations(item: pytest.Item) -> list[str]:
    """Why `item` does not belong in tests/unit (empty when it does)."""
    reasons = [
        f"uses the `{name}` fixture (belongs in {tier})"
        for name, tier in _FOREIGN_FIXTURES.items()
        if name in getattr(item, "fixturenames", ())
    ]
    reasons += [
        f"is marked `{name}` (belongs in {tier})"
        for name, tier in _FOREIGN_MARKERS.items()
        if item.get_closest_marker(name) is not None
    ]
    return reasons


def pytest_runtest_setup(item: pytest.Item) -> None:
    reasons = tier_violations(item)
    if reasons:
        pytest.fail(
            f"{item.nodeid} is not a unit test: it {'; '.join(reasons)}. "
            "tests/unit holds fast, in-process tests only (README, Tests).",
            pytrace=False,
        )
