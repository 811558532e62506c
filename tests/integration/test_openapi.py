"""The OpenAPI document: valid OpenAPI 3, bearer scheme declared and used, docs page."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from app import create_app
from app.extensions import BEARER_SCHEME_NAME, db

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
PUBLIC_OPERATIONS = {("post", "/api/v1/auth/token")}


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def test_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "certprep"
    validate(spec)


def test_bearer_scheme_is_declared(spec):
    scheme = spec["components"]["securitySchemes"][BEARER_SCHEME_NAME]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_every_protected_operation_declares_bearer_and_401(spec):
    seen = 0
    for method, path, operation in _operations(spec):
        if not path.startswith("/api/v1/") or (method, path) in PUBLIC_OPERATIONS:
            continue
        assert operation.get("security") == [{BEARER_SCHEME_NAME: []}], f"{method} {path}"
        assert "401" in operation["responses"], f"{method} {path}"
        seen += 1
    assert seen >= 6


def test_login_is_public_and_documents_throttling(spec):
    operation = spec["paths"]["/api/v1/auth/token"]["post"]
    assert "security" not in operation
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_documented_paths_match_the_contract(spec):
    paths = spec["paths"]
    assert {"post", "delete"} <= set(paths["/api/v1/auth/token"])
    assert "get" in paths["/api/v1/me"]
    assert {"get", "post"} <= set(paths["/api/v1/users"])
    assert {"get", "patch"} <= set(paths["/api/v1/users/{user_id}"])
    assert "delete" in paths["/api/v1/users/{user_id}/tokens"]


def test_list_endpoint_documents_pagination(spec):
    operation = spec["paths"]["/api/v1/users"]["get"]
    assert "X-Pagination" in operation["responses"]["200"]["headers"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"page", "page_size"} <= names


def test_admin_operations_document_403(spec):
    assert "403" in spec["paths"]["/api/v1/users"]["post"]["responses"]
    assert "403" not in spec["paths"]["/api/v1/me"]["get"]["responses"]


def test_error_schema_has_the_one_error_shape(spec):
    properties = spec["components"]["schemas"]["Error"]["properties"]
    assert set(properties) == {"code", "status", "message", "errors"}


def test_interactive_docs_page(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/api/openapi.json" in response.get_data(as_text=True)


def test_each_app_serves_its_own_document(client, app_config):
    """A second app in the same process must not replace the first one's document."""
    other = create_app(app_config)
    try:
        mine = client.get("/api/openapi.json").get_json()
        theirs = other.test_client().get("/api/openapi.json").get_json()
    finally:
        with other.app_context():
            db.engine.dispose()
    assert mine["paths"].keys() == theirs["paths"].keys()
    assert BEARER_SCHEME_NAME in mine["components"]["securitySchemes"]
