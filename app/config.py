"""Settings from `CERTPREP_*` environment variables, with embedded defaults.

Embedded defaults need no server: a SQLite file and a filesystem Celery broker in the
instance folder (`CERTPREP_INSTANCE_DIR`, default `./instance`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting has a value certprep cannot use."""


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    broker_url: str
    secret_key: str
    env: str = "development"
    token_ttl_seconds: int = 12 * 3600
    sim_urls: tuple[str, ...] = field(default_factory=tuple)
    extra: dict[str, Any] = field(default_factory=dict)

    def flask_config(self) -> dict[str, Any]:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
            "API_TITLE": "certprep",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "docs",
            "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
            **self.extra,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_settings(
    environ: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Read settings from `environ` (default: the process environment).

    `overrides` keys are Settings field names (lower case) or raw Flask config keys
    (upper case, kept in `extra`).
    """
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    instance_dir = Path(
        overrides.pop("instance_dir", None) or env.get("CERTPREP_INSTANCE_DIR") or "instance"
    ).resolve()
    values: dict[str, Any] = {
        "instance_dir": instance_dir,
        "database_url": env.get("CERTPREP_DATABASE_URL")
        or f"sqlite:///{instance_dir / 'certprep.sqlite3'}",
        "broker_url": env.get("CERTPREP_BROKER_URL") or "filesystem://",
        "secret_key": env.get("CERTPREP_SECRET_KEY") or "dev-only-not-secret",
        "env": env.get("CERTPREP_ENV", "development"),
        "sim_urls": tuple(u for u in env.get("CERTPREP_SIM_URLS", "").split(",") if u),
    }
    extra = {k: v for k, v in overrides.items() if k.isupper()}
    values.update({k: v for k, v in overrides.items() if not k.isupper()})
    values["extra"] = extra
    return Settings(**values)
