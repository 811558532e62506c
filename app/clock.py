"""The service clock: the time every deadline is measured against.

`now()` reads the app's configured clock (`app.config[CLOCK_CONFIG_KEY]`, a zero-argument
callable returning an aware UTC datetime) and falls back to the wall clock. Tests and the
demo seeder put a clock they move by hand there; nothing else should. Quiz attempts, lab
sessions, grades, progress and the web pages all read time through this one function, so
a test that moves the clock moves it for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from app.models.base import utcnow

CLOCK_CONFIG_KEY = "CERTPREP_CLOCK"


def now() -> datetime:
    """The current time for deadlines: the app's configured clock, else the wall clock."""
    clock: Callable[[], datetime] | None = current_app.config.get(CLOCK_CONFIG_KEY)
    return clock() if clock is not None else utcnow()
