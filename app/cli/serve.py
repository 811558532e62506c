"""`certprep serve | worker | beat | up`: the runtime roles of one codebase.

- `serve` runs the web API under gunicorn (`--dev`: Flask's own server).
- `worker` runs a Celery worker, `beat` the periodic scheduler (app.tasks.schedule).
- `up` runs everything on embedded defaults (SQLite and the filesystem broker in the
  instance folder): migrate, import content, start web + worker + beat + simulator as
  child processes, wait for `/readyz`, print the URLs and a fresh admin token, and stop
  them all on Ctrl-C or SIGTERM. One progress line per step, the banner last; every
  child's output goes to `INSTANCE/logs/ROLE.log` (`--verbose` also shows it;
  `certprep logs ROLE` follows it). A role that crashes is restarted after a back-off;
  `up` gives up and stops everything after repeated crashes (`--restart-limit`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="gunicorn worker processes [default: one per CPU this process may use].",
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
def serve(
    host: str, port: int, workers: int | None, threads: int, worker_class: str, dev: bool
) -> None:
    """Run the web API (REST, /healthz, /readyz, /metrics)."""
    workers = workers or usable_cpus()
    if dev:
        from app.logging import configure_logging

        configure_logging()
        build_app().run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
        return
    env = dict(os.environ)
    if worker_class == "gthread":
        env.update(pool_environment(threads, env))
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


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one): one
    gthread worker per CPU. A worker's threads share one interpreter lock, so a second
    worker on the same CPU only adds switching; measured on one CPU, 1x4 answered
    autosaves at 574-703/s against 488-629/s for 2x4 (docs/quizzes.md)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def pool_environment(threads: int, env: dict[str, str]) -> dict[str, str]:
    """`CERTPREP_DB_POOL_SIZE` for gthread workers of `threads` threads, unless `env`
    sets it: at least one pooled connection per thread. With fewer, the threads beyond
    the pool open a connection per request and close it again (a new PostgreSQL
    backend each time: about 0.5 ms more of database CPU per autosave, measured with 8
    threads against the default 5)."""
    from app.config import Settings

    if env.get("CERTPREP_DB_POOL_SIZE"):
        return {}
    return {"CERTPREP_DB_POOL_SIZE": str(max(Settings.db_pool_size, threads))}


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

# A role that exits after start-up is started again after a back-off (1 s, doubling up
# to RESTART_MAX_DELAY); when it exited `--restart-limit` times within RESTART_WINDOW
# seconds, `up` gives up and stops everything.
RESTART_WINDOW = 120.0
RESTART_MAX_DELAY = 30.0
DEFAULT_RESTART_LIMIT = 5
# Lines of a failed step's log shown on the terminal.
FAILED_STEP_LINES = 15


@dataclass
class Child:
    """A role started by `up`, restarted with the same command line when it crashes."""

    role: str
    argv: list[str]
    process: subprocess.Popen
    log: Path
    copier: threading.Thread | None = None
    exits: list[float] = field(default_factory=list)
    restart_at: float | None = None

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
        command = command.get_command(click.Context(command), name)
    return command


def _embedded_environment(instance_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CERTPREP_INSTANCE_DIR"] = str(instance_dir)
    env["CERTPREP_DATABASE_URL"] = f"sqlite:///{instance_dir / 'certprep.sqlite3'}"
    env["CERTPREP_BROKER_URL"] = "filesystem://"
    if not env.get("CERTPREP_SECRET_KEY"):
        from app.config import instance_secret_key

        # Sessions are signed with this instance's own key, kept in the instance folder.
        env["CERTPREP_SECRET_KEY"] = instance_secret_key(instance_dir)
    env.pop("CERTPREP_SIM_URLS", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # The children run in the background with their output in log files: Python's
    # warnings go there too, and nothing waits for a terminal.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_until_ready(url: str, children: list[Child], timeout: float) -> str | None:
    """Poll `url` until it answers 200; returns None when ready, else why not."""
    import requests

    end = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < end:
        dead = [child for child in children if not child.alive]
        if dead:
            return "; ".join(f"{c.role} exited during start-up (see {c.log})" for c in dead)
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
    # the caller chose a folder; `certprep sim create` run here finds it there.
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


def _open_log(path: Path, role: str) -> IO[bytes]:
    """`path` opened for appending (owner-only: logs can hold tokens), after a header."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    handle.write(f"===== certprep up: {role} starting at {stamp} =====\n".encode())
    handle.flush()
    return handle


def _copy_output(stream: IO[bytes], handle: IO[bytes], role: str) -> None:
    """`--verbose`: each line of a child into its log and, prefixed, onto the terminal."""
    with handle:
        for line in iter(stream.readline, b""):
            handle.write(line)
            handle.flush()
            click.echo(f"{role} | {line.decode('utf-8', 'replace').rstrip()}")


def _spawn(
    role: str, argv: list[str], env: dict[str, str], log: Path, verbose: bool
) -> tuple[subprocess.Popen, threading.Thread | None]:
    handle = _open_log(log, role)
    if not verbose:
        with handle:
            return subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT), None
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    copier = threading.Thread(target=_copy_output, args=(process.stdout, handle, role), daemon=True)
    copier.start()
    return process, copier


def _start(role: str, argv: list[str], env: dict[str, str], instance: Path, verbose: bool) -> Child:
    from app.cli.logs import log_file

    log = log_file(instance, role)
    process, copier = _spawn(role, argv, env, log, verbose)
    click.echo(f"started {role} (pid {process.pid})")
    return Child(role, argv, process, log, copier)


def _restart(child: Child, env: dict[str, str], verbose: bool) -> None:
    child.process, child.copier = _spawn(child.role, child.argv, env, child.log, verbose)
    child.restart_at = None
    click.echo(f"restarted {child.role} (pid {child.process.pid})")


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


def _last_lines(path: Path, count: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-count:]
    except OSError:
        return []


def _run_step(
    step: str, argv: list[str], env: dict[str, str], instance: Path, verbose: bool
) -> bool:
    """Run one start-up command with its output in `logs/<step>.log`; on failure show the
    end of that log. True when it succeeded."""
    from app.cli.logs import log_file

    log = log_file(instance, step)
    process, copier = _spawn(step, argv, env, log, verbose)
    status = process.wait()
    if copier is not None:
        copier.join(timeout=10)
    if status == 0:
        return True
    if not verbose:
        for line in _last_lines(log, FAILED_STEP_LINES):
            click.echo(f"  {step} | {line}", err=True)
    click.echo(f"`certprep {' '.join(argv[-2:])}` failed (exit {status}); log: {log}", err=True)
    return False


def _migrate(certprep: list[str], env: dict[str, str], instance: Path, verbose: bool) -> None:
    """`certprep db upgrade` as a subprocess; ClickException when it fails."""
    if not _run_step("migrate", [*certprep, "db", "upgrade"], env, instance, verbose):
        raise click.ClickException("database migration failed")
    click.echo("database migrated")


def _import_content(
    certprep: list[str], root: click.Group, env: dict[str, str], instance: Path, verbose: bool
) -> None:
    """Import the content as `certprep` subprocesses; a failure is reported and `up`
    goes on (the service runs without it)."""
    for content in CONTENT_IMPORTS:
        if _find_command(root, *content) is None:
            click.echo(f"no `certprep {' '.join(content)}` command: skipping it")
            continue
        if _run_step("content", [*certprep, *content], env, instance, verbose):
            click.echo("content imported (question banks, quizzes, labs, mock exams)")
        else:
            click.echo("going on without the content", err=True)


def _seed_demo(certprep: list[str], env: dict[str, str], instance: Path, verbose: bool) -> None:
    # Before the worker and beat start: the worker's expiry jobs must not close a
    # back-dated demo attempt while the history is being written.
    if _run_step("demo", [*certprep, "demo", "seed"], env, instance, verbose):
        click.echo("demo cohort ready")
    else:
        click.echo("going on without the demo cohort", err=True)


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
        if child.copier is not None:
            child.copier.join(timeout=5)


def _issue_admin_token(env: dict[str, str]) -> str:
    from app.models.user import Role
    from app.services.auth import issue_replacing_token
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
        return issue_replacing_token(user, label="certprep up").token


def _watch(
    children: list[Child],
    env: dict[str, str],
    verbose: bool,
    restart_limit: int,
    stop_requested: list[int],
) -> None:
    """Until a stop is requested: restart a child that exited, after a back-off; raise
    SystemExit(1) when one exited `restart_limit` times within RESTART_WINDOW seconds."""
    while not stop_requested:
        now = time.monotonic()
        for child in children:
            if stop_requested:
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    _restart(child, env, verbose)
                continue
            if child.alive:
                continue
            code = child.process.returncode
            child.exits = [t for t in child.exits if now - t < RESTART_WINDOW] + [now]
            crashes = len(child.exits)
            if crashes >= restart_limit:
                click.echo(
                    f"stopping: {child.role} (exit {code}) exited {crashes} time(s) within "
                    f"{RESTART_WINDOW:.0f} s; see {child.log}",
                    err=True,
                )
                raise SystemExit(1)
            delay = min(2.0 ** (crashes - 1), RESTART_MAX_DELAY)
            click.echo(
                f"{child.role} exited (exit {code}); restarting it in {delay:.0f} s "
                f"({crashes}/{restart_limit}; log: {child.log})",
                err=True,
            )
            child.restart_at = now + delay
        time.sleep(0.5)


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
    help="Folder for the SQLite database, broker files, logs and state (default: ./instance).",
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
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also show every role's output here (it always goes to INSTANCE/logs/ROLE.log).",
)
@click.option(
    "--restart-limit",
    type=click.IntRange(min=1),
    default=DEFAULT_RESTART_LIMIT,
    show_default=True,
    help=f"Give up when a role exits this many times within {RESTART_WINDOW:.0f} s "
    "(1: never restart).",
)
def up(
    host: str,
    port: int,
    sim_port: int | None,
    instance_dir: Path | None,
    no_sim: bool,
    ready_timeout: float,
    demo: bool,
    verbose: bool,
    restart_limit: int,
) -> None:
    """Run everything on embedded defaults until Ctrl-C: web API, worker, beat, simulator."""
    from app.cli.logs import logs_dir
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

    click.echo(f"instance folder {instance}; logs in {logs_dir(instance)} (`certprep logs`)")
    sim_argv: list[str] | None = None
    if no_sim:
        click.echo("simulator not started (--no-sim)")
    elif not with_sim:
        click.echo("no `certprep sim serve` command: starting without the simulator")
    else:
        sim_argv = _simulator_argv(root, certprep, host, sim_port, env, instance)
    web = ("web", [*certprep, "serve", "--host", host, "--port", str(port), *UP_SERVE_ARGS])
    background = [
        ("worker", [*certprep, "worker", "--concurrency", "2"]),
        ("beat", [*certprep, "beat"]),
    ]
    run = _UpRun(env, instance, certprep, root, verbose)

    def request_stop(signum: int, _frame: Any) -> None:
        run.stop_requested.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    # Failures raise SystemExit(1) from inside: `finally` stops the children either way.
    try:
        banner = run.bring_up(
            host, port, sim_port, sim_argv, [web], background, ready_timeout, demo
        )
        if banner is not None:
            click.echo(banner)
            _watch(run.children, env, verbose, restart_limit, run.stop_requested)
    finally:
        click.echo("stopping certprep ...")
        _stop(list(reversed(run.children)))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("stopped")


@dataclass
class _UpRun:
    """The children of one `certprep up` and how they were started."""

    env: dict[str, str]
    instance: Path
    certprep: list[str]
    root: click.Group
    verbose: bool
    children: list[Child] = field(default_factory=list)
    stop_requested: list[int] = field(default_factory=list)

    def start(self, roles: list[tuple[str, list[str]]]) -> None:
        for role, argv in roles:
            self.children.append(_start(role, argv, self.env, self.instance, self.verbose))

    def bring_up(
        self,
        host: str,
        port: int,
        sim_port: int,
        sim_argv: list[str] | None,
        web: list[tuple[str, list[str]]],
        background: list[tuple[str, list[str]]],
        ready_timeout: float,
        demo: bool,
    ) -> str | None:
        """Start everything, one progress line per step; the banner once ready, None
        when a stop was requested meanwhile. SystemExit(1) when start-up fails."""
        env, instance, verbose = self.env, self.instance, self.verbose
        if sim_argv is not None:
            # First: the simulator needs no database, so it boots while the rest starts.
            # Its URL is known in advance (HTTPS on its port), so the other roles are
            # told it now; /readyz reports it unreachable until it answers.
            self.start([("simulator", sim_argv)])
            env["CERTPREP_SIM_URLS"] = f"https://{_client_host(host)}:{sim_port}"
        _migrate(self.certprep, env, instance, verbose)
        if self.stop_requested:
            return None
        # The roles need the schema, not the content: they boot while it is imported.
        # With --demo the worker and beat wait for the demo cohort (see _seed_demo).
        self.start(web if demo else [*web, *background])
        _import_content(self.certprep, self.root, env, instance, verbose)
        if demo and not self.stop_requested:
            _seed_demo(self.certprep, env, instance, verbose)
            self.start(background)
        sim_url = None
        if sim_argv is not None and not self.stop_requested:
            click.echo("waiting for the simulator ...")
            simulator = self.children[0]
            sim_url = _wait_for_simulator(
                _client_host(host), sim_port, simulator, ready_timeout, self.stop_requested
            )
            if sim_url is None and not self.stop_requested:
                click.echo(f"the simulator did not start; see {simulator.log}", err=True)
                raise SystemExit(1)
        if self.stop_requested:
            return None
        base = f"http://{_client_host(host)}:{port}"
        click.echo("waiting for /readyz ...")
        problem = _wait_until_ready(f"{base}/readyz", self.children, ready_timeout)
        if self.stop_requested:
            return None
        if problem:
            click.echo(f"certprep did not become ready: {problem}", err=True)
            raise SystemExit(1)
        return _banner(base, sim_url, instance, demo, _issue_admin_token(env))


def _banner(base: str, sim_url: str | None, instance: Path, demo: bool, token: str) -> str:
    from app.cli.demo import DEMO_PASSWORD, DEMO_TRAINER
    from app.cli.logs import logs_dir

    lines = [
        "",
        "certprep is up",
        f"  API          {base}/api/v1",
        f"  API docs     {base}/api/docs",
        f"  readiness    {base}/readyz",
        f"  metrics      {base}/metrics",
        f"  simulator    {sim_url or 'not running'}",
        f"  dashboard    {base}/dashboard",
        *([f"  demo trainer {DEMO_TRAINER} / {DEMO_PASSWORD}"] if demo else []),
        f"  logs         {logs_dir(instance)} (certprep logs [ROLE])",
        f"  admin        {ADMIN_EMAIL}",
        f"  admin token  {token}",
        "A crashed role is restarted. Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


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
