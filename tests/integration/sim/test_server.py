"""The simulator server over real HTTPS: admin API, authentication, Status errors,
Table negotiation, paging, watch streams and snapshots."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests

from app.sim.machinery.errors import ApiError
from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster


@pytest.fixture
def ca_file(sim_server: SimServer, tmp_path: Path) -> str:
    path = tmp_path / "ca.crt"
    path.write_bytes(sim_server.ca.cert_pem)
    return str(path)


@pytest.fixture
def api(sim_cluster: SimCluster, ca_file: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    session.verify = ca_file
    session.headers["Authorization"] = f"Bearer {sim_cluster.token}"
    session.base = sim_cluster.url  # type: ignore[attr-defined]
    return session


def url(api: requests.Session, path: str) -> str:
    return api.base + path  # type: ignore[attr-defined]


def admin(sim_server: SimServer, ca_file: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    session.verify = ca_file
    session.headers["Authorization"] = f"Bearer {sim_server.admin_token}"
    return session


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_server_health(sim_server: SimServer, ca_file: str) -> None:
    assert requests.get(f"{sim_server.base_url}/healthz", verify=ca_file).text == "ok"
    verbose = requests.get(f"{sim_server.base_url}/readyz?verbose", verify=ca_file).text
    assert "[+]etcd ok" in verbose
    assert verbose.strip().endswith("readyz check passed")


def test_admin_api_needs_the_admin_token(sim_server: SimServer, ca_file: str) -> None:
    response = requests.get(f"{sim_server.base_url}/admin/clusters", verify=ca_file)
    assert response.status_code == 401
    assert response.json()["reason"] == "Unauthorized"
    response = requests.get(
        f"{sim_server.base_url}/admin/clusters",
        verify=ca_file,
        headers={"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401


def test_admin_create_list_snapshot_restore_delete(sim_server: SimServer, ca_file: str) -> None:
    session = admin(sim_server, ca_file)
    base = f"{sim_server.base_url}/admin/clusters"
    created = session.post(base, json={"nodes": 2, "labels": {"lab": "demo"}})
    assert created.status_code == 201, created.text
    doc = created.json()
    cid = doc["id"]
    assert doc["nodes"] == 2
    assert f"/clusters/{cid}" in doc["kubeconfig"]
    assert "certificate-authority-data" in doc["kubeconfig"]
    assert cid in [c["id"] for c in session.get(base).json()["items"]]
    assert session.post(base, json={"id": cid}).status_code == 409
    assert session.post(base, json={"nodes": 0}).status_code == 422

    cluster_api = requests.Session()
    cluster_api.trust_env = False
    cluster_api.verify = ca_file
    cluster_api.headers["Authorization"] = f"Bearer {doc['token']}"
    cms = f"{sim_server.base_url}/clusters/{cid}/api/v1/namespaces/default/configmaps"
    assert cluster_api.post(cms, json=configmap("before")).status_code == 201
    snapshot = session.post(f"{base}/{cid}/snapshot").json()
    assert cluster_api.post(cms, json=configmap("after")).status_code == 201
    restored = session.post(f"{base}/{cid}/restore", data=json.dumps(snapshot))
    assert restored.status_code == 200, restored.text
    names = [i["metadata"]["name"] for i in cluster_api.get(cms).json()["items"]]
    assert "before" in names and "after" not in names

    assert session.delete(f"{base}/{cid}").status_code == 200
    # The deleted cluster's token authenticates nowhere (401, as any unknown id
    # answers a credential, so the API does not reveal which ids exist); the admin
    # API, which may know, says 404.
    assert cluster_api.get(cms).status_code == 401
    assert session.get(f"{base}/{cid}").status_code == 404


def test_tokens_and_anonymous(sim_cluster: SimCluster, ca_file: str) -> None:
    pods = f"{sim_cluster.url}/api/v1/namespaces/default/pods"
    bad = requests.get(pods, verify=ca_file, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    anonymous = requests.get(pods, verify=ca_file)
    assert anonymous.status_code == 403
    assert 'User "system:anonymous" cannot list resource "pods"' in anonymous.json()["message"]
    # /version is public, as upstream's system:public-info-viewer makes it.
    version = requests.get(f"{sim_cluster.url}/version", verify=ca_file).json()
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.3")


def test_client_certificate_user(sim_cluster: SimCluster, ca_file: str, tmp_path: Path) -> None:
    pair = sim_cluster.cluster.auth.issue_client_cert("jane", ("devs",))
    cert, key = tmp_path / "jane.crt", tmp_path / "jane.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    response = requests.post(
        f"{sim_cluster.url}/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json=review,
        verify=ca_file,
        cert=(str(cert), str(key)),
    )
    assert response.status_code == 201, response.text
    info = response.json()["status"]["userInfo"]
    assert info["username"] == "jane"
    assert "devs" in info["groups"]


def test_status_errors(api: requests.Session) -> None:
    cms = url(api, "/api/v1/namespaces/default/configmaps")
    missing = api.get(url(api, "/api/v1/namespaces/default/configmaps/nope"))
    assert missing.status_code == 404
    assert missing.json()["message"] == 'configmaps "nope" not found'
    # StatusDetails.group is omitempty: no "group" key for the core group.
    assert missing.json()["details"] == {"name": "nope", "kind": "configmaps"}
    unknown = api.get(url(api, "/apis/example.com/v1/widgets"))
    assert unknown.status_code == 404
    assert unknown.json()["reason"] == "NotFound"
    bad_json = api.post(cms, data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert "json parse error" in bad_json.json()["message"]
    weird = api.post(cms, data=b"x", headers={"Content-Type": "text/csv"})
    assert weird.status_code == 415
    assert api.post(cms, json=configmap("dup")).status_code == 201
    dup = api.post(cms, json=configmap("dup"))
    assert dup.status_code == 409 and dup.json()["reason"] == "AlreadyExists"
    wrong_ns = configmap("x")
    wrong_ns["metadata"]["namespace"] = "kube-system"
    mismatch = api.post(cms, json=wrong_ns)
    assert mismatch.status_code == 400
    assert "does not match the namespace" in mismatch.json()["message"]
    no_ns = api.post(url(api, "/api/v1/namespaces/ghost/configmaps"), json=configmap("x"))
    assert no_ns.status_code == 404
    assert no_ns.json()["message"] == 'namespaces "ghost" not found'
    stale = api.get(url(api, "/api/v1/namespaces/default/configmaps/dup")).json()
    stale_copy = json.loads(json.dumps(stale))
    stale["data"] = {"a": "1"}
    assert (
        api.put(url(api, "/api/v1/namespaces/default/configmaps/dup"), json=stale).status_code
        == 200
    )
    conflict = api.put(url(api, "/api/v1/namespaces/default/configmaps/dup"), json=stale_copy)
    assert conflict.status_code == 409
    assert conflict.json()["reason"] == "Conflict"
    not_allowed = api.post(
        url(api, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/x"), json={}
    )
    assert not_allowed.status_code in (404, 405)


def test_table_and_partial_metadata(api: requests.Session) -> None:
    table = api.get(
        url(api, "/api/v1/nodes"),
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    ).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Status",
        "Roles",
        "Age",
        "Version",
    ]
    assert [r["cells"][0] for r in table["rows"]] == ["controlplane", "node01", "node02"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    partial = api.get(
        url(api, "/api/v1/namespaces"),
        headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"},
    ).json()
    assert partial["kind"] == "PartialObjectMetadataList"
    assert "spec" not in partial["items"][0]


def test_limit_and_continue(api: requests.Session) -> None:
    cms = url(api, "/api/v1/namespaces/default/configmaps")
    for i in range(5):
        api.post(cms, json=configmap(f"page-{i}"))
    seen: list[str] = []
    params = {"limit": "2", "labelSelector": ""}
    while True:
        body = api.get(cms, params=params).json()
        seen += [i["metadata"]["name"] for i in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        params["continue"] = token
    assert seen == ["kube-root-ca.crt", *[f"page-{i}" for i in range(5)]]
    assert api.get(cms, params={"continue": "!!!"}).status_code == 400


def test_dry_run_does_not_persist(api: requests.Session) -> None:
    cms = url(api, "/api/v1/namespaces/default/configmaps")
    response = api.post(cms, params={"dryRun": "All"}, json=configmap("ghost"))
    assert response.status_code == 201
    assert response.json()["metadata"]["name"] == "ghost"
    assert api.get(f"{cms}/ghost").status_code == 404


def test_delete_collection_by_label(api: requests.Session) -> None:
    cms = url(api, "/api/v1/namespaces/default/configmaps")
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        cm = configmap(name)
        cm["metadata"]["labels"] = {"tier": tier}
        api.post(cms, json=cm)
    deleted = api.delete(cms, params={"labelSelector": "tier=x"}).json()
    assert deleted["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in deleted["items"]) == ["a", "b"]
    left = [i["metadata"]["name"] for i in api.get(cms).json()["items"]]
    assert "c" in left and "a" not in left


def watch_lines(api: requests.Session, path: str, **params: str) -> list[dict]:
    with api.get(url(api, path), params=params, stream=True, timeout=10) as response:
        assert response.status_code == 200
        return [json.loads(line) for line in response.iter_lines() if line]


def test_watch_list_ends_initial_events_with_bookmark(api: requests.Session) -> None:
    events = watch_lines(
        api,
        "/api/v1/namespaces",
        watch="true",
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
        allowWatchBookmarks="true",
        timeoutSeconds="1",
    )
    types = [e["type"] for e in events]
    assert types == ["ADDED"] * 4 + ["BOOKMARK"]
    bookmark = events[-1]["object"]
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["kind"] == "Namespace"


def test_watch_from_resource_version_sees_later_writes(
    api: requests.Session, sim_cluster: SimCluster
) -> None:
    rv = api.get(url(api, "/api/v1/namespaces/default/configmaps")).json()["metadata"][
        "resourceVersion"
    ]
    sim_cluster.store.create(
        "",
        "configmaps",
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "w1", "namespace": "default"},
        },
    )
    events = watch_lines(
        api,
        "/api/v1/namespaces/default/configmaps",
        watch="1",
        resourceVersion=rv,
        timeoutSeconds="1",
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1")]


def test_watch_too_old_resource_version(api: requests.Session, sim_cluster: SimCluster) -> None:
    store = sim_cluster.store
    for i in range(1100):  # more than the event history keeps
        store.create(
            "",
            "configmaps",
            {
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {"name": f"c{i}", "namespace": "default"},
            },
        )
    events = watch_lines(
        api,
        "/api/v1/namespaces/default/configmaps",
        watch="true",
        resourceVersion="2",
        timeoutSeconds="1",
    )
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"


def test_watch_as_table(api: requests.Session) -> None:
    events = watch_lines(
        api, "/api/v1/nodes", watch="true", timeoutSeconds="1", fieldSelector="metadata.name=node01"
    )
    assert len(events) == 1
    with api.get(
        url(api, "/api/v1/nodes"),
        stream=True,
        timeout=10,
        params={"watch": "true", "timeoutSeconds": "1"},
        headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"},
    ) as r:
        tables = [json.loads(line) for line in r.iter_lines() if line]
    assert {t["object"]["kind"] for t in tables} == {"Table"}
    assert [len(t["object"]["rows"]) for t in tables] == [1, 1, 1]


def test_subresources_scale_and_status(api: requests.Session) -> None:
    deploys = url(api, "/apis/apps/v1/namespaces/default/deployments")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
        "status": {"replicas": 99},
    }
    created = api.post(deploys, json=deployment).json()
    assert "replicas" not in created.get("status", {})  # clients cannot set status on create
    scale = api.get(f"{deploys}/web/scale").json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "app=web"
    patched = api.patch(
        f"{deploys}/web/scale",
        data=json.dumps({"spec": {"replicas": 4}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert api.get(f"{deploys}/web").json()["spec"]["replicas"] == 4
    current = api.get(f"{deploys}/web").json()
    current["status"] = {"replicas": 4, "readyReplicas": 4}
    current["spec"]["replicas"] = 7  # ignored by /status
    assert api.put(f"{deploys}/web/status", json=current).status_code == 200
    after = api.get(f"{deploys}/web").json()
    assert after["status"]["readyReplicas"] == 4
    assert after["spec"]["replicas"] == 4


def test_pod_binding_and_log(api: requests.Session) -> None:
    pods = url(api, "/api/v1/namespaces/default/pods")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert api.post(pods, json=pod).status_code == 201
    waiting = api.get(f"{pods}/p/log")
    assert waiting.status_code == 400
    assert "is waiting to start: ContainerCreating" in waiting.json()["message"]
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node01"},
    }
    assert api.post(f"{pods}/p/binding", json=binding).status_code == 201
    assert api.get(f"{pods}/p").json()["spec"]["nodeName"] == "node01"
    again = api.post(f"{pods}/p/binding", json=binding)
    assert again.status_code == 409
    assert 'already assigned to node "node01"' in again.json()["message"]


def test_eviction_respects_pod_disruption_budget(
    api: requests.Session, sim_cluster: SimCluster
) -> None:
    store = sim_cluster.store
    for name in ("a", "b"):
        store.create(
            "",
            "pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default", "labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "db"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            },
        )
    pdbs = url(api, "/apis/policy/v1/namespaces/default/poddisruptionbudgets")
    assert (
        api.post(
            pdbs,
            json={
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "db"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}},
            },
        ).status_code
        == 201
    )
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "a", "namespace": "default"},
    }
    pods = url(api, "/api/v1/namespaces/default/pods")
    blocked = api.post(f"{pods}/a/eviction", json=eviction)
    assert blocked.status_code == 429
    assert "disruption budget" in blocked.json()["message"]
    api.delete(f"{pdbs}/db")
    assert api.post(f"{pods}/a/eviction", json=eviction).status_code == 201
    assert api.get(f"{pods}/a").status_code == 404


def test_plain_http_server(tmp_path: Path) -> None:
    server = SimServer(port=0, tls=False)
    server.start_in_thread()
    try:
        cluster = server.create_cluster(nodes=1)
        assert server.base_url.startswith("http://")
        nodes = requests.get(
            f"{server.cluster_url(cluster.id)}/api/v1/nodes",
            headers={"Authorization": f"Bearer {cluster.auth.admin_token}"},
        ).json()
        assert [n["metadata"]["name"] for n in nodes["items"]] == ["controlplane"]
    finally:
        server.stop_thread()


def test_periodic_bookmarks(api: requests.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.sim.serving import streaming

    monkeypatch.setattr(streaming, "BOOKMARK_INTERVAL", 0.2)
    monkeypatch.setattr(streaming, "IDLE_CHECK", 0.1)
    rv = api.get(url(api, "/api/v1/namespaces")).json()["metadata"]["resourceVersion"]
    events = watch_lines(
        api,
        "/api/v1/namespaces",
        watch="true",
        resourceVersion=rv,
        allowWatchBookmarks="true",
        timeoutSeconds="1",
    )
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"]["metadata"]["resourceVersion"] == rv
    assert "annotations" not in events[0]["object"]["metadata"]


def test_graceful_pod_deletion_when_kubelets_run(
    api: requests.Session, sim_cluster: SimCluster
) -> None:
    sim_cluster.cluster.graceful_pod_deletion = True
    pods = url(api, "/api/v1/namespaces/default/pods")
    bound = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bound"},
        "spec": {
            "nodeName": "node01",
            "terminationGracePeriodSeconds": 10,
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }
    unbound = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unbound"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert api.post(pods, json=bound).status_code == 201
    assert api.post(pods, json=unbound).status_code == 201
    first = api.delete(f"{pods}/bound")
    assert first.status_code == 202
    assert first.json()["metadata"]["deletionGracePeriodSeconds"] == 10
    assert api.get(f"{pods}/bound").status_code == 200
    assert api.delete(f"{pods}/bound", params={"gracePeriodSeconds": "0"}).status_code == 200
    assert api.get(f"{pods}/bound").status_code == 404
    assert api.delete(f"{pods}/unbound").status_code == 200  # never scheduled: at once
    assert api.get(f"{pods}/unbound").status_code == 404


def test_oversized_body_is_a_status(api: requests.Session) -> None:
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"blob": "x" * (4 * 1024 * 1024)},
    }
    response = api.post(url(api, "/api/v1/namespaces/default/configmaps"), json=big)
    assert response.status_code == 413
    assert response.json()["kind"] == "Status"
    assert response.json()["code"] == 413


def test_admin_clock_speed(sim_server: SimServer, ca_file: str) -> None:
    session = admin(sim_server, ca_file)
    base = f"{sim_server.base_url}/admin/clusters"
    assert session.post(base, json={"clockSpeed": 0}).status_code == 422
    created = session.post(base, json={"nodes": 1, "clockSpeed": 60}).json()
    try:
        clock = sim_server.clusters[created["id"]].clock
        assert clock.speed == 60.0
    finally:
        session.delete(f"{base}/{created['id']}")


def test_factory_takes_a_manual_clock(sim_cluster_factory) -> None:
    from datetime import UTC, datetime

    from app.sim.machinery.clock import ManualClock

    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    sim = sim_cluster_factory(nodes=1, clock=clock)
    node = sim.store.get("", "nodes", None, "controlplane")
    assert node["metadata"]["creationTimestamp"] == "2030-01-01T00:00:00Z"


def test_cluster_hooks_and_control_plane_loops(sim_server: SimServer) -> None:
    import threading

    ticked = threading.Event()
    attached: list[str] = []

    def attach(cluster) -> None:
        attached.append(cluster.id)

        def failing() -> None:
            raise RuntimeError("a broken loop must not stop the others")

        cluster.loops.append(failing)
        cluster.loops.append(ticked.set)

    sim_server.cluster_hooks.append(attach)
    try:
        cluster = sim_server.create_cluster(nodes=1)
        assert attached == [cluster.id]
        assert ticked.wait(10)  # the server drives the loops by itself
        assert sim_server.run_loops() >= 2
    finally:
        sim_server.cluster_hooks.remove(attach)
        sim_server.delete_cluster(cluster.id)


def test_patch_without_resource_version_wins_over_concurrent_writers(
    api: requests.Session, sim_cluster: SimCluster
) -> None:
    """As upstream, a PATCH that names no resourceVersion is applied to the object as it
    is when written (retried on a conflict), never answered 409 because a controller
    wrote in between (a busy classroom's `kubectl apply` met exactly that)."""
    store = sim_cluster.store
    store.create(
        "",
        "configmaps",
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "busy", "namespace": "default"},
            "data": {},
        },
    )
    stop = threading.Event()
    writes: list[int] = []

    def writer() -> None:  # another writer of the same object, as a controller is
        count = 0
        while not stop.is_set():
            obj = store.get("", "configmaps", "default", "busy")
            assert obj is not None
            obj["data"]["writer"] = str(count)
            try:
                store.update("", "configmaps", obj)
                count += 1
            except ApiError:  # the patch wrote in between: read again, as a controller does
                pass
            time.sleep(0.001)  # a busy controller, not a spinning one
        writes.append(count)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    path = url(api, "/api/v1/namespaces/default/configmaps/busy")
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    try:
        statuses = [
            api.patch(path, data=json.dumps({"data": {"patch": str(i)}}), headers=headers)
            for i in range(300)
        ]
    finally:
        stop.set()
        thread.join()
    assert writes[0] > 50  # the writer kept writing throughout
    assert [r.text for r in statuses if r.status_code != 200] == []
    assert store.get("", "configmaps", "default", "busy")["data"]["patch"] == "299"
    pinned = api.patch(
        path,
        data=json.dumps({"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}}),
        headers=headers,
    )
    assert pinned.status_code == 409  # a patch that names a stale version still conflicts
