"""Settings from `CERTPREP_*` environment variables, with embedded defaults.

Embedded defaults need no server: a SQLite file and a filesystem Celery broker in the
instance folder (`CERTPREP_INSTANCE_DIR`, default `./instance`).

| variable | setting | default |
| --- | --- | --- |
| `CERTPREP_INSTANCE_DIR` | `instance_dir` | `./instance` |
| `CERTPREP_DATABASE_URL` | `database_url` | `sqlite:///<instance>/certprep.sqlite3` |
| `CERTPREP_BROKER_URL` | `broker_url` | `filesystem://` |
| `CERTPREP_SECRET_KEY` | `secret_key` | a development value (refused in production) |
| `CERTPREP_ENV` | `env` | `development` (`development`, `testing`, `production`) |
| `CERTPREP_TESTING` | `testing` | true when `CERTPREP_ENV=testing` |
| `CERTPREP_TOKEN_TTL_SECONDS` | `token_ttl_seconds` | 43200 (12 hours) |
| `CERTPREP_LOGIN_MAX_FAILURES` | `login_max_failures` | 5 per account |
| `CERTPREP_LOGIN_MAX_FAILURES_PER_ADDRESS` | `login_max_failures_per_address` | 20 |
| `CERTPREP_LOGIN_WINDOW_SECONDS` | `login_window_seconds` | 900 |
| `CERTPREP_PROXY_HOPS` | `proxy_hops` | 0 (trust no `X-Forwarded-For`) |
| `CERTPREP_SIM_URLS` | `sim_urls` | none (comma-separated) |

`certprep up` sets `CERTPREP_SECRET_KEY`, when it is not set, to a key it generates
once per instance folder (`instance_secret_key`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENTS = ("development", "testing", "production")
DEV_SECRET_KEY = "dev-only-not-secret"
# `certprep up` keeps the instance's own secret key in this file of the instance folder.
SECRET_KEY_FILE = "secret_key"
SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgresql")

# Seconds after which a pooled server connection is replaced instead of reused: well
# under common idle-connection timeouts of proxies and firewalls (often 1 hour), so the
# pool does not need a ping before every use.
DB_POOL_RECYCLE_SECONDS = 1800
# Seconds to wait for a PostgreSQL connection (TCP connect and start-up together): a
# server that accepts and never answers must not hold a request or a probe forever.
DB_CONNECT_TIMEOUT_SECONDS = 5

# Largest request body accepted (bytes); a larger one is refused with 413 unread. The
# largest legitimate bodies (a cohort roster CSV, a node file) are far below it.
MAX_REQUEST_BYTES = 1024 * 1024


def _private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it accessible to its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def secure_sqlite_storage(database_url: str, instance_dir: Path) -> None:
    """Make the instance folder 0700 and the SQLite database file (with its WAL and
    shared-memory files) 0600, creating the folder and an empty file if missing: the
    database holds password hashes, token hashes and lab credentials."""
    _private_dir(instance_dir)
    path_text = database_url.split(":///", 1)[1].split("?", 1)[0] if ":///" in database_url else ""
    if not path_text or path_text == ":memory:" or path_text.startswith("file:"):
        return
    database = Path(path_text)
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        companion = database.with_name(database.name + suffix)
        if companion.exists():
            companion.chmod(0o600)


class ConfigError(ValueError):
    """A setting has a value certprep cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    broker_url: str
    secret_key: str
    env: str = "development"
    testing: bool = False
    token_ttl_seconds: int = 12 * 3600
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_window_seconds: int = 15 * 60
    proxy_hops: int = 0
    # Connections each process keeps to PostgreSQL; `certprep serve` raises it to its
    # threads per worker, so no request thread opens and closes a connection of its own.
    db_pool_size: int = 5
    sim_urls: tuple[str, ...] = field(default_factory=tuple)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_settings(self)

    def flask_config(self) -> dict[str, Any]:
        """The Flask config mapping for these settings (`extra` keys win)."""
        engine_options: dict[str, Any]
        if self.database_url.startswith("sqlite"):
            # Web threads and CLI commands share one file; wait for a writer instead of
            # failing at once with "database is locked".
            engine_options = {"pool_pre_ping": True, "connect_args": {"timeout": 30}}
        else:
            # No ping on every checkout: it is one more round trip on every request (the
            # autosave path's largest fixed cost after its own statements). Connections
            # are replaced before a server or proxy idle timeout can close them, and a
            # connection that fails anyway is detected by SQLAlchemy as a disconnect,
            # which invalidates the whole pool so the next request gets a fresh one.
            engine_options = {
                "pool_pre_ping": False,
                "pool_recycle": DB_POOL_RECYCLE_SECONDS,
                "pool_size": self.db_pool_size,
                "connect_args": {"connect_timeout": DB_CONNECT_TIMEOUT_SECONDS},
            }
        return {
            "TESTING": self.testing,
            # Unhandled errors become the JSON 500 answer (and a logged traceback) in
            # tests too, so tests see what clients see.
            "PROPAGATE_EXCEPTIONS": False,
            "SECRET_KEY": self.secret_key,
            "MAX_CONTENT_LENGTH": MAX_REQUEST_BYTES,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
            "API_TITLE": "certprep",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "docs",
            # Swagger UI ships in the package (app/web/static/vendor/swagger_ui).
            "OPENAPI_SWAGGER_UI_URL": "/assets/vendor/swagger_ui/",
            **self.extra,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def validate_settings(settings: Settings) -> None:
    """Check cross-field rules; raise `ConfigError` naming the variable on the first bad one."""
    if settings.env not in ENVIRONMENTS:
        raise ConfigError(
            f"CERTPREP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {settings.env!r}"
        )
    scheme = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in settings.database_url or scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ConfigError(
            "CERTPREP_DATABASE_URL must be a sqlite:/// or postgresql:// URL, "
            f"got {settings.database_url!r}"
        )
    if not settings.secret_key:
        raise ConfigError("CERTPREP_SECRET_KEY must not be empty")
    if settings.env == "production" and settings.secret_key == DEV_SECRET_KEY:
        raise ConfigError("CERTPREP_SECRET_KEY must be set to a random value in production")
    for url in settings.sim_urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"CERTPREP_SIM_URLS entries must be http(s) URLs, got {url!r}")


# Environment variable -> (setting name, converter).
_ENV_VARS: dict[str, tuple[str, Any]] = {
    "CERTPREP_DATABASE_URL": ("database_url", str),
    "CERTPREP_BROKER_URL": ("broker_url", str),
    "CERTPREP_SECRET_KEY": ("secret_key", str),
    "CERTPREP_ENV": ("env", str),
    "CERTPREP_TESTING": ("testing", _boolean),
    "CERTPREP_TOKEN_TTL_SECONDS": ("token_ttl_seconds", _positive_int),
    "CERTPREP_LOGIN_MAX_FAILURES": ("login_max_failures", _positive_int),
    "CERTPREP_LOGIN_MAX_FAILURES_PER_ADDRESS": (
        "login_max_failures_per_address",
        _positive_int,
    ),
    "CERTPREP_LOGIN_WINDOW_SECONDS": ("login_window_seconds", _positive_int),
    "CERTPREP_PROXY_HOPS": ("proxy_hops", lambda name, v: _positive_int(name, v, minimum=0)),
    "CERTPREP_DB_POOL_SIZE": ("db_pool_size", _positive_int),
}
_SETTING_TO_ENV = {setting: env for env, (setting, _) in _ENV_VARS.items()}
_INT_SETTINGS = {
    "token_ttl_seconds": 1,
    "login_max_failures": 1,
    "login_max_failures_per_address": 1,
    "login_window_seconds": 1,
    "proxy_hops": 0,
    "db_pool_size": 1,
}


def load_settings(
    environ: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Read settings from `environ` (default: the process environment).

    `overrides` keys are Settings field names (lower case) or raw Flask config keys
    (upper case, kept in `extra`). Raises `ConfigError` naming the variable when a
    value is unusable or an override names no setting.
    """
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    instance_dir = Path(
        overrides.pop("instance_dir", None) or env.get("CERTPREP_INSTANCE_DIR") or "instance"
    ).resolve()
    values: dict[str, Any] = {
        "instance_dir": instance_dir,
        "database_url": f"sqlite:///{instance_dir / 'certprep.sqlite3'}",
        "broker_url": "filesystem://",
        "secret_key": DEV_SECRET_KEY,
    }
    for var, (setting, convert) in _ENV_VARS.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        values[setting] = convert(var, raw) if convert is not str else raw
    values["sim_urls"] = tuple(
        u.strip() for u in env.get("CERTPREP_SIM_URLS", "").split(",") if u.strip()
    )

    known = {f.name for f in fields(Settings)}
    extra = {k: v for k, v in overrides.items() if k.isupper()}
    for key, value in overrides.items():
        if key.isupper():
            continue
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        if key in _INT_SETTINGS:
            value = _positive_int(key, value, minimum=_INT_SETTINGS[key])
        elif key == "testing":
            value = _boolean(key, value)
        elif key == "sim_urls":
            value = tuple(value)
        values[key] = value
    values.setdefault("env", "development")
    if "testing" not in values:
        values["testing"] = values["env"] == "testing"
    values["extra"] = extra
    return Settings(**values)


def instance_secret_key(instance_dir: Path) -> str:
    """The secret key kept in `<instance_dir>/secret_key`, created (mode 0600, 384
    random bits) when missing. Raises `ConfigError` when the file is empty."""

    path = Path(instance_dir) / SECRET_KEY_FILE
    _private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise ConfigError(f"{path} is empty; delete it to get a new secret key") from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def env_var_for(setting: str) -> str | None:
    """The `CERTPREP_*` variable that sets `setting`, if there is one."""
    return _SETTING_TO_ENV.get(setting)
