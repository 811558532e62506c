"""Every failure is the JSON body {code, status, message, errors} with the right status."""

from __future__ import annotations

import logging

import pytest

from app import create_app
from app.errors import STATUS_BY_ERROR, status_for
from app.extensions import db
from app.services.errors import Conflict, NotFound, ServiceError, TooManyRequests
from tests.fixtures.app import assert_json_error, bearer


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing", "/nowhere", "/api/v1/users/x"])
def test_unknown_route_is_json_404(client, url):
    body = assert_json_error(client.get(url), 404)
    assert body["status"] == "Not Found"


def test_wrong_method_is_json_405_with_allow(client):
    response = client.put("/api/v1/me")
    assert_json_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_missing_token_is_401_with_challenge(client):
    response = client.get("/api/v1/me")
    body = assert_json_error(response, 401)
    assert body["status"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="certprep"'


def test_wrong_scheme_is_401(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_json_error(response, 401)


def test_wrong_role_is_403(client, make_user):
    _, token = make_user("learner")
    body = assert_json_error(client.get("/api/v1/users", headers=bearer(token)), 403)
    assert "admin" in body["message"]


def test_missing_object_is_404(client, make_user):
    _, token = make_user("admin")
    body = assert_json_error(client.get("/api/v1/users/987654", headers=bearer(token)), 404)
    assert "987654" in body["message"]


def test_duplicate_is_409(client, make_user):
    user, token = make_user("admin")
    response = client.post(
        "/api/v1/users", json={"email": user.email, "password": "x" * 12}, headers=bearer(token)
    )
    assert_json_error(response, 409)


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    body = assert_json_error(response, 400)
    assert body["errors"] == {"json": ["Invalid JSON body."]}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"email": "a@example.test"}},
        {"json": {"email": "a" * 60 + "@" + "b" * 60 + "." + "c" * 200, "password": "x"}},
        {"json": {"email": "a@example.test", "password": 12}},
        {"json": ["a", "list"]},
        {"json": "a string"},
        {"data": "email=a@example.test", "content_type": "application/x-www-form-urlencoded"},
        {"data": b"\xff\xfe", "content_type": "application/json"},
    ],
)
def test_bad_body_is_400_or_422_never_500(client, kwargs):
    response = client.post("/api/v1/auth/token", **kwargs)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert_json_error(response, response.status_code)


def test_validation_errors_name_the_fields(client):
    response = client.post("/api/v1/auth/token", json={"email": "nope", "extra": 1})
    body = assert_json_error(response, 422)
    fields = body["errors"]["json"]
    assert set(fields) == {"email", "password", "extra"}


def test_unexpected_exception_is_logged_json_500(app_config, caplog):
    app = create_app(app_config)

    def explode():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/explode", "explode", explode)
    try:
        with caplog.at_level(logging.ERROR):
            response = app.test_client().get("/explode")
    finally:
        with app.app_context():
            db.engine.dispose()

    body = assert_json_error(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert body["message"] == "An unexpected error occurred."
    assert any(
        record.exc_info and "secret internal detail" in str(record.exc_info[1])
        for record in caplog.records
    )


def test_service_errors_map_through_their_parents():
    class DeadlinePassed(Conflict):
        pass

    class Weird(ServiceError):
        pass

    assert status_for(DeadlinePassed()) == 409
    assert status_for(NotFound()) == 404
    assert status_for(Weird()) == 400
    assert status_for(TooManyRequests(retry_after=3)) == 429
    assert all(400 <= code < 600 for code in STATUS_BY_ERROR.values())


def test_service_error_raised_in_a_view_becomes_json(app_config):
    app = create_app(app_config)

    def gone():
        raise TooManyRequests("slow down", retry_after=7, errors={"why": ["because"]})

    app.add_url_rule("/slow", "slow", gone)
    try:
        response = app.test_client().get("/slow")
    finally:
        with app.app_context():
            db.engine.dispose()
    body = assert_json_error(response, 429)
    assert body["message"] == "slow down"
    assert body["errors"] == {"why": ["because"]}
    assert response.headers["Retry-After"] == "7"
