"""`certprep sim serve --persist` killed with SIGKILL comes back with its clusters: the
objects written through kubectl, the kubeconfig and its token, users and service
account tokens, node files, manual clocks; deleted clusters stay deleted."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.sim_process import SimProcess, kubectl_at

pytestmark = [pytest.mark.reliability, pytest.mark.kubectl, pytest.mark.slow]

# Credentials issued through the API are logged within the journal's fsync interval
# (0.2 s): wait longer than that before a kill that must keep them.
CREDENTIAL_WINDOW = 1.0


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return kubectl_at(kubeconfig, *args, check=check, timeout=60)


def create_cluster(sim: SimProcess, tmp: Path, cluster_id: str, file: str = "") -> Path:
    response = sim.admin("POST", "/admin/clusters", json={"id": cluster_id})
    assert response.status_code == 201, response.text
    path = tmp / f"{file or cluster_id}.kubeconfig"
    path.write_text(response.json()["kubeconfig"])
    return path


def test_sigkill_loses_no_acknowledged_write(sim_process: SimProcess, tmp_path: Path) -> None:
    sim = sim_process
    admin_config = create_cluster(sim, tmp_path, "crash1")
    kubectl(admin_config, "create", "namespace", "dev")
    kubectl(admin_config, "-n", "dev", "create", "configmap", "app", "--from-literal=k=v1")
    kubectl(
        admin_config,
        "-n",
        "dev",
        "create",
        "role",
        "pod-reader",
        "--verb=get,list",
        "--resource=pods",
    )
    kubectl(
        admin_config,
        "-n",
        "dev",
        "create",
        "rolebinding",
        "jane-reads",
        "--role=pod-reader",
        "--user=jane",
    )
    kubectl(admin_config, "-n", "dev", "create", "configmap", "gone", "--from-literal=a=b")
    kubectl(admin_config, "-n", "dev", "delete", "configmap", "gone")
    kubectl(admin_config, "-n", "dev", "create", "serviceaccount", "bot")
    sa_token = kubectl(admin_config, "-n", "dev", "create", "token", "bot").stdout.strip()
    # A user with a token issued through the admin API, and a node file.
    jane = sim.admin("POST", "/admin/clusters/crash1/users", json={"name": "jane"})
    assert jane.status_code == 201
    jane_config = tmp_path / "jane.kubeconfig"
    jane_config.write_text(jane.json()["kubeconfig"])
    wrote = sim.admin(
        "PUT",
        "/admin/clusters/crash1/nodes/node01/files",
        params={"path": "/etc/motd"},
        json={"content": "kept across a crash\n"},
    )
    assert wrote.status_code == 200
    # A manual-clock cluster ticked forward, and a cluster deleted before the crash.
    manual = sim.admin(
        "POST",
        "/admin/clusters",
        json={"id": "manual1", "clock": "manual"},
    )
    assert manual.status_code == 201
    ticked = sim.admin("POST", "/admin/clusters/manual1/tick", json={"seconds": 30})
    assert ticked.status_code == 200
    now_before = ticked.json()["now"]
    create_cluster(sim, tmp_path, "deleted1")
    assert sim.admin("DELETE", "/admin/clusters/deleted1").status_code == 200
    time.sleep(CREDENTIAL_WINDOW)
    # The last write is acknowledged and the process dies at once.
    kubectl(admin_config, "-n", "dev", "patch", "configmap", "app", "-p", '{"data":{"k":"v2"}}')
    kubectl(admin_config, "-n", "dev", "create", "configmap", "last", "--from-literal=x=y")
    sim.kill()

    sim.start()
    ids = sorted(item["id"] for item in sim.admin("GET", "/admin/clusters").json()["items"])
    assert ids == ["crash1", "manual1"]
    # Same CA, same admin token in the same kubeconfig: kubectl works unchanged.
    value = kubectl(
        admin_config, "-n", "dev", "get", "configmap", "app", "-o", "jsonpath={.data.k}"
    )
    assert value.stdout == "v2"
    assert kubectl(admin_config, "-n", "dev", "get", "configmap", "last").returncode == 0
    gone = kubectl(admin_config, "-n", "dev", "get", "configmap", "gone", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    # jane's token still authenticates and the RBAC objects still authorize her.
    assert kubectl(jane_config, "-n", "dev", "auth", "can-i", "list", "pods").stdout.strip() == (
        "yes"
    )
    denied = kubectl(jane_config, "-n", "dev", "get", "configmaps", check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr
    # The service account token issued through the API still works.
    whoami = kubectl(
        admin_config,
        "--token",
        sa_token,
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
        check=False,
    )
    assert whoami.stdout == "system:serviceaccount:dev:bot", whoami.stderr
    motd = sim.admin(
        "GET", "/admin/clusters/crash1/nodes/node01/files", params={"path": "/etc/motd"}
    )
    assert motd.json()["content"] == "kept across a crash\n"
    clock = sim.admin("POST", "/admin/clusters/manual1/tick", json={"seconds": 0})
    assert clock.json()["now"] >= now_before

    # A second crash after the restart: what was written since is kept too.
    kubectl(admin_config, "-n", "dev", "create", "configmap", "after-restart", "--from-literal=z=1")
    sim.kill()
    sim.start()
    assert kubectl(admin_config, "-n", "dev", "get", "configmap", "after-restart").returncode == 0
    assert (
        kubectl(
            admin_config, "-n", "dev", "get", "configmap", "app", "-o", "jsonpath={.data.k}"
        ).stdout
        == "v2"
    )


def test_reused_cluster_id_gets_only_its_own_objects(
    sim_process: SimProcess, tmp_path: Path
) -> None:
    sim = sim_process
    first = create_cluster(sim, tmp_path, "reuse")
    kubectl(first, "create", "configmap", "from-first", "--from-literal=a=1")
    assert sim.admin("DELETE", "/admin/clusters/reuse").status_code == 200
    second = create_cluster(sim, tmp_path, "reuse", file="reuse-second")
    kubectl(second, "create", "configmap", "from-second", "--from-literal=b=2")
    sim.kill()
    sim.start()
    assert kubectl(second, "get", "configmap", "from-second").returncode == 0
    stale = kubectl(second, "get", "configmap", "from-first", check=False)
    assert stale.returncode != 0 and "NotFound" in stale.stderr
    # The first cluster's kubeconfig carried another token: it is refused.
    refused = kubectl(first, "get", "configmaps", check=False)
    assert refused.returncode != 0


def test_clean_shutdown_leaves_snapshots_and_an_empty_log(
    sim_process: SimProcess, tmp_path: Path
) -> None:
    sim = sim_process
    config = create_cluster(sim, tmp_path, "clean1")
    kubectl(config, "create", "configmap", "kept", "--from-literal=a=b")
    sim.stop()
    clusters = sim.state / "clusters"
    assert (clusters / "clean1.json").exists()
    assert oct((clusters / "clean1.json").stat().st_mode & 0o777) == "0o600"
    logs = sorted(clusters.glob("wal-*.log"))
    assert [p.stat().st_size for p in logs] == [0] * len(logs)
    sim.start()
    assert kubectl(config, "get", "configmap", "kept", "-o", "jsonpath={.data.a}").stdout == "b"


def test_a_restored_cluster_survives_a_kill(sim_process: SimProcess, tmp_path: Path) -> None:
    sim = sim_process
    source = create_cluster(sim, tmp_path, "source1")
    kubectl(source, "create", "configmap", "from-source", "--from-literal=a=1")
    snapshot = sim.admin("POST", "/admin/clusters/source1/snapshot").json()
    snapshot.pop("auth", None)  # as a lab's setup: the target keeps its credentials
    target = create_cluster(sim, tmp_path, "target1")
    restored = sim.admin("POST", "/admin/clusters/target1/restore", json=snapshot)
    assert restored.status_code == 200, restored.text
    kubectl(target, "create", "configmap", "on-top", "--from-literal=b=2")
    sim.kill()
    sim.start()
    names = kubectl(target, "get", "configmaps", "-o", "name").stdout.split()
    assert "configmap/from-source" in names and "configmap/on-top" in names
