"""Shared extension objects, created unbound and attached in `init_app`.

Import `db`, `migrate`, `api` from here; never create a second instance.

flask-smorest's `Api` keeps one spec and one app per instance, so each app gets its own
`Api` (tests build several apps in one process); `api` here is a proxy to the current
app's instance and works inside an app context.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from werkzeug.local import LocalProxy

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()

# Declared once, referenced by every protected operation (see app.api.common).
BEARER_SCHEME_NAME = "bearerAuth"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token from POST /api/v1/auth/token or `certprep user create`.",
}


def _current_api() -> Api:
    return current_app.extensions["certprep.api"]


api: Api = LocalProxy(_current_api)  # type: ignore[assignment]


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores ON DELETE CASCADE unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the web process read while a worker writes (embedded mode runs both).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Bind every shared extension to `app`."""
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_on_connect)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True)
    app_api = Api()
    app_api.init_app(app)
    app_api.spec.components.security_scheme(BEARER_SCHEME_NAME, BEARER_SCHEME)
    app.extensions["certprep.api"] = app_api

    from app.celery_app import celery_init_app

    celery_init_app(app)
