"""Cron schedule parsing and next firing times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.sim.controllers.cron import CronError, parse

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("*/5 * * * *", datetime(2026, 1, 1, 0, 5, tzinfo=UTC)),
        ("30 2 * * *", datetime(2026, 1, 1, 2, 30, tzinfo=UTC)),
        ("0 0 * * mon", datetime(2026, 1, 5, 0, 0, tzinfo=UTC)),
        ("0 9 1 feb *", datetime(2026, 2, 1, 9, 0, tzinfo=UTC)),
        ("@hourly", datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),
        ("@weekly", datetime(2026, 1, 4, 0, 0, tzinfo=UTC)),
        ("0 0 * * 7", datetime(2026, 1, 4, 0, 0, tzinfo=UTC)),
        ("15 10-12/2 * * *", datetime(2026, 1, 1, 10, 15, tzinfo=UTC)),
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
        # Both day fields restricted: either one matches (the 13th or a Friday).
        ("0 0 13 * 5", datetime(2026, 1, 2, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_after(schedule: str, expected: datetime) -> None:
    assert parse(schedule).next_after(T0) == expected


@pytest.mark.parametrize(
    "schedule", ["* * * *", "61 * * * *", "* * * * mon-", "*/0 * * * *", "a b c d e", "5-1 * * * *"]
)
def test_invalid_schedules_are_refused(schedule: str) -> None:
    with pytest.raises(CronError):
        parse(schedule)


def test_impossible_date_never_fires() -> None:
    assert parse("0 0 31 2 *").next_after(T0) is None
