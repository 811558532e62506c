"""How the CKA-track questions cover the exam: per-domain counts, shares and item types.

`coverage(questions)` compares each domain's share of the CKA questions with the exam
weight and lists the item types a domain lacks. Questions of other tracks (OpenShift)
are counted apart and never enter the shares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.banks.schemas import DOMAINS, TYPE_SCHEMAS

# The CKA curriculum's domain weights, in percent.
EXAM_WEIGHTS: dict[str, float] = {
    "Troubleshooting": 30,
    "Cluster Architecture": 25,
    "Services & Networking": 20,
    "Workloads & Scheduling": 15,
    "Storage": 10,
}
# A domain's share may differ from its weight by at most this many percentage points.
MAX_DEVIATION = 5.0
CKA_TRACK = "cka"


@dataclass
class DomainCoverage:
    domain: str
    count: int
    share: float  # percent of the CKA-track questions
    weight: float  # exam weight, percent
    missing_types: list[str]

    @property
    def deviation(self) -> float:
        return self.share - self.weight


@dataclass
class Coverage:
    total: int
    domains: list[DomainCoverage]
    other_tracks: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """What keeps the questions from covering the exam as it is weighted."""
        found = []
        for row in self.domains:
            if abs(row.deviation) > MAX_DEVIATION:
                found.append(
                    f"domain {row.domain!r} has {row.share:.1f} % of the CKA questions"
                    f" ({row.count} of {self.total}); exam weight {row.weight:g} %,"
                    f" off by {row.deviation:+.1f} points (at most {MAX_DEVIATION:g} allowed)"
                )
            if row.missing_types:
                found.append(
                    f"domain {row.domain!r} has no question of type: {', '.join(row.missing_types)}"
                )
        return found

    def lines(self) -> list[str]:
        """A table of the CKA track by domain, then the other tracks."""
        out = [f"CKA track: {self.total} question(s)"]
        out.append(f"  {'domain':<24} {'count':>5} {'share':>7} {'weight':>7} {'delta':>7}")
        for row in self.domains:
            out.append(
                f"  {row.domain:<24} {row.count:>5} {row.share:>6.1f}% {row.weight:>6g}%"
                f" {row.deviation:>+7.1f}"
            )
        for track, count in sorted(self.other_tracks.items()):
            out.append(f"{track} track: {count} question(s) (not in the CKA shares)")
        return out


def coverage(questions: Iterable[Mapping[str, Any]]) -> Coverage:
    """Coverage of validated question data (each with `domain`, `type`, `track`)."""
    counts: Counter[str] = Counter()
    types: dict[str, set[str]] = {d: set() for d in DOMAINS}
    others: Counter[str] = Counter()
    for question in questions:
        track = question.get("track", CKA_TRACK)
        if track != CKA_TRACK:
            others[track] += 1
            continue
        counts[question["domain"]] += 1
        types[question["domain"]].add(question["type"])
    total = sum(counts.values())
    rows = [
        DomainCoverage(
            domain=domain,
            count=counts[domain],
            share=100 * counts[domain] / total if total else 0.0,
            weight=weight,
            missing_types=[t for t in TYPE_SCHEMAS if t not in types[domain]],
        )
        for domain, weight in EXAM_WEIGHTS.items()
    ]
    return Coverage(total=total, domains=rows, other_tracks=dict(others))
