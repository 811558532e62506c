"""Hostile input never answers 500: huge integers, huge numbers, deep JSON, huge bodies
all get a 4xx in the one JSON error shape; responses match the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from app.config import MAX_REQUEST_BYTES
from tests.fixtures.app import assert_json_error, bearer

pytestmark = pytest.mark.reliability

API = "/api/v1"
HUGE = 2**64 + 1
DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def admin(make_user: Any) -> dict[str, str]:
    return bearer(make_user("admin")[1])


@pytest.mark.parametrize(
    "path",
    [
        f"/users/{HUGE}",
        f"/attempts/{HUGE}",
        f"/lab-sessions/{HUGE}",
        f"/lab-sessions/1/grades/{HUGE}",
        f"/cohorts/{10**40}/progress",
        f"/users/{2**31}",  # ids are 32-bit INTEGER columns on PostgreSQL
    ],
)
def test_integer_path_beyond_64_bits_is_404(client: Any, admin: dict[str, str], path: str) -> None:
    assert_json_error(client.get(API + path, headers=admin), 404)


@pytest.mark.parametrize(
    "query",
    [
        f"page={HUGE}",
        f"page={2**62}&page_size=100",
        f"page_size={HUGE}",
        f"page=-{HUGE}",
    ],
)
def test_pagination_beyond_range_is_422(client: Any, admin: dict[str, str], query: str) -> None:
    for path in ("/users", "/attempts", "/lab-sessions", "/quizzes", "/labs"):
        body = assert_json_error(client.get(f"{API}{path}?{query}", headers=admin), 422)
        assert "query" in body["errors"], (path, body)


@pytest.mark.parametrize("user", [HUGE, 2**31, -(2**31)])
def test_query_integer_beyond_32_bits_is_422(client: Any, admin: dict[str, str], user: int) -> None:
    body = assert_json_error(client.get(f"{API}/attempts?user={user}", headers=admin), 422)
    assert body["errors"]["query"]["user"]


def test_query_integer_within_range_is_accepted(client: Any, admin: dict[str, str]) -> None:
    assert client.get(f"{API}/attempts?user={2**31 - 1}", headers=admin).status_code == 200


def test_body_integer_beyond_64_bits_is_422(client: Any, make_user: Any) -> None:
    _, token = make_user("learner")
    response = client.put(
        f"{API}/attempts/1/responses/1",
        json={"response": {"value": [1, {"n": HUGE}]}},
        headers=bearer(token),
    )
    body = assert_json_error(response, 422)
    assert body["errors"]["json"] == {
        "response.value.1.n": [f"Must be between {-(2**63 - 1)} and {2**63 - 1}."]
    }


@pytest.mark.parametrize(
    "payload",
    [
        '{"accommodation": ' + "9" * 5000 + "}",  # over Python's int conversion limit
        '{"accommodation": ' + "9" * 400 + "}",  # an int too large for a float
        '{"accommodation": "' + "9" * 5000 + '"}',
        '{"accommodation": 1e999}',
    ],
)
def test_huge_accommodation_is_4xx(client: Any, make_user: Any, payload: str) -> None:
    learner, _ = make_user("learner")
    _, token = make_user("trainer")
    for method, path in (
        ("put", f"/users/{learner.id}/accommodation"),
        ("patch", f"/users/{learner.id}"),
    ):
        headers = bearer(make_user("admin")[1] if method == "patch" else token)
        response = client.open(
            API + path,
            method=method.upper(),
            data=payload,
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code in (400, 422), (path, response.get_data(as_text=True))
        assert_json_error(response, response.status_code)


def test_deep_json_is_400_even_without_login(client: Any, admin: dict[str, str]) -> None:
    for path, headers in (("/auth/token", {}), ("/users", admin), ("/cohorts", admin)):
        response = client.post(
            API + path, data=DEEP_JSON, content_type="application/json", headers=headers
        )
        body = assert_json_error(response, 400)
        assert body["errors"] == {"json": ["Invalid JSON body."]}


def test_nested_json_deeper_than_the_limit_is_422(client: Any, make_user: Any) -> None:
    # Deep enough to get through the decoder, deeper than any real request.
    nested: Any = 1
    for _ in range(200):
        nested = {"a": nested}
    body = json.dumps({"email": "x@example.test", "password": nested})
    response = client.post(f"{API}/auth/token", data=body, content_type="application/json")
    assert response.status_code in (400, 422)
    assert_json_error(response, response.status_code)


def test_body_over_the_limit_is_413_before_login_or_parsing(
    client: Any, admin: dict[str, str]
) -> None:
    big = b'{"email": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    for path, headers in (("/auth/token", {}), ("/users", admin), ("/users", {})):
        response = client.post(
            API + path, data=big, content_type="application/json", headers=headers
        )
        body = assert_json_error(response, 413)
        assert str(MAX_REQUEST_BYTES) in body["message"]


def test_chunked_body_over_the_limit_is_413(client: Any) -> None:
    def chunks() -> Any:
        yield b'{"email": "'
        for _ in range(20):
            yield b"a" * 100_000
        yield b'"}'

    response = client.post(
        f"{API}/auth/token",
        input_stream=_Stream(chunks()),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        # What a server sets for a chunked body (gunicorn does).
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_json_error(response, 413)


class _Stream:
    """A body of unknown length (no Content-Length), read in pieces."""

    def __init__(self, chunks: Any) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0


def test_body_under_the_limit_is_parsed(client: Any, admin: dict[str, str]) -> None:
    response = client.post(
        f"{API}/users", json={"email": "a" * 300, "password": "x" * 12}, headers=admin
    )
    assert_json_error(response, 422)


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    return client.get("/api/openapi.json").get_json()


def _validator(spec: dict[str, Any], name: str) -> OAS30Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return OAS30Validator(schema)


def test_pagination_header_is_documented_as_the_json_it_is(
    client: Any, admin: dict[str, str], spec: dict[str, Any]
) -> None:
    header = spec["components"]["headers"]["PAGINATION"]
    assert "schema" not in header
    assert header["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginationMetadata"
    }
    response = client.get(f"{API}/users", headers=admin)
    assert response.status_code == 200
    metadata = json.loads(response.headers["X-Pagination"])
    _validator(spec, "PaginationMetadata").validate(metadata)
    assert metadata["total"] == 1


def test_lab_session_without_cluster_matches_its_schema(spec: dict[str, Any]) -> None:
    from app.schemas.labs import LabSessionSchema

    dumped = LabSessionSchema().dump({"id": 1, "status": "provisioning", "cluster": None})
    assert dumped["cluster"] is None
    _validator(spec, "LabSession").validate(dumped)


@pytest.mark.parametrize(
    ("path", "method", "content_type"),
    [
        ("/api/v1/lab-sessions/{session_id}/kubeconfig", "get", "application/yaml"),
        (
            "/api/v1/lab-sessions/{session_id}/grades/{grade_id}/events",
            "get",
            "text/event-stream",
        ),
        ("/api/v1/cohorts/{cohort_id}/progress", "get", "text/csv"),
        ("/api/v1/quizzes/{slug}/statistics", "get", "text/csv"),
    ],
)
def test_text_responses_are_documented(
    spec: dict[str, Any], path: str, method: str, content_type: str
) -> None:
    content = spec["paths"][path][method]["responses"]["200"]["content"]
    assert content[content_type]["schema"] == {"type": "string"}


def test_nul_characters_are_refused_not_stored(client: Any, make_user: Any) -> None:
    # PostgreSQL text cannot hold NUL; its driver refuses the statement.
    _, token = make_user("trainer")
    created = client.post(f"{API}/cohorts", json={"name": "c"}, headers=bearer(token))
    cohort_id = created.get_json()["id"]
    body = assert_json_error(
        client.post(
            f"{API}/cohorts/{cohort_id}/members",
            json={"emails": ["a\x00b@example.test"]},
            headers=bearer(token),
        ),
        422,
    )
    assert body["errors"]["json"] == {"emails.0": ["Must not contain NUL characters."]}
    csv_body = assert_json_error(
        client.post(
            f"{API}/cohorts/{cohort_id}/members/csv",
            data="email\na\x00b@example.test\n",
            content_type="text/csv",
            headers=bearer(token),
        ),
        422,
    )
    assert "NUL" in csv_body["message"]
    assert_json_error(client.get(f"{API}/attempts?quiz=a%00b", headers=bearer(token)), 422)
    # In a path segment: no such route.
    assert_json_error(client.get(f"{API}/quizzes/a%00b", headers=bearer(token)), 404)
    assert_json_error(client.get(f"{API}/labs/a%00b/statistics", headers=bearer(token)), 404)
