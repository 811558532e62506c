"""`certprep sim serve | create | list | delete` as a user runs them, with real kubectl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.cli.sim import sim
from tests.fixtures.sim import kubectl_binary


@pytest.fixture
def running_server(tmp_path: Path):
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "sim",
            "serve",
            "--port",
            "0",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(200):
            if (state / "server.json").exists():
                break
            if proc.poll() is not None:
                pytest.fail(f"sim serve exited: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.05)
        assert (state / "server.json").exists()
        yield state
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_create_list_delete(running_server: Path, tmp_path: Path) -> None:
    info = json.loads((running_server / "server.json").read_text())
    assert info["url"].startswith("https://127.0.0.1:")
    assert (running_server / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert oct((running_server / "server.json").stat().st_mode & 0o777) == "0o600"

    runner = CliRunner()
    kubeconfig = tmp_path / "lab.kubeconfig"
    created = runner.invoke(
        sim,
        [
            "create",
            "--nodes",
            "2",
            "--id",
            "lab1",
            "--kubeconfig",
            str(kubeconfig),
            "--state-dir",
            str(running_server),
        ],
    )
    assert created.exit_code == 0, created.output
    assert created.output.splitlines() == [
        "cluster lab1 created with 2 nodes",
        f"export KUBECONFIG={kubeconfig.resolve()}",
    ]
    nodes = subprocess.run(
        [kubectl_binary(), "get", "nodes", "-o", "name"],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
        check=True,
    )
    assert nodes.stdout.split() == ["node/controlplane", "node/node01"]

    listed = runner.invoke(sim, ["list", "--state-dir", str(running_server)])
    assert listed.exit_code == 0
    assert listed.output.splitlines()[1].split()[:2] == ["lab1", "2"]

    deleted = runner.invoke(sim, ["delete", "lab1", "--state-dir", str(running_server)])
    assert deleted.output == "cluster lab1 deleted\n"
    again = runner.invoke(sim, ["delete", "lab1", "--state-dir", str(running_server)])
    assert again.exit_code == 1
    assert 'simulator answered 404: cluster "lab1" not found' in again.output


def test_create_without_a_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sim,
        ["create", "--kubeconfig", str(tmp_path / "k"), "--state-dir", str(tmp_path / "none")],
        env={"CERTPREP_SIM_URL": "", "CERTPREP_SIM_ADMIN_TOKEN": ""},
    )
    assert result.exit_code == 1
    assert "no simulator server known" in result.output


def test_sim_is_a_certprep_command() -> None:
    from app.cli import _attach

    _attach()
    assert "sim" in cli.commands
    help_text = CliRunner().invoke(cli, ["sim", "--help"]).output
    for command in ("serve", "create", "delete", "list"):
        assert command in help_text
