"""`certprep serve | worker | beat | up`: the runtime roles of one codebase.

- `serve` runs the web API under gunicorn (`--dev`: Flask's own server).
- `worker` runs a Celery worker, `beat` the periodic scheduler (app.tasks.schedule).
- `up` runs everything on embedded defaults (SQLite and the filesystem broker in the
  instance folder): migrate, import content, start web + worker + beat + simulator as
  child processes, wait for `/readyz`, print the URLs and a fresh admin token, and stop
  them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from app.cli.common import build_app

ADMIN_EMAIL = "admin@certprep.local"

# Commands `up` runs to load content when they exist; `bank import` loads question
# banks, quiz blueprints and labs, is idempotent and defaults to the project's own
# content folders.
CONTENT_IMPORTS: list[tuple[str, ...]] = [("bank", "import")]

# Seconds `up` gives children to exit after SIGTERM before it sends SIGKILL; longer than
# gunicorn's --graceful-timeout below so in-flight requests can finish.
STOP_GRACE_SECONDS = 20
GUNICORN_GRACEFUL_TIMEOUT = 15

# A request taking longer than this makes gunicorn restart the worker (gunicorn's --timeout).
GUNICORN_REQUEST_TIMEOUT = 60
# Seconds an idle kept-alive connection stays open (gunicorn's --keep-alive).
GUNICORN_KEEPALIVE = 5

# gunicorn worker models `serve` offers. gthread reads a request head in a pool thread,
# so as many slow clients as threads stall every other request: it is the default behind
# the buffering proxy of docker/compose.yaml, where it costs less CPU per request.
# gevent reads each connection in its own greenlet, up to GEVENT_CONNECTIONS per worker
# process, so slow clients cannot starve it: `up` serves browsers directly and uses it.
WORKER_CLASSES = ("gthread", "gevent")
DEFAULT_WORKER_CLASS = "gthread"
GEVENT_CONNECTIONS = 1000
# The gunicorn arguments `up` gives `certprep serve`.
UP_SERVE_ARGS = ("--workers", "2", "--worker-class", "gevent")


def wsgi_app() -> Any:
    """The WSGI application for gunicorn (`app.cli.serve:wsgi_app()`): logging set up,
    then the app built from the `CERTPREP_*` environment."""
    from app import create_app
    from app.logging import configure_logging

    # Configured once per worker process: loggers can be cached (a hot-path saving).
    configure_logging(cache_loggers=True)
    return create_app()


def _celery_from_env() -> Any:
    from app.celery_app import use_certprep_logging

    use_certprep_logging()
    return build_app().extensions["celery"]


# ------------------------------------------------------------------------------- serve


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option(
    "--workers", default=2, show_default=True, type=int, help="gunicorn worker processes."
)
@click.option(
    "--threads", default=4, show_default=True, type=int, help="Threads per gthread worker."
)
@click.option(
    "--worker-class",
    type=click.Choice(WORKER_CLASSES),
    default=DEFAULT_WORKER_CLASS,
    show_default=True,
    help="gunicorn worker model (see docs/operations.md: slow clients).",
)
@click.option("--dev", is_flag=True, help="Run Flask's development server instead of gunicorn.")
def serve(host: str, port: int, workers: int, threads: int, worker_class: str, dev: bool) -> None:
    """Run the web API (REST, /healthz, /readyz, /metrics)."""
    if dev:
        from app.logging import configure_logging

        configure_logging()
        build_app().run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
        return
    env = dict(os.environ)
    if workers > 1 and not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several processes answer /metrics in turn: share counters through files.
        settings = build_app().config["CERTPREP_SETTINGS"]
        folder = settings.instance_dir / "prometheus"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        *_worker_model_args(worker_class, threads),
        "--keep-alive",
        str(GUNICORN_KEEPALIVE),
        "--timeout",
        str(GUNICORN_REQUEST_TIMEOUT),
        "--graceful-timeout",
        str(GUNICORN_GRACEFUL_TIMEOUT),
        "--forwarded-allow-ips",
        "*",
    ]
    if _gunicorn_has_setting("control_socket_disable"):
        # gunicorn 27+ opens a control socket at one fixed path in $HOME; two servers on
        # one host (or `up` next to `serve`) would fight over it, and we do not use it.
        argv.append("--no-control-socket")
    argv.append("app.cli.serve:wsgi_app()")
    # Replace this process: signals from a supervisor go straight to gunicorn's master.
    os.execve(sys.executable, argv, env)


def _worker_model_args(worker_class: str, threads: int) -> list[str]:
    if worker_class == "gevent":
        return ["--worker-class", "gevent", "--worker-connections", str(GEVENT_CONNECTIONS)]
    return ["--worker-class", "gthread", "--threads", str(threads)]


def _gunicorn_has_setting(name: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == name for setting in KNOWN_SETTINGS)


# ------------------------------------------------------------------------ worker, beat


@click.command("worker")
@click.option("--concurrency", "-c", type=int, default=None, help="Pool size (default: CPUs).")
@click.option(
    "--pool",
    "-P",
    type=click.Choice(["prefork", "solo", "threads"]),
    default="prefork",
    show_default=True,
    help="Execution pool; time limits are enforced by prefork only.",
)
@click.option("--queues", "-Q", default=None, help="Comma-separated queues (default: certprep).")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Node name, e.g. worker1@%h.")
def worker(
    concurrency: int | None, pool: str, queues: str | None, loglevel: str, hostname: str | None
) -> None:
    """Run a Celery worker (grading, provisioning, maintenance jobs)."""
    from app.celery_app import DEFAULT_QUEUE

    celery = _celery_from_env()
    argv = ["worker", f"--loglevel={loglevel}", f"--pool={pool}"]
    argv.append(f"--queues={queues or DEFAULT_QUEUE}")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    if celery.conf.broker_url.startswith("filesystem://"):
        # Embedded mode has one worker: no peers to synchronise with or gossip to.
        argv += ["--without-mingle", "--without-gossip"]
    celery.worker_main(argv)


@click.command("beat")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run the periodic scheduler (the jobs in app.tasks.schedule). Run exactly one."""
    celery = _celery_from_env()
    celery.start(
        ["beat", f"--loglevel={loglevel}", f"--schedule={celery.conf.beat_schedule_filename}"]
    )


# ---------------------------------------------------------------------------------- up


@dataclass
class Child:
    """A role started by `up`."""

    role: str
    process: subprocess.Popen

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def certprep_argv() -> list[str]:
    """How to run the `certprep` command from here: the console script beside this
    interpreter, else the interpreter with the CLI module."""
    script = Path(sys.executable).with_name("certprep")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def _find_command(root: click.Group, *path: str) -> click.Command | None:
    command: click.Command | None = root
    for name in path:
        if not isinstance(command, click.Group):
            return None
        command = command.commands.get(name)
    return command


def _embedded_environment(instance_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CERTPREP_INSTANCE_DIR"] = str(instance_dir)
    env["CERTPREP_DATABASE_URL"] = f"sqlite:///{instance_dir / 'certprep.sqlite3'}"
    env["CERTPREP_BROKER_URL"] = "filesystem://"
    env.pop("CERTPREP_SIM_URLS", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _wait_until_ready(url: str, children: list[Child], timeout: float) -> str | None:
    """Poll `url` until it answers 200; returns None when ready, else why not."""
    import requests

    end = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < end:
        dead = [child.role for child in children if not child.alive]
        if dead:
            return f"{', '.join(dead)} exited during start-up"
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return None
            last = f"HTTP {response.status_code}: {response.text.strip()[:300]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    return f"not ready after {timeout:.0f} s ({last})"


def _simulator_argv(
    root: click.Group,
    certprep: list[str],
    host: str,
    port: int,
    env: dict[str, str],
    instance: Path,
) -> list[str]:
    """The `sim serve` command line for `up`; fills `env` with what the other roles need
    to manage its clusters: one admin token and the CA file of its certificate."""
    from app.cli.sim import CA_FILE

    command = _find_command(root, "sim", "serve")
    options = {param.name for param in command.params} if command is not None else set()
    # State (server.json, CA, persisted clusters) belongs to this instance folder unless
    # the caller chose a folder.
    state_dir = Path(env.get("CERTPREP_SIM_STATE_DIR") or instance / "sim")
    env["CERTPREP_SIM_STATE_DIR"] = str(state_dir)
    env.setdefault("CERTPREP_SIM_ADMIN_TOKEN", secrets.token_urlsafe(32))
    # Always this server's CA: a CA file set for some other server would not verify it.
    env["CERTPREP_SIM_CA_FILE"] = str(state_dir / CA_FILE)
    argv = [*certprep, "sim", "serve", "--host", host, "--port", str(port)]
    if "state_dir" in options:
        argv += ["--state-dir", str(state_dir)]
    if "persist" in options:
        # Clusters of lab sessions survive a restart of `up`, like the database does.
        argv.append("--persist")
    return argv


def _start(role: str, argv: list[str], env: dict[str, str]) -> Child:
    child = Child(role, subprocess.Popen(argv, env=env))
    click.echo(f"started {role} (pid {child.process.pid})")
    return child


def _wait_for_simulator(
    host: str, port: int, child: Child, timeout: float, stop_requested: list[int]
) -> str | None:
    """The simulator's base URL once its `/healthz` answers (HTTPS is its default, plain
    HTTP is tried too); None when it exited, did not answer in time, or a stop came."""
    from app.api.health import probe_simulator

    end = time.monotonic() + timeout
    while time.monotonic() < end and child.alive and not stop_requested:
        for scheme in ("https", "http"):
            url = f"{scheme}://{host}:{port}"
            if probe_simulator(url)["ok"]:
                return url
        time.sleep(0.3)
    return None


def _migrate(certprep: list[str], env: dict[str, str]) -> None:
    """`certprep db upgrade` as a subprocess; ClickException when it fails."""
    migrated = subprocess.run([*certprep, "db", "upgrade"], env=env, check=False)
    if migrated.returncode != 0:
        raise click.ClickException("database migration failed (see above)")


def _import_content(
    certprep: list[str], root: click.Group, env: dict[str, str], demo: bool
) -> None:
    """Import the content and (with `demo`) seed the demo cohort, each as a `certprep`
    subprocess; a failure is reported and `up` goes on (the service runs without it)."""
    for content in CONTENT_IMPORTS:
        if _find_command(root, *content) is None:
            click.echo(f"no `certprep {' '.join(content)}` command: skipping it")
            continue
        imported = subprocess.run([*certprep, *content], env=env, check=False)
        if imported.returncode != 0:
            click.echo(f"`certprep {' '.join(content)}` failed (see above); going on", err=True)
    if demo:
        click.echo("seeding the demo cohort (certprep demo seed) ...")
        seeded = subprocess.run([*certprep, "demo", "seed"], env=env, check=False)
        if seeded.returncode != 0:
            click.echo("`certprep demo seed` failed (see above); going on", err=True)


def _stop(children: list[Child]) -> None:
    """SIGTERM every child still running, wait, then SIGKILL the stragglers."""
    for child in children:
        if child.alive:
            child.process.send_signal(signal.SIGTERM)
    end = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        remaining = max(0.1, end - time.monotonic())
        try:
            child.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            click.echo(f"{child.role} did not stop in time; killing it", err=True)
            child.process.kill()
            child.process.wait()


def _issue_admin_token(env: dict[str, str]) -> str:
    from app.models.user import Role
    from app.services.auth import issue_token
    from app.services.users import create_user, find_user_by_email

    application = build_app(
        {
            "instance_dir": env["CERTPREP_INSTANCE_DIR"],
            "database_url": env["CERTPREP_DATABASE_URL"],
            "broker_url": env["CERTPREP_BROKER_URL"],
            "sim_urls": (),
        }
    )
    with application.app_context():
        user = find_user_by_email(ADMIN_EMAIL) or create_user(ADMIN_EMAIL, Role.ADMIN)
        return issue_token(user, label="certprep up").token


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the web API.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the web API.")
@click.option(
    "--sim-port", type=int, default=None, help="Port of the simulator (default: PORT + 1)."
)
@click.option(
    "--instance-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the SQLite database, broker files and state (default: ./instance).",
)
@click.option("--no-sim", is_flag=True, help="Do not start the simulator server.")
@click.option(
    "--ready-timeout", default=120.0, show_default=True, help="Seconds to wait for /readyz."
)
@click.option(
    "--demo",
    is_flag=True,
    help="Also fill the instance with a demo cohort for the trainer dashboard "
    "(`certprep demo seed`; idempotent).",
)
def up(
    host: str,
    port: int,
    sim_port: int | None,
    instance_dir: Path | None,
    no_sim: bool,
    ready_timeout: float,
    demo: bool,
) -> None:
    """Run everything on embedded defaults until Ctrl-C: web API, worker, beat, simulator."""
    from app.config import load_settings

    instance = (instance_dir or load_settings().instance_dir).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    env = _embedded_environment(instance)
    certprep = certprep_argv()
    root = click.get_current_context().find_root().command
    assert isinstance(root, click.Group)

    with_sim = not no_sim and _find_command(root, "sim", "serve") is not None
    sim_port = sim_port or port + 1
    ports = {"web": port, "simulator": sim_port} if with_sim else {"web": port}
    for role, number in ports.items():
        if not _port_is_free(host, number):
            raise click.ClickException(f"port {number} ({role}) is in use on {host}")

    click.echo(f"instance folder {instance}")
    sim_argv: list[str] | None = None
    sim_url: str | None = None
    if no_sim:
        click.echo("simulator not started (--no-sim)")
    elif not with_sim:
        click.echo("no `certprep sim serve` command: starting without the simulator")
    else:
        sim_argv = _simulator_argv(root, certprep, host, sim_port, env, instance)
    roles = [
        ("web", [*certprep, "serve", "--host", host, "--port", str(port), *UP_SERVE_ARGS]),
        ("worker", [*certprep, "worker", "--concurrency", "2"]),
        ("beat", [*certprep, "beat"]),
    ]

    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    # Failures raise SystemExit(1) from inside: `finally` stops the children either way.
    try:
        if sim_argv is not None:
            # First: the simulator needs no database, so it boots while the rest starts.
            # Its URL is known in advance (HTTPS on its port), so the other roles are
            # told it now; /readyz reports it unreachable until it answers.
            children.append(_start("simulator", sim_argv, env))
            env["CERTPREP_SIM_URLS"] = f"https://{_client_host(host)}:{sim_port}"
        _migrate(certprep, env)
        if stop_requested:
            return
        # The roles need the schema, not the content: they boot while it is imported.
        for role, argv in roles:
            children.append(_start(role, argv, env))
        _import_content(certprep, root, env, demo)
        if stop_requested:
            return
        if sim_argv is not None:
            sim_url = _wait_for_simulator(
                _client_host(host), sim_port, children[0], ready_timeout, stop_requested
            )
            if stop_requested:
                return
            if sim_url is None:
                click.echo("the simulator did not start; see its output above", err=True)
                raise SystemExit(1)
        base = f"http://{_client_host(host)}:{port}"
        problem = _wait_until_ready(f"{base}/readyz", children, ready_timeout)
        if stop_requested:
            return
        if problem:
            click.echo(f"certprep did not become ready: {problem}", err=True)
            raise SystemExit(1)
        token = _issue_admin_token(env)
        from app.cli.demo import DEMO_PASSWORD, DEMO_TRAINER

        lines = [
            "",
            "certprep is up",
            f"  API          {base}/api/v1",
            f"  API docs     {base}/api/docs",
            f"  readiness    {base}/readyz",
            f"  metrics      {base}/metrics",
            f"  simulator    {sim_url or 'not running'}",
            *(
                [f"  sim state    {env['CERTPREP_SIM_STATE_DIR']} (CERTPREP_SIM_STATE_DIR)"]
                if sim_url
                else []
            ),
            f"  dashboard    {base}/dashboard",
            *([f"  demo trainer {DEMO_TRAINER} / {DEMO_PASSWORD}"] if demo else []),
            f"  admin        {ADMIN_EMAIL}",
            f"  admin token  {token}",
            "Press Ctrl-C to stop.",
            "",
        ]
        click.echo("\n".join(lines))
        while not stop_requested:
            dead = [child for child in children if not child.alive]
            # A Ctrl-C reaches the children too; those exits are not failures.
            if dead and not stop_requested:
                names = ", ".join(f"{c.role} (exit {c.process.returncode})" for c in dead)
                click.echo(f"stopping: {names} exited", err=True)
                raise SystemExit(1)
            time.sleep(0.5)
    finally:
        click.echo("stopping certprep ...")
        _stop(list(reversed(children)))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("stopped")


def _port_is_free(host: str, port: int) -> bool:
    """True when `host:port` can be bound now (checked before starting anything, so a busy
    port fails fast with a clear message instead of a child dying later)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _client_host(host: str) -> str:
    # A wildcard bind address is not an address to connect to.
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


commands: list[click.Command] = [serve, worker, beat, up]
