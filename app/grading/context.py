"""What a grade knows besides the cluster: when the session started, when the grade was
asked for, the cluster's clock, the hint history and how a probe pod is named."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

HINT_POLICIES = ("never", "after_first_grade", "always")


class Clock(Protocol):
    """Anything with `now()` returning an aware UTC datetime (the simulator's clocks are)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The host's UTC time: a kind cluster's nodes share it."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class GradeContext:
    """Inputs of one grade other than cluster state.

    - `session_started_at`: when the learner's session began; events before it (the
      lab's own setup) never count as the learner's work.
    - `grade_requested_at`: when the learner asked for this grade.
    - `clock`: the cluster's clock; stable-for windows are measured on it, because a
      simulator may run faster than real time.
    - `hint_policy`, `previous_grades`, `hints_revealed`: which hints this grade may show
      and which checks already had theirs shown (they earn points minus their penalty).
    - `monotonic` and `sleep`: real-time waiting for live probes.
    """

    grade_id: str
    session_started_at: datetime
    grade_requested_at: datetime
    clock: Clock = field(default_factory=SystemClock)
    hint_policy: str = "never"
    previous_grades: int = 0
    hints_revealed: frozenset[str] = frozenset()
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.hint_policy not in HINT_POLICIES:
            raise ValueError(f"hint_policy must be one of {HINT_POLICIES}")
        for moment in (self.session_started_at, self.grade_requested_at):
            if moment.tzinfo is None:
                raise ValueError("GradeContext times must be timezone-aware")

    def now(self) -> datetime:
        """The cluster's current time."""
        return self.clock.now()

    @property
    def hints_allowed(self) -> bool:
        """Whether this grade may show hints of failed checks."""
        if self.hint_policy == "always":
            return True
        return self.hint_policy == "after_first_grade" and self.previous_grades >= 1

    def probe_pod_name(self, check_id: str) -> str:
        """A pod name unique to this grade and check, and the same on a re-run of the
        same grade (so a retried grading task finds and replaces its own probe)."""
        digest = hashlib.sha256(f"{self.grade_id}\0{check_id}".encode()).hexdigest()
        return f"certprep-probe-{digest[:12]}"
