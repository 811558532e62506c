"""Activity log events as xAPI 1.0.3 statements (actor, verb, object, result, context).

Verbs are the ADL vocabulary's where one fits: started -> attempted, answered ->
answered, submitted -> completed, graded -> passed / failed, expired -> abandoned (the
cmi5 verb for a session that ended without a proper exit). Statement ids are UUIDv5 of
the event id under a fixed namespace, so exporting twice gives the same ids and a
Learning Record Store deduplicates them.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.models.activity import ActivityEvent, ActivityObject, ActivityVerb
from app.models.cohort import Cohort
from app.models.user import User

XAPI_VERSION = "1.0.3"
# Fixed namespace for statement ids (uuid5 of "certprep activity" under the URL namespace).
STATEMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "certprep activity")

VERBS: dict[ActivityVerb, tuple[str, str]] = {
    ActivityVerb.STARTED: ("http://adlnet.gov/expapi/verbs/attempted", "attempted"),
    ActivityVerb.ANSWERED: ("http://adlnet.gov/expapi/verbs/answered", "answered"),
    ActivityVerb.SUBMITTED: ("http://adlnet.gov/expapi/verbs/completed", "completed"),
    ActivityVerb.EXPIRED: ("https://w3id.org/xapi/adl/verbs/abandoned", "abandoned"),
}
PASSED = ("http://adlnet.gov/expapi/verbs/passed", "passed")
FAILED = ("http://adlnet.gov/expapi/verbs/failed", "failed")
ACTIVITY_TYPES = {
    ActivityObject.QUIZ: "http://adlnet.gov/expapi/activities/assessment",
    ActivityObject.LAB: "http://adlnet.gov/expapi/activities/simulation",
}
ACTIVITY_PATHS = {ActivityObject.QUIZ: "quizzes", ActivityObject.LAB: "labs"}
QUESTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"


def _verb(event: ActivityEvent) -> dict[str, Any]:
    if event.verb is ActivityVerb.GRADED:
        iri, name = PASSED if event.passed else FAILED
    else:
        iri, name = VERBS[event.verb]
    return {"id": iri, "display": {"en-US": name}}


def statement(event: ActivityEvent, user: User, base_url: str, cohort: Cohort) -> dict[str, Any]:
    """One xAPI statement for `event` by `user`; activity ids are URLs under `base_url`."""
    kind = event.object_kind.value
    activity_id = f"{base_url}/{ACTIVITY_PATHS[event.object_kind]}/{event.object_slug}"
    body: dict[str, Any] = {
        "id": str(uuid.uuid5(STATEMENT_NAMESPACE, str(event.id))),
        "version": XAPI_VERSION,
        "actor": {"objectType": "Agent", "mbox": f"mailto:{user.email}"},
        "verb": _verb(event),
        "object": {
            "objectType": "Activity",
            "id": activity_id,
            "definition": {
                "type": ACTIVITY_TYPES[event.object_kind],
                "name": {"en-US": event.object_slug},
            },
        },
        "timestamp": event.occurred_at.isoformat(),
        "context": {
            "registration": str(uuid.uuid5(STATEMENT_NAMESPACE, f"{kind}-{event.subject_id or 0}")),
            "contextActivities": {
                "grouping": [{"objectType": "Activity", "id": f"{base_url}/cohorts/{cohort.id}"}]
            },
            "extensions": {f"{base_url}/xapi/attempt": event.subject_id},
        },
    }
    details = event.details or {}
    if event.verb is ActivityVerb.ANSWERED and "question_id" in details:
        # The answered question is the object; its quiz becomes the parent.
        body["object"] = {
            "objectType": "Activity",
            "id": f"{activity_id}/questions/{details['question_id']}",
            "definition": {"type": QUESTION_TYPE},
        }
        body["context"]["contextActivities"]["parent"] = [
            {"objectType": "Activity", "id": activity_id}
        ]
    if event.percent is not None:
        body["result"] = {
            "score": {
                "scaled": round(event.percent / 100, 4),
                "raw": event.percent,
                "min": 0,
                "max": 100,
            },
            "success": bool(event.passed),
            "completion": True,
        }
    elif event.verb is ActivityVerb.EXPIRED:
        body["result"] = {"completion": False}
    return body


def statements(
    events: list[ActivityEvent], users: dict[int, User], base_url: str, cohort: Cohort
) -> dict[str, Any]:
    """An xAPI `StatementResult` for `events` (users looked up in `users`)."""
    return {
        "statements": [statement(e, users[e.user_id], base_url, cohort) for e in events],
        "more": "",
    }
