"""certprep: timed Kubernetes quizzes and auto-graded hands-on labs.

`create_app(config)` is the only way to build the web application; importing this
package opens no connection and reads no environment variable.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    `config` overrides settings read from the `CERTPREP_*` environment (see
    `app.config.Settings`). Raises `app.config.ConfigError` on an invalid setting.
    """
    from app.config import load_settings

    app = Flask(__name__, instance_relative_config=False)
    settings = load_settings(overrides=config)
    app.config.from_mapping(settings.flask_config())
    app.config["CERTPREP_SETTINGS"] = settings

    from app import extensions

    extensions.init_app(app)

    from app.api import register_blueprints

    register_blueprints(app)
    return app
