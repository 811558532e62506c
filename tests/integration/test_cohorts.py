"""Cohorts over REST: create, rename, archive, members by email and CSV, assignments,
and who may see what (another trainer's cohort is 404, a learner gets 403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fixtures.app import assert_json_error, bearer
from tests.fixtures.quizzes import API


def new_cohort(client: Any, headers: dict, name: str = "Spring CKA") -> dict:
    response = client.post(f"{API}/cohorts", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_rename_archive_and_list(client: Any, make_user: Callable) -> None:
    trainer, token = make_user("trainer")
    headers = bearer(token)
    cohort = new_cohort(client, headers, "  Spring   CKA ")
    assert cohort["name"] == "Spring CKA"
    assert cohort["owner_email"] == trainer.email
    assert cohort["members"] == [] and cohort["archived"] is False
    assert_json_error(
        client.post(f"{API}/cohorts", json={"name": "Spring CKA"}, headers=headers), 409
    )

    renamed = client.patch(
        f"{API}/cohorts/{cohort['id']}", json={"name": "Autumn CKA"}, headers=headers
    )
    assert renamed.get_json()["name"] == "Autumn CKA"
    new_cohort(client, headers, "Beta")
    listed = client.get(f"{API}/cohorts", headers=headers).get_json()
    assert [c["name"] for c in listed] == ["Autumn CKA", "Beta"]

    archived = client.patch(
        f"{API}/cohorts/{cohort['id']}", json={"archived": True}, headers=headers
    ).get_json()
    assert archived["archived"] is True and archived["archived_at"]
    assert [c["name"] for c in client.get(f"{API}/cohorts", headers=headers).get_json()] == ["Beta"]
    everything = client.get(f"{API}/cohorts?include_archived=true", headers=headers).get_json()
    assert len(everything) == 2
    # Archived cohorts stay readable.
    assert client.get(f"{API}/cohorts/{cohort['id']}", headers=headers).status_code == 200


def test_members_by_email_and_csv(client: Any, make_user: Callable) -> None:
    _, token = make_user("trainer")
    headers = bearer(token)
    ada, _ = make_user("learner", email="ada@example.test")
    make_user("learner", email="bob@example.test")
    make_user("learner", email="cy@example.test")
    cohort = new_cohort(client, headers)
    url = f"{API}/cohorts/{cohort['id']}/members"

    report = client.post(
        url, json={"emails": ["ADA@example.test", "ghost@example.test"]}, headers=headers
    ).get_json()
    assert report == {
        "added": ["ada@example.test"],
        "already": [],
        "unknown": ["ghost@example.test"],
        "refused": [],
    }

    csv_body = "name,email\nAda,ada@example.test\nBob,bob@example.test\n\nCy,cy@example.test\n"
    imported = client.post(
        f"{url}/csv", data=csv_body, headers={**headers, "Content-Type": "text/csv"}
    ).get_json()
    assert imported == {
        "added": ["bob@example.test", "cy@example.test"],
        "already": ["ada@example.test"],
        "unknown": [],
        "refused": [],
    }
    assert_json_error(
        client.post(f"{url}/csv", data=csv_body, headers={**headers, "Content-Type": "text/plain"}),
        422,
    )
    detail = client.get(f"{API}/cohorts/{cohort['id']}", headers=headers).get_json()
    assert [m["email"] for m in detail["members"]] == [
        "ada@example.test",
        "bob@example.test",
        "cy@example.test",
    ]

    assert client.delete(f"{url}/{ada.id}", headers=headers).status_code == 204
    assert_json_error(client.delete(f"{url}/{ada.id}", headers=headers), 404)
    detail = client.get(f"{API}/cohorts/{cohort['id']}", headers=headers).get_json()
    assert "ada@example.test" not in [m["email"] for m in detail["members"]]


def test_assignments_with_due_dates(client: Any, make_user: Callable, make_quiz: Callable) -> None:
    make_quiz()
    _, token = make_user("trainer")
    headers = bearer(token)
    cohort = new_cohort(client, headers)
    url = f"{API}/cohorts/{cohort['id']}/assignments"
    quiz = client.post(
        url,
        json={"kind": "quiz", "slug": "sample-quiz", "due_at": "2026-04-01T17:00:00+00:00"},
        headers=headers,
    )
    assert quiz.status_code == 201, quiz.get_json()
    lab = client.post(url, json={"kind": "lab", "slug": "broken-scheduler"}, headers=headers)
    assert lab.get_json()["due_at"] is None
    # Re-assigning changes the due date instead of adding a second row.
    again = client.post(
        url,
        json={"kind": "quiz", "slug": "sample-quiz", "due_at": "2026-04-02T17:00:00+00:00"},
        headers=headers,
    ).get_json()
    assert again["id"] == quiz.get_json()["id"]
    assert_json_error(client.post(url, json={"kind": "quiz", "slug": "nope"}, headers=headers), 404)
    assert_json_error(client.post(url, json={"kind": "exam", "slug": "x"}, headers=headers), 422)
    detail = client.get(f"{API}/cohorts/{cohort['id']}", headers=headers).get_json()
    assert [(a["kind"], a["slug"], a["due_at"]) for a in detail["assignments"]] == [
        ("quiz", "sample-quiz", "2026-04-02T17:00:00+00:00"),
        ("lab", "broken-scheduler", None),
    ]
    assert client.delete(f"{url}/{again['id']}", headers=headers).status_code == 204
    detail = client.get(f"{API}/cohorts/{cohort['id']}", headers=headers).get_json()
    assert [a["slug"] for a in detail["assignments"]] == ["broken-scheduler"]


def test_access_control(client: Any, make_user: Callable) -> None:
    _, owner_token = make_user("trainer")
    _, other_token = make_user("trainer")
    _, admin_token = make_user("admin")
    _, learner_token = make_user("learner")
    cohort = new_cohort(client, bearer(owner_token))
    paths = [
        f"{API}/cohorts/{cohort['id']}",
        f"{API}/cohorts/{cohort['id']}/progress",
        f"{API}/cohorts/{cohort['id']}/statements",
    ]
    for path in paths:
        assert client.get(path, headers=bearer(owner_token)).status_code == 200, path
        assert client.get(path, headers=bearer(admin_token)).status_code == 200, path
        assert_json_error(client.get(path, headers=bearer(other_token)), 404)
        assert_json_error(client.get(path, headers=bearer(learner_token)), 403)
        assert_json_error(client.get(path), 401)
    assert_json_error(
        client.patch(
            f"{API}/cohorts/{cohort['id']}", json={"name": "Mine"}, headers=bearer(other_token)
        ),
        404,
    )
    assert_json_error(
        client.post(
            f"{API}/cohorts/{cohort['id']}/members",
            json={"emails": ["a@example.test"]},
            headers=bearer(other_token),
        ),
        404,
    )
    assert_json_error(
        client.post(f"{API}/cohorts", json={"name": "x"}, headers=bearer(learner_token)), 403
    )
    assert client.get(f"{API}/cohorts", headers=bearer(other_token)).get_json() == []
    assert len(client.get(f"{API}/cohorts", headers=bearer(admin_token)).get_json()) == 1
