"""REST API blueprints. Each module holds one resource; register it in `BLUEPRINTS`."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

PAGINATION_HEADER = "PAGINATION"
PAGINATION_SCHEMA_REF = "#/components/schemas/PaginationMetadata"

# Module paths of flask-smorest blueprints (attribute `blp`), in OpenAPI tag order.
BLUEPRINTS: list[str] = [
    "app.api.auth",
    "app.api.users",
    "app.api.banks",
    "app.api.questions",
    "app.api.quizzes",
    "app.api.attempts",
    "app.api.labs",
    "app.api.lab_sessions",
    "app.api.exams",
    "app.api.cohorts",
    "app.api.statistics",
]

# Module paths of plain Flask blueprints (attribute `bp`): health, metrics, pages.
PLAIN_BLUEPRINTS: list[str] = [
    "app.api.health",
    "app.web.dashboard",
    "app.web.learner",
    "app.web.exam_pages",
    "app.web.terminal",
]


def register_blueprints(app: Flask) -> None:
    from app.api.parsing import install_converters
    from app.extensions import api

    install_converters(app, api)
    for path in PLAIN_BLUEPRINTS:
        app.register_blueprint(import_module(path).bp)
    for path in BLUEPRINTS:
        api.register_blueprint(import_module(path).blp, url_prefix="/api/v1")
    # flask-smorest documents X-Pagination with an object schema, which in OpenAPI means
    # the `k,v,k,v` header style; the header is sent as JSON, which OpenAPI describes
    # with `content`.
    api.spec.components.headers[PAGINATION_HEADER] = {
        "description": "Pagination metadata, a JSON object.",
        "content": {"application/json": {"schema": {"$ref": PAGINATION_SCHEMA_REF}}},
    }
