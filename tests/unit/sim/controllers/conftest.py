"""Fixtures for controller tests: a bootstrapped cluster on a manual clock, its
controller manager, and the scheduler and kubelet stand-ins of `Lab`
(tests/fixtures/controllers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sim.bootstrap import create_cluster
from app.sim.controllers import ControllerManager
from app.sim.machinery.clock import ManualClock
from tests.fixtures.controllers import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    clock = ManualClock()
    cluster = create_cluster("controllers", clock=clock, addons=False)
    manager = ControllerManager.for_cluster(cluster, controllers=("*", "-nodelifecycle"))
    yield Lab(cluster, clock, manager)
    manager.close()


@pytest.fixture
def full_lab() -> Iterator[Lab]:
    """Every controller, node lifecycle included (tests that drive kubelet heartbeats)."""
    clock = ManualClock()
    cluster = create_cluster("controllers", clock=clock, addons=False)
    manager = ControllerManager.for_cluster(cluster)
    yield Lab(cluster, clock, manager)
    manager.close()
