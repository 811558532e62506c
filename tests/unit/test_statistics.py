"""Item statistics against hand-computed values on small fixed data sets."""

from __future__ import annotations

import pytest

from app.services.progress import PASS_MARK, distribution
from app.services.statistics import (
    Respondent,
    cronbach_alpha,
    discrimination,
    facility,
    group_size,
    upper_lower,
)


def respondents(rows: list[list[int]], items: str) -> list[Respondent]:
    """Respondents from 0/1 rows; the total is the row sum (as a percent of the items)."""
    return [
        Respondent(total=100 * sum(row) / len(row), items=dict(zip(items, row, strict=True)), key=i)
        for i, row in enumerate(rows)
    ]


# Six learners, four questions A-D. D is answered right by the weakest learners.
#        A  B  C  D   total
SIX = [
    [1, 1, 1, 0],  # 3
    [1, 1, 0, 1],  # 3
    [1, 0, 1, 0],  # 2
    [1, 1, 0, 0],  # 2
    [0, 0, 0, 1],  # 1
    [0, 0, 0, 1],  # 1
]


def test_facility() -> None:
    data = respondents(SIX, "ABCD")
    # A: 4 of 6 right; B: 3/6; C: 2/6; D: 3/6.
    assert facility([r.items["A"] for r in data]) == 0.6667
    assert facility([r.items["B"] for r in data]) == 0.5
    assert facility([r.items["C"] for r in data]) == 0.3333
    assert facility([]) is None


def test_groups_are_27_percent() -> None:
    # round(0.27 x 6) = round(1.62) = 2; round(0.27 x 100) = 27; never above half.
    assert [group_size(n) for n in (0, 1, 2, 3, 6, 100)] == [0, 0, 1, 1, 2, 27]
    upper, lower = upper_lower(respondents(SIX, "ABCD"))
    assert [r.key for r in upper] == [0, 1] and [r.key for r in lower] == [4, 5]


def test_discrimination() -> None:
    data = respondents(SIX, "ABCD")
    # Upper group = learners 1, 2 (totals 3, 3); lower group = learners 5, 6 (totals 1, 1).
    # A: upper (1+1)/2 = 1, lower (0+0)/2 = 0 -> 1.0
    assert discrimination(data, "A") == 1.0
    # C: upper (1+0)/2 = 0.5, lower 0 -> 0.5
    assert discrimination(data, "C") == 0.5
    # D: upper (0+1)/2 = 0.5, lower (1+1)/2 = 1 -> -0.5 (a suspicious question)
    assert discrimination(data, "D") == -0.5
    # A question nobody in a group drew has no index.
    assert discrimination(data, "Z") is None


def test_cronbach_alpha_consistent_quiz() -> None:
    #      I1 I2 I3  total
    rows = [
        [1, 1, 1],  # 3
        [1, 1, 0],  # 2
        [1, 0, 0],  # 1
        [0, 0, 0],  # 0
        [1, 1, 1],  # 3
    ]
    # Sample variances (n - 1 = 4):
    #   I1: mean 0.8, SS = 4 x 0.04 + 0.64 = 0.8  -> 0.2
    #   I2: mean 0.6, SS = 3 x 0.16 + 2 x 0.36 = 1.2 -> 0.3
    #   I3: mean 0.4, SS = 2 x 0.36 + 3 x 0.16 = 1.2 -> 0.3      sum = 0.8
    #   totals 3, 2, 1, 0, 3: mean 1.8, SS = 1.44 + 0.04 + 0.64 + 3.24 + 1.44 = 6.8 -> 1.7
    # alpha = 3/2 x (1 - 0.8 / 1.7) = 1.5 x 0.9 / 1.7 = 0.79412
    alpha, common = cronbach_alpha(respondents(rows, ["I1", "I2", "I3"]))
    assert common == ["I1", "I2", "I3"]
    assert alpha == pytest.approx(0.7941, abs=1e-4)


def test_cronbach_alpha_with_a_broken_question() -> None:
    # SIX: item variances (n - 1 = 5): A 4/15, B 0.3, C 4/15, D 0.3 -> sum 17/15;
    # totals 3, 3, 2, 2, 1, 1: mean 2, SS = 4 -> 0.8.
    # alpha = 4/3 x (1 - (17/15) / 0.8) = 4/3 x (1 - 17/12) = -5/9 = -0.5556
    alpha, _ = cronbach_alpha(respondents(SIX, "ABCD"))
    assert alpha == pytest.approx(-0.5556, abs=1e-4)


def test_cronbach_alpha_undefined() -> None:
    assert cronbach_alpha(respondents([[1, 0]], "AB")) == (None, [])
    # No variance in the totals.
    assert cronbach_alpha(respondents([[1, 0], [1, 0]], "AB"))[0] is None
    # Only the questions every respondent drew count: here just A -> too few.
    mixed = [Respondent(50, {"A": 1, "B": 0}), Respondent(50, {"A": 0, "C": 1})]
    assert cronbach_alpha(mixed) == (None, ["A"])


def test_distribution_buckets() -> None:
    buckets = distribution([0, 9.99, 10, 65.9, PASS_MARK, 100])
    assert [b["count"] for b in buckets] == [2, 1, 0, 0, 0, 0, 2, 0, 0, 1]
    assert (buckets[-1]["low"], buckets[-1]["high"]) == (90, 100)
