"""`GET /quizzes/{slug}/statistics` on three submitted attempts plus one in progress.

Shares of points per question (ada, bob, cy):
    single 1 1 0 | multiple 1 0 0 | true-false 1 1 0 | ordering 1 1 0
    matching 1 0 0 | short 1 1 0 | numeric 0 0 1
Totals 6, 4, 1 of 7 (85.71 %, 57.14 %, 14.29 %).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.builders import CORRECT, WRONG
from tests.fixtures.app import assert_json_error, bearer
from tests.fixtures.quizzes import API, MIXED, ManualClock, answer_all, coach, start, take

ADA = {**CORRECT, "sample-numeric": WRONG["sample-numeric"]}
CY = {**WRONG, "sample-numeric": CORRECT["sample-numeric"]}


def test_quiz_statistics(
    client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    make_quiz()
    emails = []
    for key in (ADA, MIXED, CY):
        user, token = make_user("learner")
        emails.append(user.email)
        take(client, bearer(token), key, clock)
    user, token = make_user("learner")
    emails.append(user.email)
    in_flight = start(client, bearer(token))
    answer_all(client, bearer(token), in_flight, CORRECT)
    # Outside the trainer's cohorts: never counted in their statistics.
    _, stranger = make_user("learner")
    take(client, bearer(stranger), CORRECT, clock)
    _, trainer_token = make_user("trainer")
    coach(client, bearer(trainer_token), *emails)

    response = client.get(f"{API}/quizzes/sample-quiz/statistics", headers=bearer(trainer_token))
    assert response.status_code == 200, response.get_json()
    stats = response.get_json()
    # The attempt in progress is not a respondent.
    assert stats["attempts"] == 3
    # mean(85.71, 57.14, 14.29) = 52.38
    assert stats["mean_percent"] == 52.38
    # n = 3: groups of max(1, round(0.81)) = 1: upper = ada, lower = cy.
    assert stats["group_size"] == 1
    # Every item variance (n - 1 = 2) is 1/3 (patterns 1 1 0, 1 0 0, 0 0 1), sum 7/3;
    # totals 6, 4, 1: mean 11/3, SS = (49 + 1 + 64) / 9 = 114/9, variance 57/9.
    # alpha = 7/6 x (1 - (7/3) / (57/9)) = 7/6 x 36/57 = 0.7368
    assert stats["alpha"] == 0.7368 and stats["alpha_questions"] == 7
    assert any("30" in w for w in stats["warnings"])

    questions = {q["question_id"]: q for q in stats["questions"]}
    single = questions["sample-single"]
    assert single["facility"] == 0.6667 and single["discrimination"] == 1.0
    # Each option with its text, so the page can show what learners chose.
    assert [{k: o[k] for k in ("id", "correct", "count")} for o in single["options"]] == [
        {"id": "a", "correct": True, "count": 2},
        {"id": "b", "correct": False, "count": 1},
        {"id": "c", "correct": False, "count": 0},
    ]
    assert single["options"][0]["text"] == "The leader" and single["bank"] == "sample"
    assert single["flags"] == [] and single["warnings"]
    multiple = questions["sample-multiple"]
    assert multiple["facility"] == 0.3333
    assert {o["id"]: o["count"] for o in multiple["options"]} == {"a": 1, "b": 2, "c": 1}
    assert {o["id"]: o["count"] for o in questions["sample-true-false"]["options"]} == {
        "true": 2,
        "false": 1,
    }
    assert questions["sample-ordering"]["options"] is None
    # Only the weakest learner got the numeric question: upper 0 - lower 1 = -1.
    numeric = questions["sample-numeric"]
    assert numeric["facility"] == 0.3333 and numeric["discrimination"] == -1.0
    assert numeric["flags"] == ["negative_discrimination"]
    assert stats["flagged"] == ["sample-numeric"]


def test_statistics_flags_extreme_facility_and_access(
    client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    make_quiz()
    emails = []
    for _ in range(2):
        user, token = make_user("learner")
        emails.append(user.email)
        take(
            client,
            bearer(token),
            {**WRONG, "sample-true-false": CORRECT["sample-true-false"]},
            clock,
        )
    _, trainer_token = make_user("trainer")
    coach(client, bearer(trainer_token), *emails)
    stats = client.get(
        f"{API}/quizzes/sample-quiz/statistics", headers=bearer(trainer_token)
    ).get_json()
    questions = {q["question_id"]: q for q in stats["questions"]}
    assert questions["sample-true-false"]["flags"] == ["facility_near_one"]
    assert questions["sample-single"]["flags"] == ["facility_near_zero"]
    # Identical totals: alpha is undefined and said so.
    assert stats["alpha"] is None and len(stats["warnings"]) == 2

    _, learner_token = make_user("learner")
    assert_json_error(
        client.get(f"{API}/quizzes/sample-quiz/statistics", headers=bearer(learner_token)), 403
    )
    assert_json_error(
        client.get(f"{API}/quizzes/nope/statistics", headers=bearer(trainer_token)), 404
    )
    # Scoped to a cohort without these learners: nothing counted.
    cohort = client.post(
        f"{API}/cohorts", json={"name": "Empty"}, headers=bearer(trainer_token)
    ).get_json()
    scoped = client.get(
        f"{API}/quizzes/sample-quiz/statistics?cohort_id={cohort['id']}",
        headers=bearer(trainer_token),
    ).get_json()
    assert scoped["attempts"] == 0 and scoped["questions"] == [] and scoped["alpha"] is None
    _, other_token = make_user("trainer")
    assert_json_error(
        client.get(
            f"{API}/quizzes/sample-quiz/statistics?cohort_id={cohort['id']}",
            headers=bearer(other_token),
        ),
        404,
    )


def test_statistics_csv_parses_back(
    client: Any, make_user: Callable, make_quiz: Callable, clock: ManualClock
) -> None:
    import csv
    import io

    make_quiz()
    emails = []
    for key in (ADA, MIXED, CY):
        user, token = make_user("learner")
        emails.append(user.email)
        take(client, bearer(token), key, clock)
    _, trainer_token = make_user("trainer")
    coach(client, bearer(trainer_token), *emails)
    url = f"{API}/quizzes/sample-quiz/statistics"
    report = client.get(url, headers=bearer(trainer_token)).get_json()
    download = client.get(f"{url}?format=csv", headers=bearer(trainer_token))
    assert download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [r["question_id"] for r in rows] == [q["question_id"] for q in report["questions"]]
    for row, question in zip(rows, report["questions"], strict=True):
        assert float(row["facility"]) == question["facility"]
        assert float(row["discrimination"]) == question["discrimination"]
        assert int(row["responses"]) == question["responses"] == 3
        assert row["flags"] == ";".join(question["flags"])
    single = next(r for r in rows if r["question_id"] == "sample-single")
    assert single["options"] == "a*=2;b=1;c=0"
    assert single["bank"] == "sample" and single["stem"]
    assert single["option_texts"] == "a: The leader | b: Any follower | c: The oldest member"
