"""Time for the simulator: every timestamp and every control-plane loop reads a clock.

`WallClock` follows real time (optionally faster, for labs that wait on timeouts);
`ManualClock` only moves when a test calls `advance`, so time-based behaviour is
deterministic under test.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything with `now()` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class WallClock:
    """Real time, sped up by `speed` from the moment the clock is created."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._origin_wall = datetime.now(UTC)
        self._origin_mono = time.monotonic()

    def now(self) -> datetime:
        if self.speed == 1.0:
            return datetime.now(UTC)
        elapsed = (time.monotonic() - self._origin_mono) * self.speed
        return self._origin_wall + timedelta(seconds=elapsed)


class ManualClock:
    """A clock that stands still until `advance` is called; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward by `seconds` (negative values raise ValueError)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


def rfc3339(moment: datetime) -> str:
    """Format as Kubernetes `metav1.Time`: UTC, whole seconds, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(moment: datetime) -> str:
    """Format as `metav1.MicroTime` (leases, events.k8s.io eventTime)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    """Parse a Kubernetes timestamp (with or without fractional seconds)."""
    text = value.replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def parse_ts(value: str | None) -> datetime | None:
    """`parse_time` for an optional field: None when missing or malformed."""
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
