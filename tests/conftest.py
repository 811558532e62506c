"""Shared pytest configuration. Fixture modules live in tests/fixtures/ and are
listed here so every test directory can use them."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

pytest_plugins: list[str] = [
    "tests.fixtures.app",
    "tests.fixtures.worker",
    "tests.fixtures.sim",
    "tests.fixtures.sim_process",
    "tests.fixtures.labs",
    "tests.fixtures.browser",
    "tests.fixtures.quizzes",
    "tests.fixtures.quiz_cli",
    "tests.fixtures.concurrency",
    "tests.fixtures.lab_cli",
    "tests.fixtures.lab_console",
    "tests.fixtures.snapshots",
    "tests.fixtures.exams",
]

_KUBE_CACHE_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # kubectl writes a discovery and OpenAPI cache to $HOME/.kube/cache (or wherever
    # HOME points in a test's environment, the checkout included). Every kubectl the
    # tests start inherits KUBECACHEDIR, which sends it to a temporary folder instead.
    if not os.environ.get("KUBECACHEDIR"):
        folder = tempfile.mkdtemp(prefix="certprep-kubecache-")
        os.environ["KUBECACHEDIR"] = folder
        config.stash[_KUBE_CACHE_KEY] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_KUBE_CACHE_KEY, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("KUBECACHEDIR", None)
