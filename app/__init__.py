"""certprep: timed Kubernetes quizzes and auto-graded hands-on labs.

`create_app(config)` is the only way to build the web application; importing this
package opens no connection and reads no environment variable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

# Flask is imported inside the functions: the command line and the simulator import this
# package too, and most of their commands never build the web application.


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    `config` overrides settings read from the `CERTPREP_*` environment (see
    `app.config.Settings`): lower-case keys are settings, upper-case keys raw Flask
    config. Raises `app.config.ConfigError` on an invalid setting.
    """
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.config import load_settings

    settings = load_settings(overrides=config)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.from_mapping(settings.flask_config())
    app.config["CERTPREP_SETTINGS"] = settings
    from app.web.session import CookieSessionInterface

    # Flask's signed-cookie sessions, skipping their work for requests without a cookie.
    app.session_interface = CookieSessionInterface()
    if settings.database_url.startswith("sqlite"):
        # The embedded database lives in the instance folder; create it on first use,
        # readable by its owner only.
        from app.config import secure_sqlite_storage

        secure_sqlite_storage(settings.database_url, settings.instance_dir)
    if settings.proxy_hops:
        # Only trust X-Forwarded-* from the configured number of proxies: the client
        # address feeds login throttling, so a spoofable one would defeat it.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.proxy_hops,
            x_proto=settings.proxy_hops,
            x_host=settings.proxy_hops,
        )

    from app import extensions

    extensions.init_app(app)

    from app.errors import register_error_handlers

    register_error_handlers(app)

    from app.api import register_blueprints

    # The shared `api` object is a proxy to this app's Api, so register in its context.
    with app.app_context():
        register_blueprints(app)
    return app
