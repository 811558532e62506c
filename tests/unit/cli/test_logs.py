"""`certprep logs`: the last lines of one role or of all, and following appended lines."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli import cli
from app.cli.logs import _Follower, log_file


def _instance(tmp_path: Path) -> Path:
    instance = tmp_path / "instance"
    log_file(instance, "web").parent.mkdir(parents=True)
    log_file(instance, "web").write_text("".join(f"web line {i}\n" for i in range(30)))
    log_file(instance, "worker").write_text("worker ready\n")
    return instance


def test_one_role_shows_its_last_lines(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    result = CliRunner(env={"CERTPREP_INSTANCE_DIR": None}).invoke(
        cli, ["logs", "web", "-n", "3", "--no-follow", "--instance-dir", str(instance)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["web line 27", "web line 28", "web line 29"]


def test_all_roles_are_prefixed(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    result = CliRunner(env={"CERTPREP_INSTANCE_DIR": None}).invoke(
        cli, ["logs", "-n", "1", "--no-follow", "--instance-dir", str(instance)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["web    | web line 29", "worker | worker ready"]


def test_unknown_role_and_missing_logs_are_errors(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    unknown = CliRunner(env={"CERTPREP_INSTANCE_DIR": None}).invoke(
        cli, ["logs", "nope", "--instance-dir", str(instance)]
    )
    assert unknown.exit_code == 1 and "known: web, worker" in unknown.output
    empty = CliRunner(env={"CERTPREP_INSTANCE_DIR": None}).invoke(
        cli, ["logs", "--instance-dir", str(tmp_path / "none")]
    )
    assert empty.exit_code == 1 and "no logs in" in empty.output


def test_follower_reads_complete_appended_lines_and_survives_truncation(tmp_path: Path) -> None:
    path = tmp_path / "web.log"
    path.write_text("old\n")
    follower = _Follower(path, path.stat().st_size)
    assert follower.read() == []
    with path.open("a") as handle:
        handle.write("one\ntw")
    assert follower.read() == ["one"]
    with path.open("a") as handle:
        handle.write("o\n")
    assert follower.read() == ["two"]
    path.write_text("new\n")  # rotated: shorter than what was read
    assert follower.read() == ["new"]
