"""Property-based run of every REST operation against the app's own OpenAPI document.

schemathesis generates valid and invalid requests from the document (huge integers,
wrong types, missing fields, odd strings) for every operation, sends them as a
learner and as an admin, and fails on any 5xx answer, any response whose body, content
type or headers disagree with the document, and any error that lacks the one JSON error
shape `{code, status, message, errors}`.

Generated ids rarely exist, so each example whose path names a seeded object (the
learner, an attempt, a question of it, a quiz, a cohort) is sent a second time with the
real ids: those requests reach the services with hostile bodies and queries.

The run is bounded and reproducible: `MAX_EXAMPLES` per operation, derandomized (the
same requests on every run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)

from tests.builders import QUIZ_DEFAULTS, import_bank
from tests.fixtures.app import DEFAULT_PASSWORD, bearer, delete_all_rows

# Examples per operation (each sent as a learner and as an admin): about 50 operations.
MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
ERROR_KEYS = {"code", "status", "message", "errors"}

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture
def accounts(app: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """On clean tables: a learner and an admin (their ids by role), and under "known"
    the path parameters of seeded objects. Made outside any app context the requests
    could share."""
    from app.extensions import db
    from app.models.quiz import Quiz, QuizSource
    from app.services.attempts import start_attempt
    from app.services.cohorts import create_cohort
    from app.services.users import create_user

    delete_all_rows(app)
    with app.app_context():
        learner = create_user("fuzz-learner@example.test", "learner", DEFAULT_PASSWORD)
        admin = create_user("fuzz-admin@example.test", "admin", DEFAULT_PASSWORD)
        import_bank(tmp_path / "bank")
        quiz = {**QUIZ_DEFAULTS, "attempts_allowed": 0}
        db.session.add(Quiz(slug="sample-quiz", source=QuizSource.BLUEPRINT, **quiz))
        db.session.commit()
        attempt, _ = start_attempt(learner, "sample-quiz")
        cohort = create_cohort(admin, "fuzz cohort")
        known = {
            "user_id": learner.id,
            "attempt_id": attempt.id,
            "question_id": attempt.items[0].question_uid,
            "slug": "sample-quiz",
            "cohort_id": cohort.id,
        }
        users = {"learner": learner.id, "admin": admin.id, "known": known}
        db.session.remove()
    yield users
    delete_all_rows(app)


@pytest.fixture
def api_schema(app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


def fresh_token(app: Any, user_id: int) -> str:
    """A live token for `user_id` (an example may have revoked the previous one or
    deactivated the account: reactivate it)."""
    from app.extensions import db
    from app.models.user import User
    from app.services.auth import issue_token

    with app.app_context():
        user = db.session.get(User, user_id)
        user.is_active = True
        token = issue_token(user, label="fuzz").token
        db.session.remove()
    return token


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_breaks_its_schema(
    case: Any, app: Any, accounts: dict[str, Any]
) -> None:
    # Each generated request goes once as a learner and once as an admin (who passes
    # every role check, so the request reaches argument parsing and the service).
    variants = [dict(case.path_parameters)]
    known = accounts["known"]
    if case.path_parameters and set(case.path_parameters) <= set(known):
        variants.append({name: known[name] for name in case.path_parameters})
    for path_parameters in variants:
        case.path_parameters = path_parameters
        for role in ("learner", "admin"):
            response = case.call_and_validate(
                headers=bearer(fresh_token(app, accounts[role])), checks=CHECKS
            )
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == ERROR_KEYS, (role, body)
                assert body["code"] == response.status_code
