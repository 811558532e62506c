"""The admin API's route table and body schemas over real HTTPS: each refusal's status
and message, the order in which they are checked, and what the routes answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster


@pytest.fixture
def admin(sim_server: SimServer, tmp_path: Path) -> requests.Session:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(sim_server.ca.cert_pem)
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    session.verify = str(ca)
    session.headers["Authorization"] = f"Bearer {sim_server.admin_token}"
    return session


def refusal(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"labels": ["a"]}, "labels must be an object of strings"),
        ({"nodes": "3"}, "nodes must be an integer"),
        ({"nodes": True}, "nodes must be an integer"),
        ({"clockSpeed": 0}, "clockSpeed must be a number in (0, 1000]"),
        ({"clockSpeed": 1001}, "clockSpeed must be a number in (0, 1000]"),
        ({"clock": "lunar"}, 'clock must be "wall" or "manual"'),
        (
            {"clock": "manual", "clockStart": "2001-01-01T00:00:00Z"},
            "clockStart must be an RFC 3339 time within a day of now",
        ),
        ({"shape": {"nodes": {}}}, "invalid cluster shape: shape.nodes must be a list"),
        (
            {"nodes": 2, "shape": {"nodes": [{"name": "cp", "role": "control-plane"}]}},
            "nodes must equal the number of the shape's nodes when both are given",
        ),
        ({"id": "Not_A_Label"}, "invalid cluster id 'Not_A_Label': use a DNS label"),
    ],
)
def test_a_new_cluster_body_is_checked(
    sim_server: SimServer, admin: requests.Session, body: dict, message: str
) -> None:
    before = set(sim_server.clusters)
    response = admin.post(f"{sim_server.base_url}/admin/clusters", json=body)
    assert refusal(response) == (422, message)
    assert set(sim_server.clusters) == before


def test_methods_and_unknown_routes(
    sim_server: SimServer, admin: requests.Session, sim_cluster: SimCluster
) -> None:
    base = f"{sim_server.base_url}/admin/clusters"
    assert refusal(admin.put(base, json={})) == (405, "method not allowed")
    # An unknown cluster is 404 whatever the action; an unknown action on a known one too.
    assert refusal(admin.get(f"{base}/nosuch/kubeconfig")) == (404, 'cluster "nosuch" not found')
    assert admin.post(f"{base}/{sim_cluster.id}/kubeconfig").status_code == 404
    assert admin.get(f"{base}/{sim_cluster.id}/restore").status_code == 404
    assert admin.post(f"{base}/{sim_cluster.id}/nodes", json={}).status_code == 405
    # Both snapshot methods answer the same document.
    assert admin.post(f"{base}/{sim_cluster.id}/snapshot").json()["id"] == sim_cluster.id
    assert admin.get(f"{base}/{sim_cluster.id}/snapshot").json()["id"] == sim_cluster.id
    # The admin token is checked before anything else.
    anonymous = requests.get(f"{base}/nosuch", verify=admin.verify)
    assert anonymous.status_code == 401


def test_cluster_bodies_are_checked(
    sim_server: SimServer, admin: requests.Session, sim_cluster: SimCluster
) -> None:
    base = f"{sim_server.base_url}/admin/clusters/{sim_cluster.id}"
    assert refusal(admin.post(f"{base}/users", json={"groups": ["x"]})) == (
        422,
        "a user needs a name",
    )
    assert refusal(admin.post(f"{base}/restore", json={"store": []})) == (
        422,
        "a snapshot needs a `store` object",
    )
    assert refusal(admin.post(f"{base}/tick", json={"seconds": "1"})) == (
        422,
        "seconds must be a number",
    )
    assert refusal(admin.post(f"{base}/tick", json={"seconds": 1})) == (
        409,
        "this cluster follows the wall clock; only manual clocks tick",
    )
    node = f"{base}/nodes/node01"
    assert refusal(admin.put(f"{node}/files?path=/tmp/x", json={"content": 1})) == (
        422,
        "content must be a string",
    )
    assert refusal(admin.get(f"{node}/files?path=relative")) == (
        422,
        "path must be an absolute path",
    )
    assert refusal(admin.post(f"{node}/exec", json={"command": "  "})) == (
        422,
        "command must be a non-empty string",
    )
    assert refusal(admin.post(f"{base}/nodes/nosuch/exec", json={"command": "ls"})) == (
        404,
        'node "nosuch" not found',
    )
    written = admin.put(f"{node}/files?path=/tmp/x", json={"content": "hello"})
    assert written.json() == {"node": "node01", "path": "/tmp/x", "size": 5}
    read = admin.get(f"{node}/files?path=/tmp/x").json()
    assert read["content"] == "hello"
    ran = admin.post(f"{node}/exec", json={"command": "cat /tmp/x"}).json()
    assert ran["exit_code"] == 0 and "hello" in ran["stdout"]


def test_a_manual_clock_ticks(sim_server: SimServer, admin: requests.Session) -> None:
    base = f"{sim_server.base_url}/admin/clusters"
    created = admin.post(base, json={"clock": "manual", "nodes": 1})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    try:
        before = sim_server.get_cluster(cid).clock.now()
        ticked = admin.post(f"{base}/{cid}/tick", json={"seconds": 30})
        assert ticked.status_code == 200, ticked.text
        assert (sim_server.get_cluster(cid).clock.now() - before).total_seconds() == 30
        too_far = admin.post(f"{base}/{cid}/tick", json={"seconds": 10**9})
        assert too_far.status_code == 422
        assert too_far.json()["message"].startswith("seconds must be between 0 and ")
    finally:
        admin.delete(f"{base}/{cid}")
