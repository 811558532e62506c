"""Indexed Jobs: `status.completedIndexes` intervals."""

from __future__ import annotations

from app.sim.controllers.job import format_intervals, parse_intervals


def test_completed_indexes_are_written_as_runs() -> None:
    assert format_intervals({0}) == "0"
    assert format_intervals({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert parse_intervals("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}
    assert parse_intervals("") == set() and parse_intervals("x,3") == {3}
