"""Standard 5-field cron schedules, as the CronJob controller parses them (robfig/cron).

    minute hour day-of-month month day-of-week

Each field takes `*`, `?`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists
`a,b`, and month/day names (`jan`, `mon`); day-of-week 7 is Sunday. The macros
`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`
are accepted. When both day fields are restricted a day matching either one
matches (cron's OR rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, _MONTHS, _DAYS)
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
# No schedule fires less often than once in this many years (Feb 29 on a Monday
# comes around within 28 years); beyond that a schedule never fires.
_SEARCH_YEARS = 30


class CronError(ValueError):
    """An unparseable schedule; the message is what the API server reports."""


def _value(text: str, index: int) -> int:
    lowered = text.lower()
    if lowered in _NAMES[index]:
        return _NAMES[index][lowered]
    if not text.isdigit():
        raise CronError(
            f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax"
        )
    return int(text)


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"empty field in {text!r}")
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"failed to parse int from {step_text}")
            step = int(step_text)
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _value(first, index), _value(last, index)
        else:
            start = _value(body, index)
            end = high if step_text else start
        if start < low or end > high:
            raise CronError(f"end of range ({end}) above maximum ({high}): {part}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    def day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing time strictly after `moment` (same timezone), or None."""
        t = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment.year + _SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0)
                continue
            if not self.day_matches(t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if t.hour not in self.hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            return t
        return None


def parse(schedule: str) -> Schedule:
    """Parse a cron schedule; raises CronError when it is not valid."""
    text = schedule.strip()
    text = MACROS.get(text.lower(), text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {schedule!r}")
    parsed = []
    for index, field in enumerate(fields):
        try:
            parsed.append(_field(field, index))
        except CronError as exc:
            raise CronError(f"{_FIELD_NAMES[index]}: {exc}") from None
    return Schedule(
        *parsed,
        # robfig/cron marks a field "starred" when it begins with * or ? (also */n).
        days_star=fields[2].startswith(("*", "?")),
        weekdays_star=fields[4].startswith(("*", "?")),
    )
