"""Cohort progress: per learner, domain and topic, readiness against 66 %, aggregates,
CSV that parses back to the same numbers, and attempts in flight that do not count.

The sample bank has seven 1-point questions:
    Cluster Architecture: single (etcd-quorum), multiple (admission),
        true-false (etcd-access), ordering (request-flow)
    Workloads & Scheduling: matching (plugins), short answer (binding)
    Troubleshooting: numeric (etcd-quorum)
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from typing import Any

from app.services import progress as progress_service
from app.services.progress import LabCheckResult, LabGrade, register_lab_progress_source
from tests.builders import CORRECT, WRONG
from tests.fixtures.app import bearer
from tests.fixtures.quizzes import API, MIXED, START, ManualClock, answer_all, start, take

# Right on single, true-false, ordering, short answer; wrong on the other three: 4/7.


def get_progress(client: Any, cohort_id: int, headers: dict) -> dict:
    response = client.get(f"{API}/cohorts/{cohort_id}/progress", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_progress_numbers(client: Any, cohort_setup: Any, clock: ManualClock) -> None:
    cohort_id, trainer, learners = cohort_setup
    take(client, learners["ada"][1], WRONG, clock, minutes=10)  # 0 %
    take(client, learners["ada"][1], CORRECT, clock, minutes=20)  # 100 %, last
    take(client, learners["bob"][1], MIXED, clock, minutes=5)  # 4/7 = 57.14 %
    report = get_progress(client, cohort_id, trainer)
    rows = {r["email"]: r for r in report["learners"]}
    assert report["pass_mark"] == 66.0

    ada = rows["ada@example.test"]
    assert (ada["attempts"], ada["best_percent"], ada["last_percent"]) == (2, 100.0, 100.0)
    assert ada["time_spent_seconds"] == 30 * 60
    # Points-weighted over both attempts: 7 of 14 points.
    assert ada["readiness_percent"] == 50.0 and ada["ready"] is False
    assert ada["domains"]["Troubleshooting"] == {
        "score": 1.0,
        "max_score": 2.0,
        "percent": 50.0,
        "evidence": 2,
    }
    assert [{k: v for k, v in a.items() if k != "id"} for a in ada["assignments"]] == [
        {
            "kind": "quiz",
            "slug": "sample-quiz",
            "due_at": "2026-03-05T00:00:00+00:00",
            "extended": False,
            "done": True,
            "overdue": False,
        }
    ]

    bob = rows["bob@example.test"]
    assert (bob["attempts"], bob["best_percent"], bob["last_percent"]) == (1, 57.14, 57.14)
    assert bob["readiness_percent"] == 57.14 and bob["ready"] is False
    # Cluster Architecture 3/4, Workloads & Scheduling 1/2, Troubleshooting 0/1.
    assert {d: v["percent"] for d, v in bob["domains"].items()} == {
        "Cluster Architecture": 75.0,
        "Troubleshooting": 0.0,
        "Workloads & Scheduling": 50.0,
    }
    # Below 66 %: admission 0, plugins 0, etcd-quorum 1/2; weakest first, then by name.
    assert bob["weak_topics"] == ["admission", "plugins", "etcd-quorum"]
    assert bob["last_activity"] is not None

    cy = rows["cy@example.test"]
    assert cy["attempts"] == 0 and cy["readiness_percent"] is None and cy["weak_topics"] == []

    aggregate = report["aggregate"]
    assert (aggregate["learners"], aggregate["with_results"], aggregate["ready"]) == (3, 2, 0)
    # mean(50, 57.14) = 53.57; two values: the median is the mean.
    assert aggregate["mean_readiness"] == 53.57 and aggregate["median_readiness"] == 53.57
    assert [b["count"] for b in aggregate["distribution"]] == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0]
    # Cohort Troubleshooting: ada 1/2 + bob 0/1 = 1/3.
    assert aggregate["domains"]["Troubleshooting"]["percent"] == 33.33


def test_csv_parses_back_to_the_same_numbers(
    client: Any, cohort_setup: Any, clock: ManualClock
) -> None:
    cohort_id, trainer, learners = cohort_setup
    take(client, learners["ada"][1], CORRECT, clock, minutes=12)
    take(client, learners["bob"][1], MIXED, clock, minutes=5)
    report = get_progress(client, cohort_id, trainer)
    by_query = client.get(f"{API}/cohorts/{cohort_id}/progress?format=csv", headers=trainer)
    by_accept = client.get(
        f"{API}/cohorts/{cohort_id}/progress", headers={**trainer, "Accept": "text/csv"}
    )
    assert by_query.mimetype == by_accept.mimetype == "text/csv"
    assert "attachment" in by_query.headers["Content-Disposition"]
    assert by_query.get_data() == by_accept.get_data()
    rows = list(csv.DictReader(io.StringIO(by_query.get_data(as_text=True))))
    assert [r["email"] for r in rows] == [r["email"] for r in report["learners"]]
    for row, learner in zip(rows, report["learners"], strict=True):
        assert int(row["attempts"]) == learner["attempts"]
        for column in ("best_percent", "last_percent", "readiness_percent"):
            expected = learner[column]
            assert (float(row[column]) if row[column] else None) == expected, column
        assert row["ready"] == ("yes" if learner["ready"] else "no")
        assert (row["weak_topics"].split(";") if row["weak_topics"] else []) == learner[
            "weak_topics"
        ]
        for domain, mastery in learner["domains"].items():
            assert float(row[f"domain:{domain}"]) == mastery["percent"]
    assert float(rows[0]["time_spent_minutes"]) == 12.0
    assert rows[1]["readiness_percent"] == "57.14"


def test_attempts_in_flight_do_not_count(
    client: Any, cohort_setup: Any, clock: ManualClock
) -> None:
    cohort_id, trainer, learners = cohort_setup
    cy_headers = learners["cy"][1]
    take(client, cy_headers, WRONG, clock)
    second = start(client, cy_headers)
    answer_all(client, cy_headers, second, CORRECT)  # saved, not submitted
    row = next(
        r
        for r in get_progress(client, cohort_id, trainer)["learners"]
        if r["email"] == "cy@example.test"
    )
    assert (row["attempts"], row["attempts_in_progress"]) == (1, 1)
    assert row["best_percent"] == 0.0 and row["readiness_percent"] == 0.0
    # The answers saved during the attempt are recent activity, though.
    assert row["last_activity"] == START.replace(minute=10).isoformat()
    # Once submitted, the attempt counts.
    client.post(f"{API}/attempts/{second['id']}/submit", headers=cy_headers)
    row = next(
        r
        for r in get_progress(client, cohort_id, trainer)["learners"]
        if r["email"] == "cy@example.test"
    )
    assert (row["attempts"], row["attempts_in_progress"], row["best_percent"]) == (2, 0, 100.0)


def test_overdue_assignment(client: Any, cohort_setup: Any, clock: ManualClock) -> None:
    cohort_id, trainer, _ = cohort_setup
    clock.advance(days=5)
    row = get_progress(client, cohort_id, trainer)["learners"][0]
    assert row["assignments"][0]["overdue"] is True and row["assignments"][0]["done"] is False


class FixedLabGrades:
    """A lab progress source returning fixed grades (what the labs package will provide)."""

    def __init__(self, grades: list[LabGrade]) -> None:
        self.grades = grades

    def lab_grades(self, user_ids: Any, lab_slugs: Any) -> list[LabGrade]:
        return [
            g
            for g in self.grades
            if (user_ids is None or g.user_id in user_ids)
            and (lab_slugs is None or g.lab_slug in lab_slugs)
        ]


def test_lab_grades_plug_in_through_the_source(
    app: Any, client: Any, cohort_setup: Any, clock: ManualClock
) -> None:
    cohort_id, trainer, learners = cohort_setup
    client.post(
        f"{API}/cohorts/{cohort_id}/assignments",
        json={"kind": "lab", "slug": "broken-scheduler"},
        headers=trainer,
    )
    bob = learners["bob"][0]
    checks = (
        LabCheckResult("scheduler-running", "Troubleshooting", "scheduler", 2, 2, True, 0),
        LabCheckResult("pods-bound", "Troubleshooting", "scheduler", 0, 2, False, 1),
    )
    grade = LabGrade(bob.id, "broken-scheduler", 7, 50.0, False, START, 600.0, checks)
    register_lab_progress_source(app, FixedLabGrades([grade]))
    try:
        row = next(
            r
            for r in get_progress(client, cohort_id, trainer)["learners"]
            if r["email"] == "bob@example.test"
        )
        assert row["labs_completed"] == 1
        assert row["labs"] == [
            {"slug": "broken-scheduler", "grades": 1, "best_percent": 50.0, "passed": False}
        ]
        assert row["domains"]["Troubleshooting"]["percent"] == 50.0  # 2 of 4 check points
        assert row["time_spent_seconds"] == 600
        stats = client.get(
            f"{API}/labs/broken-scheduler/statistics?cohort_id={cohort_id}", headers=trainer
        ).get_json()
        assert stats["learners"] == 1
        assert stats["checks"] == [
            {"check_id": "pods-bound", "passed_share": 0.0, "hints_used": 1},
            {"check_id": "scheduler-running", "passed_share": 1.0, "hints_used": 0},
        ]
    finally:
        app.extensions.pop(progress_service.LAB_SOURCE_KEY, None)
    assert (
        client.get(f"{API}/labs/broken-scheduler/statistics", headers=trainer).get_json()["checks"]
        == []
    )


def test_learner_sees_own_progress(client: Any, cohort_setup: Any, clock: ManualClock) -> None:
    _, _, learners = cohort_setup
    headers = learners["bob"][1]
    take(client, headers, MIXED, clock)
    own = client.get(f"{API}/me/progress", headers=headers).get_json()
    assert own["email"] == "bob@example.test" and own["readiness_percent"] == 57.14


def test_stored_lab_grades_count_the_standing_grade(
    client: Any, db_session: Any, cohort_setup: Any, clock: ManualClock
) -> None:
    from datetime import timedelta

    from app.models.lab import Grade, GradeStatus, Lab, LabSession, LabSessionStatus

    cohort_id, trainer, learners = cohort_setup
    client.post(
        f"{API}/cohorts/{cohort_id}/assignments",
        json={"kind": "lab", "slug": "fix-scheduler"},
        headers=trainer,
    )
    lab = Lab(
        slug="fix-scheduler",
        version=1,
        title="Fix the scheduler",
        domain="Troubleshooting",
        section="scheduler",
        difficulty="medium",
        time_limit_minutes=30,
        content_hash="0" * 64,
        spec={},
    )
    session = LabSession(
        lab=lab,
        user_id=learners["cy"][0].id,
        status=LabSessionStatus.GRADED,
        provider="simulator",
        content_hash="0" * 64,
        hints_revealed=["pods-bound"],
        ready_at=START,
        ended_at=START + timedelta(minutes=25),
    )

    def grade(number: int, earned: float, checks: list[dict], status=GradeStatus.DONE) -> Grade:
        return Grade(
            session=session,
            number=number,
            status=status,
            earned=earned,
            possible=4,
            percentage=100 * earned / 4,
            result={"checks": checks},
            requested_at=START + timedelta(minutes=10 * number),
            finished_at=START + timedelta(minutes=10 * number),
        )

    failing = {"id": "pods-bound", "points": 2, "earned": 0, "passed": False}
    passing = {"id": "pods-bound", "points": 2, "earned": 2, "passed": True}
    running = {"id": "scheduler-running", "points": 2, "earned": 2, "passed": True}
    db_session.add_all(
        [
            grade(1, 2, [running, failing]),
            grade(2, 4, [running, passing]),  # the standing grade
            grade(3, 0, [], status=GradeStatus.FAILED),  # an error, not a grade
        ]
    )
    db_session.commit()

    row = next(
        r
        for r in get_progress(client, cohort_id, trainer)["learners"]
        if r["email"] == "cy@example.test"
    )
    assert row["labs"] == [
        {"slug": "fix-scheduler", "grades": 1, "best_percent": 100.0, "passed": True}
    ]
    assert row["domains"] == {
        "Troubleshooting": {"score": 4.0, "max_score": 4.0, "percent": 100.0, "evidence": 2}
    }
    assert row["topics"] == {
        "scheduler": {"score": 4.0, "max_score": 4.0, "percent": 100.0, "evidence": 2}
    }
    assert row["time_spent_seconds"] == 25 * 60 and row["readiness_percent"] == 100.0
    assert {k: v for k, v in row["assignments"][-1].items() if k != "id"} == {
        "due_at": None,
        "extended": False,
        "kind": "lab",
        "slug": "fix-scheduler",
        "done": True,
        "overdue": False,
    }
    stats = client.get(f"{API}/labs/fix-scheduler/statistics", headers=trainer).get_json()
    assert stats["checks"] == [
        {"check_id": "pods-bound", "passed_share": 1.0, "hints_used": 1},
        {"check_id": "scheduler-running", "passed_share": 1.0, "hints_used": 0},
    ]


def test_progress_read_while_attempts_are_submitted(
    app: Any, client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    """Reports taken while learners answer and submit in other threads never count an
    attempt before it is submitted, and never show a half-scored one."""
    make_quiz()
    _, trainer_token = make_user("trainer")
    trainer = bearer(trainer_token)
    cohort = client.post(f"{API}/cohorts", json={"name": "Live"}, headers=trainer).get_json()
    learners_and_users = [make_user("learner") for _ in range(4)]
    learners = [token for _, token in learners_and_users]
    addresses = [user.email for user, _ in learners_and_users]
    client.post(
        f"{API}/cohorts/{cohort['id']}/members", json={"emails": addresses}, headers=trainer
    )
    attempts = [start(client, bearer(token)) for token in learners]
    failures: list[str] = []

    def work(token: str, attempt: dict) -> None:
        own = app.test_client()
        try:
            answer_all(own, bearer(token), attempt, CORRECT)
            done = own.post(f"{API}/attempts/{attempt['id']}/submit", headers=bearer(token))
            assert done.status_code == 200, done.get_json()
        except AssertionError as exc:  # reported by the main thread
            failures.append(str(exc))

    threads = [
        threading.Thread(target=work, args=(token, attempt))
        for token, attempt in zip(learners, attempts, strict=True)
    ]
    for thread in threads:
        thread.start()
    observed = []
    while any(thread.is_alive() for thread in threads) or not observed:
        observed.append(get_progress(client, cohort["id"], trainer))
    for thread in threads:
        thread.join()
    observed.append(get_progress(client, cohort["id"], trainer))
    assert failures == []
    for report in observed:
        for row in report["learners"]:
            assert row["attempts"] + row["attempts_in_progress"] == 1
            if row["attempts"] == 0:
                assert row["best_percent"] is None and row["readiness_percent"] is None
            else:
                assert row["best_percent"] == 100.0 and row["readiness_percent"] == 100.0
    final = observed[-1]
    # 100 % on a quiz that covers three of the five CKA domains is not readiness.
    assert final["aggregate"]["ready"] == 0 and final["aggregate"]["with_results"] == 4
    assert {r["readiness_status"] for r in final["learners"]} == {"not enough evidence"}
