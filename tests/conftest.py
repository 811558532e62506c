"""Shared pytest configuration. Fixture modules live in tests/fixtures/ and are
listed here so every test directory can use them."""

pytest_plugins: list[str] = []
