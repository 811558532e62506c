"""`certprep sim serve | create | list | delete` as a user runs them, with real kubectl."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.cli.sim import sim
from tests.fixtures.sim import kubectl_binary
from tests.fixtures.sim_process import free_port


def start_serve(state: Path, *extra: str) -> subprocess.Popen:
    """`certprep sim serve` in a child process; returns once it wrote its state file."""
    (state / "server.json").unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "sim",
            "serve",
            "--state-dir",
            str(state),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(300):
        if (state / "server.json").exists():
            return proc
        if proc.poll() is not None:
            pytest.fail(f"sim serve exited: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("sim serve did not start")


def stop_serve(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out


@pytest.fixture
def running_server(tmp_path: Path):
    state = tmp_path / "state"
    proc = start_serve(state, "--port", "0")
    try:
        yield state
    finally:
        proc.terminate()
        proc.wait(10)


def test_persist_keeps_clusters_and_kubeconfigs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = str(free_port(os.cpu_count() or 1))  # the shards listen on the ports after it
    kubeconfig = tmp_path / "lab.kubeconfig"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    proc = start_serve(state, "--port", port, "--persist")
    try:
        created = CliRunner().invoke(
            sim,
            ["create", "--id", "keep", "--kubeconfig", str(kubeconfig), "--state-dir", str(state)],
        )
        assert created.exit_code == 0, created.output
        subprocess.run(
            [kubectl_binary(), "create", "configmap", "kept", "--from-literal=a=b"],
            env=env,
            check=True,
            capture_output=True,
        )
    finally:
        out = stop_serve(proc)
    assert "saved 1 cluster(s)" in out
    assert (state / "clusters" / "keep.json").exists()
    proc = start_serve(state, "--port", port, "--persist")
    try:
        value = subprocess.run(
            [kubectl_binary(), "get", "configmap", "kept", "-o", "jsonpath={.data.a}"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert value.stdout == "b"  # same CA, same token, same objects
    finally:
        out = stop_serve(proc)
    assert "restored 1 cluster(s)" in out


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

    jane = tmp_path / "jane.kubeconfig"
    made = runner.invoke(
        sim,
        [
            "user",
            "lab1",
            "jane",
            "--group",
            "dev",
            "--kubeconfig",
            str(jane),
            "--state-dir",
            str(running_server),
        ],
    )
    assert made.exit_code == 0, made.output
    whoami = subprocess.run(
        [kubectl_binary(), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KUBECONFIG": str(jane), "HOME": str(tmp_path)},
    )
    assert whoami.stdout == "jane"

    saved = tmp_path / "lab1.json"
    snap = runner.invoke(
        sim, ["snapshot", "lab1", "--out", str(saved), "--state-dir", str(running_server)]
    )
    assert snap.exit_code == 0, snap.output
    assert json.loads(saved.read_text())["id"] == "lab1"
    subprocess.run(
        [kubectl_binary(), "create", "namespace", "later"],
        capture_output=True,
        check=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
    )
    back = runner.invoke(sim, ["restore", "lab1", str(saved), "--state-dir", str(running_server)])
    assert back.exit_code == 0, back.output
    namespaces = subprocess.run(
        [kubectl_binary(), "get", "ns", "-o", "name"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
    )
    assert "namespace/later" not in namespaces.stdout.split()

    deleted = runner.invoke(sim, ["delete", "lab1", "--state-dir", str(running_server)])
    assert deleted.output == "cluster lab1 deleted\n"
    again = runner.invoke(sim, ["delete", "lab1", "--state-dir", str(running_server)])
    assert again.exit_code == 1
    assert 'simulator answered 404: cluster "lab1" not found' in again.output


def test_a_taken_shard_port_is_named(tmp_path: Path) -> None:
    port = free_port(2)
    with socket.socket() as taken:  # something else holds the second shard's port
        taken.bind(("127.0.0.1", port + 2))
        taken.listen(1)
        serve = ["sim", "serve", "--state-dir", str(tmp_path / "state"), "--shards", "2"]
        done = subprocess.run(
            [sys.executable, "-c", "from app.cli import main; main()", *serve, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port + 2} for shard 1 is in use" in done.stderr
    assert "--shard-base-port" in done.stderr
    # Every port is taken before any shard starts: nothing half-started to clean up.
    assert "Unclosed" not in done.stdout + done.stderr


def test_create_without_a_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sim,
        ["create", "--kubeconfig", str(tmp_path / "k"), "--state-dir", str(tmp_path / "none")],
        env={"CERTPREP_SIM_URL": "", "CERTPREP_SIM_ADMIN_TOKEN": ""},
    )
    assert result.exit_code == 1
    assert "no simulator server known" in result.output


def test_unreachable_server_and_wrong_token_are_clear_errors(
    running_server: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    kubeconfig = str(tmp_path / "k")
    state = ["--state-dir", str(running_server)]
    server = ["--server", f"https://127.0.0.1:{free_port}", "--admin-token", "x"]
    gone = CliRunner().invoke(sim, ["create", "--kubeconfig", kubeconfig, *server, *state])
    assert gone.exit_code == 1
    assert f"cannot reach the simulator at https://127.0.0.1:{free_port}" in gone.output
    token = ["--admin-token", "not-the-token"]
    refused = CliRunner().invoke(sim, ["create", "--kubeconfig", kubeconfig, *token, *state])
    assert refused.exit_code == 1
    assert "simulator answered 401" in refused.output
    assert not Path(kubeconfig).exists()


def test_sim_is_a_certprep_command() -> None:
    from app.cli import _attach

    _attach()
    assert "sim" in cli.commands
    help_text = CliRunner().invoke(cli, ["sim", "--help"]).output
    for command in ("serve", "create", "delete", "list", "user", "snapshot", "restore"):
        assert command in help_text


def test_create_for_a_lab_has_its_shape_and_setup(running_server: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    kubeconfig = tmp_path / "taint.kubeconfig"
    created = runner.invoke(
        sim,
        [
            "create",
            "--lab",
            "pending-taint-toleration",
            "--kubeconfig",
            str(kubeconfig),
            "--state-dir",
            str(running_server),
        ],
    )
    assert created.exit_code == 0, created.output
    assert "created with 4 nodes for lab pending-taint-toleration" in created.output
    taints = subprocess.run(
        [kubectl_binary(), "get", "node", "node01", "-o", "jsonpath={.spec.taints[0].key}"],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert taints.returncode == 0, taints.stderr
    assert taints.stdout == "dedicated"
    pods = subprocess.run(
        [kubectl_binary(), "-n", "jobs", "get", "pods", "-o", "jsonpath={.items[*].status.phase}"],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert pods.stdout.split() == ["Pending"] * 3

    missing = runner.invoke(
        sim,
        [
            "create",
            "--lab",
            "no-such-lab",
            "--kubeconfig",
            str(tmp_path / "x"),
            "--state-dir",
            str(running_server),
        ],
    )
    assert missing.exit_code != 0 and "cannot load lab 'no-such-lab'" in missing.output


def test_create_with_addons(running_server: Path, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "addons.kubeconfig"
    created = CliRunner().invoke(
        sim,
        [
            "create", "--nodes", "2", "--addon", "ingress-nginx", "--addon", "gateway-api",
            "--kubeconfig", str(kubeconfig), "--state-dir", str(running_server),
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "created with 2 nodes" in created.output

    def get(*args: str) -> str:
        env = {"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [kubectl_binary(), "get", *args, "-o", "name"],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    assert get("ingressclass") == "ingressclass.networking.k8s.io/nginx\n"
    assert get("gatewayclass") == "gatewayclass.gateway.networking.k8s.io/nginx\n"
    assert "deployment.apps/ingress-nginx-controller" in get("deploy", "-n", "ingress-nginx")
    assert get("nodes").split() == ["node/controlplane", "node/node01"]
