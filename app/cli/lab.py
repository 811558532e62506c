"""`certprep lab list|start|sessions|ssh|edit|grade|stop|import`: the learner's side of
labs, through the REST API (`--api URL --token T`, or the saved login of `certprep login`).

`lab import [ROOT]` is the operator's: it loads `labs/` into the configured database.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from pathlib import Path
from typing import Any

import click

from app.cli.login import ApiClient, ApiError, api_options, config_dir

# Seconds between session polls while a cluster is being provisioned.
POLL_SECONDS = 0.5
# Seconds one grade long-poll request waits on the server: less than the client's own
# read timeout (app.cli.login.REQUEST_TIMEOUT, 30 s).
GRADE_WAIT_SECONDS = 20
HISTORY_FILE = "lab-ssh-history"
FINAL_SESSION_STATUSES = ("expired", "failed", "ended")


def kubeconfig_path(session_id: int) -> Path:
    """Where `lab start` writes a session's kubeconfig."""
    return config_dir() / "labs" / f"session-{session_id}.kubeconfig"


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path` readable by its owner only (it holds a credential)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
    return path


def wait_ready(client: ApiClient, session: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Poll the session until it is ready, printing status changes; ClickException when
    it fails, ends or the timeout passes."""
    started = time.monotonic()
    status = None
    while True:
        if session["status"] != status:
            status = session["status"]
            click.echo(f"  {status} ({time.monotonic() - started:.1f} s)", err=True)
        if status in ("ready", "grading", "graded"):
            return session
        if status in FINAL_SESSION_STATUSES:
            raise click.ClickException(f"session {session['id']} {status}: {session.get('error')}")
        if time.monotonic() - started > timeout:
            raise click.ClickException(f"session {session['id']} not ready after {timeout:g} s")
        time.sleep(POLL_SECONDS)
        session = client.get(f"/lab-sessions/{session['id']}")


def format_grade(grade: dict[str, Any]) -> list[str]:
    """The per-check table and the total, as lines."""
    checks = grade.get("checks") or []
    width = max([len(c["id"]) for c in checks] + [5])
    lines = [f"{'CHECK':<{width}}  RESULT  POINTS   MESSAGE"]
    for check in checks:
        verdict = "pass" if check["passed"] else ("error" if check.get("error") else "FAIL")
        points = f"{check['earned']:g}/{check['points']:g}"
        lines.append(f"{check['id']:<{width}}  {verdict:<6}  {points:<7}  {check['message']}")
        if check.get("hint"):
            lines.append(f"{'':<{width}}  hint: {check['hint'].strip()}")
    total = f"{grade['earned']:g}/{grade['possible']:g} points, {grade['percentage']:g} %"
    if grade.get("capped"):
        total += " (capped: a shortcut was detected)"
    lines.append(total)
    return lines


@click.group("lab")
def lab() -> None:
    """Hands-on labs: start a cluster, work on it, get it graded."""


@lab.command("list")
@api_options
def list_labs(client: ApiClient) -> None:
    """Labs you can start."""
    for item in client.get("/labs", params={"page_size": 100}):
        click.echo(
            f"{item['slug']:<32} {item['time_limit_minutes']:>3} min  "
            f"{item['difficulty']:<6} {item['title']}"
        )


@lab.command("start")
@click.argument("slug")
@click.option("--kubeconfig", "target", type=click.Path(path_type=Path), help="Where to write it.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for ready.")
@api_options
def start(slug: str, target: Path | None, timeout: float, client: ApiClient) -> None:
    """Start lab SLUG, wait for its cluster, write the kubeconfig and show the tasks."""
    try:
        session = client.post(f"/labs/{slug}/sessions")
    except ApiError as exc:
        if (
            exc.status == 409
            and isinstance(exc.body, dict)
            and "limit" in exc.body.get("errors", {})
        ):
            limit = exc.body["errors"]["limit"][0]
            raise click.ClickException(
                f"you already have {limit} active lab session(s), the limit."
                " Stop one first: certprep lab stop SESSION (list them: certprep lab sessions)"
            ) from None
        raise
    click.echo(f"session {session['id']}: starting {slug}", err=True)
    session = wait_ready(client, session, timeout)
    _, config = client.request("GET", f"/lab-sessions/{session['id']}/kubeconfig")
    path = write_private(target or kubeconfig_path(session["id"]), config)
    click.echo(f"session {session['id']} is ready; expires {session['expires_at']}")
    click.echo(f"export KUBECONFIG={shlex.quote(str(path.resolve()))}")
    click.echo(f"nodes: {', '.join(session['nodes'])}  (certprep lab ssh {session['id']} NODE)")
    for number, task in enumerate(session["tasks"], start=1):
        click.echo(f"\nTask {number}:\n{task.rstrip()}")


def _run_on_node(client: ApiClient, session_id: int, node: str, command: str) -> int:
    result = client.post(f"/lab-sessions/{session_id}/nodes/{node}/exec", json={"command": command})
    if result["stdout"]:
        click.echo(result["stdout"], nl=False)
    if result["stderr"]:
        click.echo(result["stderr"], nl=False, err=True)
    return int(result["exit_code"])


@lab.command("ssh")
@click.argument("session_id", type=int)
@click.argument("node")
@click.option("-c", "--command", help="Run this one command and exit with its status.")
@api_options
def ssh(session_id: int, node: str, command: str | None, client: ApiClient) -> None:
    """A shell on NODE of a session (the node command set: crictl, systemctl,
    journalctl, cat, ls, sed -i, cp, mv, etcdctl, kubeadm). `exit` leaves."""
    if command is not None:
        raise SystemExit(_run_on_node(client, session_id, node, command))
    history = config_dir() / HISTORY_FILE
    try:
        import readline

        history.parent.mkdir(parents=True, exist_ok=True)
        if history.exists():
            readline.read_history_file(history)
    except (ImportError, OSError):
        readline = None  # type: ignore[assignment]
    status = 0
    try:
        while True:
            try:
                line = input(f"root@{node}:~# ")
            except EOFError:
                click.echo("")
                break
            line = line.strip()
            if not line:
                continue
            if line in ("exit", "logout") or line.startswith("exit "):
                break
            status = _run_on_node(client, session_id, node, line)
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)
    raise SystemExit(status)


@lab.command("sessions")
@click.option("--all", "show_all", is_flag=True, help="Also the sessions that ended.")
@api_options
def sessions(show_all: bool, client: ApiClient) -> None:
    """Your lab sessions, newest first: id, lab, status, time left, latest grade."""
    rows = client.get("/lab-sessions", params={"page_size": 100})
    shown = [r for r in rows if show_all or r["status"] not in FINAL_SESSION_STATUSES]
    if not shown:
        click.echo(
            "no active lab sessions (start one: certprep lab start SLUG; --all lists ended ones)"
        )
        return
    click.echo(f"{'SESSION':>7}  {'STATUS':<12} {'EXPIRES':<25} {'GRADE':>6}  LAB")
    for row in shown:
        done = [g for g in row["grades"] if g["status"] == "done"]
        grade = f"{round(done[-1]['percentage'], 1):g}%" if done else "-"
        click.echo(
            f"{row['id']:>7}  {row['status']:<12} {row['expires_at'] or '-'!s:<25}"
            f" {grade:>6}  {row['lab']}"
        )


@lab.command("edit")
@click.argument("session_id", type=int)
@click.argument("node")
@click.argument("path")
@api_options
def edit(session_id: int, node: str, path: str, client: ApiClient) -> None:
    """Edit file PATH on NODE of a session in $EDITOR (or $VISUAL): the file is copied
    to a private local file, opened, and written back to the node when it changed.
    A file that does not exist yet starts empty."""
    url = f"/lab-sessions/{session_id}/nodes/{node}/files"
    try:
        content = client.get(url, params={"path": path})["content"]
        exists = True
    except ApiError as exc:
        if exc.status != 404 or "no node" in str(exc.body):
            raise
        content, exists = "", False
        click.echo(f"{path} does not exist on {node}; it is created when you save.", err=True)
    folder = config_dir() / "labs" / f"session-{session_id}-edit"
    local = write_private(folder / node / Path(path).name, content)
    try:
        click.edit(filename=str(local))
        edited = local.read_text()
    finally:
        with contextlib.suppress(OSError):
            local.unlink()
    if edited == content and exists:
        click.echo(f"{path} on {node}: no change")
        return
    written = client.put(url, params={"path": path}, json={"content": edited})
    click.echo(f"{path} on {node}: saved ({written['size']} bytes)")


@lab.command("grade")
@click.argument("session_id", type=int)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
@api_options
def grade(session_id: int, timeout: float, client: ApiClient) -> None:
    """Grade a session's cluster and print each check with its points (and hints when
    the lab shows them)."""
    pending = client.post(f"/lab-sessions/{session_id}/grades")
    click.echo(f"grade {pending['id']} requested; waiting...", err=True)
    started = time.monotonic()
    result = pending
    while result["status"] in ("pending", "running"):
        if time.monotonic() - started > timeout:
            raise click.ClickException(f"grade {pending['id']} not done after {timeout:g} s")
        result = client.get(
            f"/lab-sessions/{session_id}/grades/{pending['id']}",
            params={"wait": GRADE_WAIT_SECONDS},
        )
    if result["status"] != "done":
        raise click.ClickException(f"grade {result['id']} {result['status']}: {result['error']}")
    for line in format_grade(result):
        click.echo(line)


@lab.command("stop")
@click.argument("session_id", type=int)
@api_options
def stop(session_id: int, client: ApiClient) -> None:
    """End a session and free its cluster."""
    session = client.request("DELETE", f"/lab-sessions/{session_id}")[1]
    click.echo(f"session {session_id}: {session['status']}")


@lab.command("import")
@click.argument("root", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--prune",
    is_flag=True,
    help="Also retire live labs that are not under ROOT (listed before the summary).",
)
def import_(root: Path | None, prune: bool) -> None:
    """Validate and load the labs under ROOT (default ./labs), or the one lab when ROOT
    is a lab folder, into the database.

    Only the labs read are added or updated; labs in the database that are not under
    ROOT are left as they are unless --prune is given.
    """
    from app.cli.common import app_context
    from app.services.errors import ValidationFailed
    from app.services.labs import import_labs

    with app_context():
        try:
            report = import_labs(root, prune=prune)
        except ValidationFailed as exc:
            for line in exc.errors.get("labs", []):
                click.echo(line, err=True)
            raise click.ClickException(exc.message) from None
    for slug in report.retired:
        click.echo(f"retired: {slug}")
    if report.absent:
        click.echo(
            f"not under {root or 'the labs folder'} and kept (--prune retires them): "
            + ", ".join(report.absent)
        )
    click.echo(f"labs imported: {report}")


commands = [lab]
