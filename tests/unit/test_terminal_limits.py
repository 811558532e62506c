"""The browser terminal's token bucket (output and input rate limits)."""

from __future__ import annotations

from app.web.terminal import Bucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = Bucket(rate=2, burst=4, clock=clock)
    assert [bucket.allow() for _ in range(5)] == [True, True, True, True, False]
    clock.now = 0.5
    assert bucket.allow() is True
    assert bucket.allow() is False
    clock.now = 100
    assert sum(bucket.allow() for _ in range(10)) == 4


def test_bucket_wait_sleeps_for_what_exceeds_the_rate() -> None:
    clock = Clock()
    bucket = Bucket(rate=1_000_000, burst=1000, clock=clock)
    bucket.wait(1000)
    assert bucket.level == 0
    bucket.wait(500)  # sleeps 0.5 ms of real time for the 500 units over the burst
    assert bucket.level == -500
