"""Shared pytest configuration. Fixture modules live in tests/fixtures/ and are
listed here so every test directory can use them."""

pytest_plugins: list[str] = [
    "tests.fixtures.app",
    "tests.fixtures.worker",
    "tests.fixtures.sim",
    "tests.fixtures.sim_process",
    "tests.fixtures.labs",
]
