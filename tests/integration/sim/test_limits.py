"""A learner cannot take the shared simulator down: hostile YAML bodies, per-cluster
storage quotas, the request rate, watch limits, and ids that reveal nothing, all over
real HTTP against a running server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import requests

from app.sim.controllers.client import ApiClient
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.limits import ClusterLimits, StorageLimits
from app.sim.server import SimServer

pytestmark = pytest.mark.reliability

# Generous: a guard against hanging, never a timing assertion.
HANG_GUARD = 60


@dataclass
class Lab:
    server: SimServer
    cluster: Cluster

    @property
    def url(self) -> str:
        return self.server.cluster_url(self.cluster.id)

    def session(self, token: str | None = None) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {token or self.cluster.auth.admin_token}"
        return session


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    # Plain HTTP, no control plane: only the API layer and its limits are exercised.
    sim = SimServer(
        host="127.0.0.1", port=0, tls=False, node_agents=False, control_plane=False
    ).start_in_thread()
    yield sim
    sim.stop_thread()


@pytest.fixture
def lab(server: SimServer) -> Iterator[Lab]:
    server.limits = ClusterLimits(requests_per_second=0)
    cluster = server.create_cluster(nodes=1)
    yield Lab(server, cluster)
    server.delete_cluster(cluster.id)


def configmaps(lab: Lab) -> str:
    return f"{lab.url}/api/v1/namespaces/default/configmaps"


def configmap(name: str, payload: str = "x") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": payload},
    }


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: lol}",
        'a0: &a0 ["' + '", "'.join(["lol"] * width) + '"]',
    ]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    lines.append(f"data: {{k: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


# ---- item: YAML bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (alias_bomb(), "excessive aliasing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x, m: *m}\n", "contains it"),
        ("apiVersion: v1\nkind: ConfigMap\ndata: " + "[" * 3000 + "]" * 3000 + "\n", "nested"),
        ('apiVersion: v1\nkind: ConfigMap\ndata: {k: "a\x00b"}\n', "#x0000"),
    ],
    ids=["alias-bomb", "self-alias", "deep", "nul"],
)
def test_hostile_yaml_bodies_get_a_400_status(lab: Lab, body: str, words: str) -> None:
    session = lab.session()
    response = session.post(
        configmaps(lab),
        data=body.encode(),
        headers={"Content-Type": "application/yaml"},
        timeout=HANG_GUARD,
    )
    assert response.status_code == 400, response.text
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "BadRequest"
    assert status["message"].startswith("error converting YAML to JSON: yaml: line ")
    assert words in status["message"]
    # The server is still answering, and nothing was stored.
    listed = session.get(configmaps(lab), timeout=HANG_GUARD).json()["items"]
    assert [i["metadata"]["name"] for i in listed] == ["kube-root-ca.crt"]


def test_the_alias_bomb_is_refused_in_server_side_apply_too(lab: Lab) -> None:
    response = lab.session().patch(
        f"{configmaps(lab)}/lol?fieldManager=kubectl",
        data=alias_bomb().encode(),
        headers={"Content-Type": "application/apply-patch+yaml"},
        timeout=HANG_GUARD,
    )
    assert response.status_code == 400
    assert "excessive aliasing" in response.json()["message"]


def test_a_yaml_body_with_anchors_within_the_limits_is_created(lab: Lab) -> None:
    body = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: anchors, labels: &l {app: web}}\n"
        "data: {a: &v hello, b: *v}\n"
    )
    response = lab.session().post(
        configmaps(lab), data=body, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"] == {"a": "hello", "b": "hello"}


def test_a_body_over_three_mebibytes_gets_413(lab: Lab) -> None:
    response = lab.session().post(
        configmaps(lab), data=json.dumps(configmap("huge", "x" * (3 * 1024 * 1024 + 10)))
    )
    assert response.status_code == 413
    assert response.json()["kind"] == "Status"


# ---- item: storage quota -------------------------------------------------------------------


def test_an_object_over_the_size_limit_gets_413(lab: Lab) -> None:
    session = lab.session()
    # The default fits every ConfigMap upstream accepts (1 MiB of data)...
    full = session.post(configmaps(lab), json=configmap("full", "x" * (1024 * 1024 - 64)))
    assert full.status_code == 201, full.text[:200]
    # ...and a lower limit refuses larger objects with 413.
    lab.cluster.store.limits = StorageLimits(max_object_bytes=100_000)
    response = session.post(configmaps(lab), json=configmap("big", "x" * 100_001))
    assert response.status_code == 413
    status = response.json()
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"].startswith('configmaps "big" is too large: ')
    assert "at most 100000 bytes" in status["message"]


def test_object_count_quota_answers_403_and_frees_on_delete(lab: Lab) -> None:
    objects, _ = lab.cluster.store.usage()
    lab.cluster.store.limits = StorageLimits(max_objects=objects + 3)
    session = lab.session()
    created = [session.post(configmaps(lab), json=configmap(f"cm{i}")) for i in range(5)]
    assert [r.status_code for r in created] == [201, 201, 201, 403, 403]
    status = created[3].json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'configmaps "cm3" is forbidden: exceeded quota: simulator-cluster-quota, '
        f"requested: objects=1, used: objects={objects + 3}, limited: objects={objects + 3}"
    )
    assert session.delete(f"{configmaps(lab)}/cm0").status_code == 200
    assert session.post(configmaps(lab), json=configmap("cm3")).status_code == 201


def test_stored_bytes_quota_counts_growth_and_updates(lab: Lab) -> None:
    _, used = lab.cluster.store.usage()
    lab.cluster.store.limits = StorageLimits(max_bytes=used + 250_000)
    session = lab.session()
    statuses = [
        session.post(configmaps(lab), json=configmap(f"b{i}", "x" * 100_000)).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 403]
    # Shrinking an object always passes; growing it past the quota does not.
    current = session.get(f"{configmaps(lab)}/b0").json()
    current["data"]["k"] = "small"
    assert session.put(f"{configmaps(lab)}/b0", json=current).status_code == 200
    current = session.get(f"{configmaps(lab)}/b0").json()
    current["data"]["k"] = "y" * 200_000
    grown = session.put(f"{configmaps(lab)}/b0", json=current)
    assert grown.status_code == 403 and "exceeded quota" in grown.json()["message"]
    assert lab.cluster.store.usage()[1] <= used + 250_000


def test_the_control_plane_keeps_a_reserve_above_the_clients_quota(lab: Lab) -> None:
    objects, _ = lab.cluster.store.usage()
    lab.cluster.store.limits = StorageLimits(max_objects=objects + 20)
    session = lab.session()
    for i in range(25):
        session.post(configmaps(lab), json=configmap(f"fill{i}"))
    assert lab.cluster.store.usage()[0] == objects + 20
    # The controllers' client (as a ReplicaSet controller creating pods) still writes,
    # up to the reserve (10 % of the limit: 2 more objects here).
    controller = ApiClient(lab.cluster.store, lab.cluster)
    controller.create(
        "",
        "configmaps",
        {**configmap("system-0"), "metadata": {"name": "system-0", "namespace": "default"}},
    )
    controller.create(
        "",
        "configmaps",
        {**configmap("system-1"), "metadata": {"name": "system-1", "namespace": "default"}},
    )
    assert lab.cluster.store.usage()[0] == objects + 22


def test_flooding_one_mebibyte_configmaps_stops_at_the_quota(lab: Lab) -> None:
    session = lab.session()
    payload = "x" * (1024 * 1024 - 200)
    statuses = []
    for i in range(40):
        statuses.append(
            session.post(configmaps(lab), json=configmap(f"mb{i}", payload)).status_code
        )
    assert statuses.count(201) < 32 and statuses[-1] == 403
    _, stored = lab.cluster.store.usage()
    assert stored <= StorageLimits().max_bytes
    # The watch history keeps at most its byte budget of these objects.
    assert lab.cluster.store._history.bytes <= 16 * 1024 * 1024


# ---- item: request rate --------------------------------------------------------------------


def test_request_rate_answers_429_with_retry_after_per_cluster(lab: Lab) -> None:
    server = lab.server
    server.limits = ClusterLimits(requests_per_second=1, request_burst=5)
    other = server.create_cluster(nodes=1)
    try:
        session = lab.session()
        answers = [session.get(configmaps(lab)) for _ in range(8)]
        codes = [r.status_code for r in answers]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        refused = next(r for r in answers if r.status_code == 429)
        assert int(refused.headers["Retry-After"]) >= 1
        body = refused.json()
        assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] >= 1
        # Another cluster has its own budget...
        neighbour = Lab(server, other)
        assert neighbour.session().get(configmaps(neighbour)).status_code == 200
        # ...and the control plane's writes never pass through the rate limit.
        ApiClient(lab.cluster.store, lab.cluster).create(
            "",
            "configmaps",
            {**configmap("cp"), "metadata": {"name": "cp", "namespace": "default"}},
        )
        assert lab.cluster.store.get("", "configmaps", "default", "cp") is not None
    finally:
        server.delete_cluster(other.id)


# ---- item: watches -------------------------------------------------------------------------


def test_watches_per_credential_are_limited(lab: Lab) -> None:
    server = lab.server
    server.limits = replace(ClusterLimits(requests_per_second=0), watches_per_credential=2)
    watch = f"{configmaps(lab)}?watch=true&timeoutSeconds=2"
    session = lab.session()
    first = session.get(watch, stream=True, timeout=HANG_GUARD)
    second = session.get(watch, stream=True, timeout=HANG_GUARD)
    assert (first.status_code, second.status_code) == (200, 200)
    third = session.get(watch, stream=True, timeout=HANG_GUARD)
    assert third.status_code == 429
    assert third.json()["reason"] == "TooManyRequests" and third.headers["Retry-After"] == "5"
    # Another credential of the same cluster has its own allowance.
    token = lab.cluster.auth.add_token("jane", ("system:masters",))
    other = lab.session(token).get(watch, stream=True, timeout=HANG_GUARD)
    assert other.status_code == 200
    # Once the watches end (timeoutSeconds), the credential may watch again.
    for response in (first, second, other):
        response.content  # noqa: B018 - read to the end of the stream
        response.close()
    deadline = time.monotonic() + HANG_GUARD
    again = session.get(watch, stream=True, timeout=HANG_GUARD)
    while again.status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.2)
        again = session.get(watch, stream=True, timeout=HANG_GUARD)
    assert again.status_code == 200
    again.close()


# ---- item: cluster ids reveal nothing ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "healthz",
        "livez",
        "readyz",
        "readyz?verbose",
        "healthz/etcd",
        "version",
        "",
        "api",
        "apis",
        "api/v1/namespaces/default/configmaps",
        "api/v1/nosuchthing",
    ],
)
def test_anonymous_callers_get_the_same_answer_for_real_and_unknown_ids(
    lab: Lab, path: str
) -> None:
    real = requests.get(f"{lab.url}/{path}", timeout=HANG_GUARD)
    unknown = requests.get(f"{lab.server.base_url}/clusters/c0000000000/{path}", timeout=HANG_GUARD)
    assert real.status_code == unknown.status_code
    assert real.text == unknown.text


def test_credentials_get_401_for_a_cluster_that_does_not_exist(lab: Lab) -> None:
    wrong = {"Authorization": "Bearer not-a-token"}
    real = requests.get(configmaps(lab), headers=wrong, timeout=HANG_GUARD)
    unknown = requests.get(
        f"{lab.server.base_url}/clusters/c0000000000/api/v1/namespaces/default/configmaps",
        headers=wrong,
        timeout=HANG_GUARD,
    )
    assert real.status_code == unknown.status_code == 401
    assert real.json() == unknown.json()


# ---- item: no request blocks the event loop ------------------------------------------------


@pytest.mark.parametrize("query", ["", "?watch=true&timeoutSeconds=1"], ids=["get", "watch"])
def test_a_stuck_request_on_one_cluster_does_not_stop_another(lab: Lab, query: str) -> None:
    """Cluster A's request waits on A's store (held here, as a long write would hold
    it); meanwhile cluster B answers. Were A's request run on the event loop, B's
    would wait for A."""
    server = lab.server
    other = server.create_cluster(nodes=1)
    neighbour = Lab(server, other)
    finished: list[int] = []
    try:
        with lab.cluster.store.lock:
            stuck = threading.Thread(
                target=lambda: finished.append(
                    lab.session().get(configmaps(lab) + query, timeout=HANG_GUARD).status_code
                )
            )
            stuck.start()
            # Wait until A's request holds A's turn (it is then blocked on the store).
            deadline = time.monotonic() + HANG_GUARD
            while not _turn_taken(server, lab.cluster.id) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _turn_taken(server, lab.cluster.id)
            answer = neighbour.session().get(configmaps(neighbour), timeout=HANG_GUARD)
            assert answer.status_code == 200
            assert finished == []  # A is still waiting for its store
        stuck.join(HANG_GUARD)
        assert finished == [200]
    finally:
        server.delete_cluster(other.id)


def _turn_taken(server: SimServer, cluster_id: str) -> bool:
    lock = server._cluster_locks.get(cluster_id)
    return lock is not None and lock.locked()
