"""Clocks: wall time (optionally sped up) and a manual clock for tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from app.sim.machinery.clock import ManualClock, WallClock, parse_time, rfc3339, rfc3339_micro
from app.sim.machinery.store import ObjectStore


def test_manual_clock_only_moves_when_advanced() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(90) == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))


def test_wall_clock_speed() -> None:
    fast = WallClock(speed=100.0)
    start = fast.now()
    time.sleep(0.05)
    assert fast.now() - start >= timedelta(seconds=4)
    assert abs(WallClock().now() - datetime.now(UTC)) < timedelta(seconds=1)
    with pytest.raises(ValueError):
        WallClock(speed=0)


def test_formats() -> None:
    moment = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    assert rfc3339(moment) == "2026-05-04T03:02:01Z"
    assert rfc3339_micro(moment) == "2026-05-04T03:02:01.123456Z"
    assert parse_time("2026-05-04T03:02:01Z") == moment.replace(microsecond=0)


def test_store_timestamps_follow_its_clock() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = ObjectStore(clock)
    store.create(
        "", "configmaps", {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "d"}}
    )
    clock.advance(3600)
    later = store.create(
        "", "configmaps", {"kind": "ConfigMap", "metadata": {"name": "b", "namespace": "d"}}
    )
    assert later["metadata"]["creationTimestamp"] == "2026-01-01T01:00:00Z"
