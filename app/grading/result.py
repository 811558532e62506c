"""What a grade says: one `CheckResult` per check, in the order the lab wrote them, and
the totals. Plain dataclasses that turn into JSON with `to_dict()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CheckResult:
    """The outcome of one check.

    `message` is the lab's sentence for what the check verifies; `detail` says what was
    found ("expected X, found Y"). `hint` is None unless the hint policy shows it.
    `error` marks a check that could not be evaluated (API error, bad expression): it
    earns nothing, like a failure, but tells the lab author it is not the learner's fault.
    """

    id: str
    kind: str
    passed: bool
    points: float
    earned: float
    message: str
    detail: str
    hint: str | None = None
    hint_penalty: float = 0
    guard: bool = False
    error: bool = False
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradeResult:
    """All check results and the totals of one grade.

    `raw_percentage` is earned/possible; `percentage` is what the learner gets: the raw
    figure, capped at `cap_percent` when a guard check failed (`capped` says so).
    """

    grade_id: str
    checks: list[CheckResult]
    earned: float
    possible: float
    raw_percentage: float
    percentage: float
    capped: bool = False
    cap_percent: float | None = None
    hints_revealed: list[str] = field(default_factory=list)
    graded_at: str = ""

    @property
    def passed_checks(self) -> int:
        return sum(1 for c in self.checks if c.passed)

    def check(self, check_id: str) -> CheckResult:
        """The result of the check with `check_id`; KeyError when there is none."""
        for result in self.checks:
            if result.id == check_id:
                return result
        raise KeyError(check_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed_checks"] = self.passed_checks
        return data
