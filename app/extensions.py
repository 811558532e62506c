"""Shared extension objects, created unbound and attached in `init_app`.

Import `db`, `migrate`, `api` from here; never create a second instance.
"""

from __future__ import annotations

from flask import Flask
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()


def init_app(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True)
    api.init_app(app)
