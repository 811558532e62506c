"""`certprep exam list|start|status|ssh|submit|result|import`: the two-hour hands-on mock
exam from a terminal, through the REST API (`--api URL --token T`, or the saved login of
`certprep login`).

`exam start` waits for the clusters, writes one kubeconfig with a context per cluster
(switch with `kubectl config use-context NAME`, as on the real exam) and prints the
tasks; `exam ssh ATTEMPT CONTEXT NODE` is the node shell; `exam submit` ends the attempt
and waits for the grade; `exam result` prints the per-task breakdown. `exam import` is
the operator's: it loads `exams/` into the configured database.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

import click

from app.cli.lab import POLL_SECONDS, write_private
from app.cli.login import ApiClient, ApiError, api_options, config_dir

FINAL_ATTEMPT_STATUSES = ("graded", "failed")


def kubeconfig_path(attempt_id: int) -> Path:
    """Where `exam start` writes an attempt's kubeconfig."""
    return config_dir() / "exams" / f"attempt-{attempt_id}.kubeconfig"


def format_remaining(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds // 60}:{seconds % 60:02d}"


def wait_for(
    client: ApiClient, attempt: dict[str, Any], statuses: tuple[str, ...], timeout: float
) -> dict[str, Any]:
    """Poll the attempt until its status is one of `statuses`, printing changes;
    ClickException when it fails or the timeout passes."""
    started = time.monotonic()
    status = None
    while True:
        if attempt["status"] != status:
            status = attempt["status"]
            click.echo(f"  {status} ({time.monotonic() - started:.1f} s)", err=True)
        if status in statuses:
            return attempt
        if status == "failed":
            raise click.ClickException(f"attempt {attempt['id']} failed: {attempt.get('error')}")
        if time.monotonic() - started > timeout:
            raise click.ClickException(
                f"attempt {attempt['id']} still {status} after {timeout:g} s"
            )
        time.sleep(POLL_SECONDS)
        attempt = client.get(f"/exam-attempts/{attempt['id']}")


def print_tasks(attempt: dict[str, Any]) -> None:
    for task in attempt["tasks"]:
        click.echo(
            f"\nTask {task['number']} ({task['weight']:g} %, {task['domain']},"
            f" context {task['context']}): {task['title']}"
        )
        click.echo(task["text"].rstrip())


def format_result(result: dict[str, Any]) -> list[str]:
    """The per-task table, the per-domain sums and the verdict, as lines."""
    width = max([len(t["id"]) for t in result["tasks"]] + [4])
    lines = [f"{'#':>2}  {'TASK':<{width}}  {'CONTEXT':<8} {'SCORE':>11}  DOMAIN"]
    for number, task in enumerate(result["tasks"], start=1):
        score = f"{task['score']:g}/{task['weight']:g}"
        name, context = task["id"], task["context"]
        lines.append(f"{number:>2}  {name:<{width}}  {context:<8} {score:>11}  {task['domain']}")
        for check in task["checks"]:
            if not check["passed"]:
                lines.append(f"{'':>4}{'':<{width}}  missed: {check['message']}")
    lines.append("")
    for domain in result["domains"]:
        lines.append(f"{domain['domain']:<24} {domain['score']:g}/{domain['weight']:g}")
    verdict = "PASS" if result["passed"] else "FAIL"
    lines.append(f"score {result['score']:g} % (pass mark {result['pass_percent']:g} %): {verdict}")
    return lines


@click.group("exam")
def exam() -> None:
    """Two-hour hands-on mock exams over several clusters, graded once at the end."""


@exam.command("list")
@api_options
def list_exams(client: ApiClient) -> None:
    """Mock exams you can start."""
    for item in client.get("/exams", params={"page_size": 100}):
        click.echo(
            f"{item['slug']:<20} {item['time_limit_minutes']:>3} min  pass"
            f" {item['pass_percent']:g} %  {item['title']}"
        )


@exam.command("start")
@click.argument("slug")
@click.option("--kubeconfig", "target", type=click.Path(path_type=Path), help="Where to write it.")
@click.option(
    "--timeout", default=300.0, show_default=True, help="Seconds to wait for the clusters."
)
@api_options
def start(slug: str, target: Path | None, timeout: float, client: ApiClient) -> None:
    """Start exam SLUG: wait for its clusters, write the kubeconfig (a context per
    cluster) and print the tasks. The timer starts when the clusters are ready."""
    try:
        attempt = client.post(f"/exams/{slug}/attempts")
    except ApiError as exc:
        if exc.status == 409:
            raise click.ClickException(
                "you already have an exam attempt in progress (certprep exam status)"
            ) from None
        raise
    click.echo(f"attempt {attempt['id']}: starting {slug}", err=True)
    attempt = wait_for(client, attempt, ("running",), timeout)
    _, config = client.request("GET", f"/exam-attempts/{attempt['id']}/kubeconfig")
    path = write_private(target or kubeconfig_path(attempt["id"]), config)
    click.echo(
        f"attempt {attempt['id']} is running; {format_remaining(attempt['remaining_seconds'])}"
        f" left (ends {attempt['deadline_at']})"
    )
    click.echo(f"export KUBECONFIG={shlex.quote(str(path.resolve()))}")
    for context in attempt["contexts"]:
        nodes = ", ".join(n["name"] for n in context["nodes"])
        click.echo(f"context {context['name']}: nodes {nodes}")
    click.echo(f"node shell: certprep exam ssh {attempt['id']} CONTEXT NODE")
    print_tasks(attempt)


@exam.command("status")
@click.argument("attempt_id", type=int, required=False)
@click.option("--tasks", "show_tasks", is_flag=True, help="Also print the task texts.")
@api_options
def status(attempt_id: int | None, show_tasks: bool, client: ApiClient) -> None:
    """An attempt's status and time left (default: your latest attempt)."""
    if attempt_id is None:
        rows = client.get("/exam-attempts", params={"page_size": 1})
        if not rows:
            raise click.ClickException("no exam attempts (start one: certprep exam start SLUG)")
        attempt = rows[0]
    else:
        attempt = client.get(f"/exam-attempts/{attempt_id}")
    click.echo(
        f"attempt {attempt['id']} of {attempt['exam']}: {attempt['status']},"
        f" time left {format_remaining(attempt['remaining_seconds'])}"
    )
    if attempt["score"] is not None:
        verdict = "passed" if attempt["passed"] else "failed"
        click.echo(f"score {attempt['score']:g} %: {verdict}")
    if show_tasks:
        print_tasks(attempt)


@exam.command("ssh")
@click.argument("attempt_id", type=int)
@click.argument("context")
@click.argument("node")
@click.option("-c", "--command", help="Run this one command and exit with its status.")
@api_options
def ssh(attempt_id: int, context: str, node: str, command: str | None, client: ApiClient) -> None:
    """A shell on NODE of the cluster of CONTEXT (crictl, systemctl, journalctl, cat,
    ls, sed -i, etcdctl, kubeadm ...). `exit` leaves."""

    def run(line: str) -> int:
        result = client.post(
            f"/exam-attempts/{attempt_id}/exec",
            json={"context": context, "node": node, "command": line},
        )
        if result["stdout"]:
            click.echo(result["stdout"], nl=False)
        if result["stderr"]:
            click.echo(result["stderr"], nl=False, err=True)
        return int(result["exit_code"])

    if command is not None:
        raise SystemExit(run(command))
    code = 0
    while True:
        try:
            line = input(f"root@{node}:~# ").strip()
        except EOFError:
            click.echo("")
            break
        if line in ("exit", "logout"):
            break
        if line:
            code = run(line)
    raise SystemExit(code)


@exam.command("submit")
@click.argument("attempt_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the grade.")
@api_options
def submit(attempt_id: int, yes: bool, timeout: float, client: ApiClient) -> None:
    """End the attempt, wait for the grade and print the result."""
    if not yes:
        click.confirm(
            f"Submit attempt {attempt_id}? Your clusters are graded and freed", abort=True
        )
    attempt = client.post(f"/exam-attempts/{attempt_id}/submit")
    attempt = wait_for(client, attempt, FINAL_ATTEMPT_STATUSES, timeout)
    if attempt["status"] != "graded":
        raise click.ClickException(f"attempt {attempt_id}: {attempt['status']}")
    for line in format_result(client.get(f"/exam-attempts/{attempt_id}/result")):
        click.echo(line)


@exam.command("result")
@click.argument("attempt_id", type=int)
@click.option("--solutions", is_flag=True, help="Also print the reference solutions.")
@api_options
def result(attempt_id: int, solutions: bool, client: ApiClient) -> None:
    """The graded attempt: score per task and domain, pass/fail."""
    body = client.get(f"/exam-attempts/{attempt_id}/result")
    for line in format_result(body):
        click.echo(line)
    if solutions:
        for number, task in enumerate(body["tasks"], start=1):
            click.echo(f"\nTask {number} {task['id']}:\n{(task.get('solution') or '').rstrip()}")


@exam.command("import")
@click.argument("root", required=False, type=click.Path(path_type=Path))
def import_(root: Path | None) -> None:
    """Validate and load the mock exam sets under ROOT (default ./exams; a file is one
    set) into the database."""
    from app.cli.common import app_context
    from app.services.errors import ValidationFailed
    from app.services.exams import import_exams

    with app_context():
        try:
            report = import_exams(root)
        except ValidationFailed as exc:
            for line in exc.errors.get("exams", []):
                click.echo(line, err=True)
            raise click.ClickException(exc.message) from None
    click.echo(f"exams imported: {report}")


commands = [exam]
