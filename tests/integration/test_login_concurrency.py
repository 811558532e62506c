"""Login throttling under concurrency, on SQLite and on PostgreSQL: however many wrong
passwords arrive at once, at most the limit of them reach the password check."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.app import delete_all_rows
from tests.fixtures.concurrency import run_together

pytestmark = pytest.mark.reliability

GUESSES = 150


def test_concurrent_wrong_passwords_get_exactly_the_limit_of_checks(race_app: Any) -> None:
    from app.extensions import db
    from app.models.user import LoginFailure
    from app.services.users import create_user

    delete_all_rows(race_app)
    with race_app.app_context():
        create_user("target@example.test", "learner", "correct-horse-battery", 1.0)
        db.session.remove()
    limit = race_app.config["CERTPREP_SETTINGS"].login_max_failures

    def guess(number: int) -> int:
        response = race_app.test_client().post(
            "/api/v1/auth/token",
            json={"email": "target@example.test", "password": f"wrong-{number}"},
            # Each from its own address: only the per-account limit applies.
            environ_overrides={"REMOTE_ADDR": f"10.7.{number // 250}.{number % 250}"},
        )
        return response.status_code

    statuses = run_together([lambda n=n: guess(n) for n in range(GUESSES)])

    # 401 means the password was checked (and was wrong); 429 means it was not.
    assert statuses.count(401) == limit, sorted(statuses)
    assert statuses.count(429) == GUESSES - limit
    with race_app.app_context():
        assert db.session.query(LoginFailure).count() == limit
        db.session.remove()
    # The right password is refused too until the window passes: nothing is revealed.
    right = race_app.test_client().post(
        "/api/v1/auth/token",
        json={"email": "target@example.test", "password": "correct-horse-battery"},
    )
    assert right.status_code == 429
