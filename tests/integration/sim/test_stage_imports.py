"""The request pipeline's stages are plain imports: a stage that cannot load stops the
server instead of turning into a pass-through (an unimportable RBAC module used to let
a user without bindings read kube-system secrets)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster

STAGES = ("authn", "rbac", "admission", "defaults", "validation", "patch", "ssa")
STAGES += ("printers", "protobuf")


@pytest.fixture
def ca_file(sim_server: SimServer, tmp_path: Path) -> str:
    path = tmp_path / "ca.crt"
    path.write_bytes(sim_server.ca.cert_pem)
    return str(path)


def session(token: str, ca_file: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    s.verify = ca_file
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def test_a_user_without_bindings_is_forbidden_through_the_server(
    sim_cluster: SimCluster, ca_file: str
) -> None:
    token = sim_cluster.cluster.auth.add_token("mallory", ("dev",))
    secrets = f"{sim_cluster.url}/api/v1/namespaces/kube-system/secrets"
    response = session(token, ca_file).get(secrets)
    assert response.status_code == 403
    assert response.json()["reason"] == "Forbidden"
    assert 'User "mallory" cannot list resource "secrets"' in response.json()["message"]
    # The admin reads the same list: the 403 is the authorizer, not a broken route.
    assert session(sim_cluster.token, ca_file).get(secrets).status_code == 200


def test_an_invalid_name_is_rejected_through_the_server(
    sim_cluster: SimCluster, ca_file: str
) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name!"}}
    url = f"{sim_cluster.url}/api/v1/namespaces/default/configmaps"
    response = session(sim_cluster.token, ca_file).post(url, json=body)
    assert response.status_code == 422
    assert response.json()["reason"] == "Invalid"
    assert sim_cluster.store.get("", "configmaps", "default", "Bad_Name!") is None


# Blocks one stage module (as a module that fails to import would) in a fresh
# interpreter, then imports the server: it must fail with that module's ImportError.
PROBE = textwrap.dedent(
    """
    import json, sys
    results = {}
    for stage in sys.argv[1:]:
        for name in [m for m in sys.modules if m == "app.sim" or m.startswith("app.sim.")]:
            del sys.modules[name]
        sys.modules["app.sim.apiserver." + stage] = None  # import raises ImportError
        try:
            import app.sim.server  # noqa: F401
        except ImportError as exc:
            results[stage] = str(exc)
        else:
            results[stage] = None
        del sys.modules["app.sim.apiserver." + stage]
    print(json.dumps(results))
    """
)


def test_a_stage_that_cannot_be_imported_stops_the_server() -> None:
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *STAGES],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=True,
    )
    results = json.loads(done.stdout)
    for stage in STAGES:
        assert results[stage] is not None, f"the server imported without app.sim.apiserver.{stage}"
        assert f"app.sim.apiserver.{stage}" in results[stage]
