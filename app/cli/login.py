"""`certprep login|logout` and the REST client the learner commands share.

A saved login is `login.json` in the user's config folder (`$CERTPREP_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/certprep`, else `~/.config/certprep`), readable by its owner only
(0600). Learner commands take `--api URL --token T` (or `CERTPREP_API`/`CERTPREP_TOKEN`)
and fall back to the saved login.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

API_PREFIX = "/api/v1"
LOGIN_FILE = "login.json"
REQUEST_TIMEOUT = 30


def api_base(url: str) -> str:
    """The service's base URL from what a user typed: the base (`http://host:8000`) or the
    API URL `certprep up` prints (`http://host:8000/api/v1`), with or without a trailing
    slash."""
    base = url.strip().rstrip("/")
    if base.endswith(API_PREFIX):
        base = base[: -len(API_PREFIX)].rstrip("/")
    return base


def config_dir() -> Path:
    """The folder holding the saved login."""
    explicit = os.environ.get("CERTPREP_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "certprep"


def save_login(api: str, token: str, email: str, expires_at: str | None) -> Path:
    """Write the login file with mode 0600 (created so; never world-readable in between)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / LOGIN_FILE
    data = {"api": api, "token": token, "email": email, "expires_at": expires_at}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    # An existing file keeps its old mode through O_CREAT; tighten it explicitly.
    path.chmod(0o600)
    return path


def load_login() -> dict[str, Any] | None:
    """The saved login, or None when there is none or it is unreadable."""
    path = config_dir() / LOGIN_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class ApiError(click.ClickException):
    """The API answered with an error; the message carries its status and message."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else None
        details = body.get("errors") if isinstance(body, dict) else None
        text = f"{status}: {message or body}"
        if details:
            text += f" {json.dumps(details)}"
        super().__init__(text)
        self.status = status
        self.body = body


class ApiClient:
    """A small JSON client for the certprep REST API."""

    def __init__(self, api: str, token: str | None) -> None:
        import requests  # here, not at import: `--help` and start-up stay fast

        self.base = api_base(api) + API_PREFIX
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Send a request; returns (status, JSON body). Raises `ApiError` on 4xx/5xx and
        `click.ClickException` when the server cannot be reached."""
        import requests

        try:
            response = self.session.request(
                method, self.base + path, timeout=REQUEST_TIMEOUT, **kwargs
            )
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach {self.base}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return response.status_code, body

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)[1]

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)[1]

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)[1]


def api_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--api` and `--token` to a command and pass it a ready `client: ApiClient`."""

    @click.option("--api", envvar="CERTPREP_API", help="Base URL, e.g. http://127.0.0.1:8000")
    @click.option("--token", envvar="CERTPREP_TOKEN", help="Bearer token.")
    @functools.wraps(command)
    def wrapper(*args: Any, api: str | None, token: str | None, **kwargs: Any) -> Any:
        saved = load_login() or {}
        api = api_base(api) if api else saved.get("api")
        saved_api = api_base(saved["api"]) if saved.get("api") else None
        token = token or (saved.get("token") if saved_api == api else None)
        if not api or not token:
            raise click.UsageError(
                "no API and token: pass --api URL --token T, or run `certprep login` first"
            )
        return command(*args, client=ApiClient(api, token), **kwargs)

    return wrapper


@click.command("login")
@click.option(
    "--api",
    required=True,
    envvar="CERTPREP_API",
    help="The service's URL: the base (http://HOST:8000) or the API URL (.../api/v1).",
)
@click.option("--email", required=True, help="Account email.")
@click.password_option("--password", confirmation_prompt=False, help="Prompted when omitted.")
def login(api: str, email: str, password: str) -> None:
    """Log in and save the token in the user config folder (mode 0600)."""
    api = api_base(api)
    body = ApiClient(api, None).post("/auth/token", json={"email": email, "password": password})
    path = save_login(api, body["token"], email, body.get("expires_at"))
    click.echo(f"logged in as {email}; token saved in {path} (expires {body.get('expires_at')})")


@click.command("logout")
def logout() -> None:
    """Forget the saved login (the token stays valid until it expires)."""
    path = config_dir() / LOGIN_FILE
    if path.exists():
        path.unlink()
        click.echo(f"removed {path}")
    else:
        click.echo("not logged in")


commands = [login, logout]
