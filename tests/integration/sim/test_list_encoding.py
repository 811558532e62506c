"""Lists answered from the stored bytes and the Table row cache: byte for byte what the
decode-and-render path answers, durations at each request's time, and rows refreshed
when their object changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.sim.apiserver import reads
from app.sim.apiserver.pipeline import ApiRequest, handle
from app.sim.apiserver.printers.format import human_duration, parse_time
from app.sim.apiserver.request import PIECE_BYTES, EncodedJson, with_array
from app.sim.bootstrap import create_cluster
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.cluster import Cluster

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    cluster = create_cluster("lists", nodes=2, clock=ManualClock())
    store = cluster.store
    store.create("", "namespaces", {"metadata": {"name": "shop"}})
    for i in range(30):
        store.create(
            "",
            "pods",
            {
                "metadata": {
                    "name": f"web-{i:02d}",
                    "namespace": "shop" if i % 3 else "default",
                    "labels": {"app": "web" if i % 2 else "db"},
                },
                "spec": {"nodeName": "node01", "containers": [{"name": "c", "image": "nginx"}]},
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {
                            "name": "c",
                            "ready": True,
                            "restartCount": i % 4,
                            "state": {"running": {}},
                            "lastState": {"terminated": {"finishedAt": "2020-01-01T00:00:00Z"}},
                        }
                    ],
                },
            },
        )
    store.create(
        "batch",
        "jobs",
        {
            "metadata": {"name": "backup", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {"startTime": store.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
    )
    return cluster


def get(
    cluster: Cluster, plural: str, accept: str, *, group: str = "", **query: str
) -> tuple[int, bytes, Any]:
    namespace = query.pop("namespace", None)
    response = handle(
        cluster,
        ApiRequest(
            method="GET",
            group=group,
            version="v1",
            plural=plural,
            namespace=namespace,
            query=query,
            headers={"Accept": accept, "Authorization": f"Bearer {cluster.auth.admin_token}"},
        ),
    )
    return response.status, response.encoded(), response.body


def decoded_path(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, *args: Any, **kw: str) -> bytes:
    with monkeypatch.context() as patch:
        patch.setattr(reads, "_encodes_raw", lambda ctx: False)
        status, body, _ = get(cluster, *args, **kw)
    assert status == 200
    return body


QUERIES = [
    {},
    {"limit": "4"},
    {"labelSelector": "app=web", "limit": "3"},
    {"namespace": "shop"},
    {"fieldSelector": "metadata.name=web-04"},
    {"includeObject": "Object"},
    {"includeObject": "None"},
]


@pytest.mark.parametrize("accept", [TABLE, "application/json"])
@pytest.mark.parametrize("query", QUERIES)
def test_pod_lists_match_the_decoded_path(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, accept: str, query: dict[str, str]
) -> None:
    status, fast, body = get(cluster, "pods", accept, **query)
    assert status == 200 and isinstance(body, EncodedJson)
    assert get(cluster, "pods", accept, **query)[1] == fast  # from the cache
    assert fast == decoded_path(cluster, monkeypatch, "pods", accept, **query)


@pytest.mark.parametrize(("group", "plural"), [("", "nodes"), ("", "events"), ("batch", "jobs")])
def test_other_kinds_match_the_decoded_path(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, group: str, plural: str
) -> None:
    for accept in (TABLE, "application/json"):
        fast = get(cluster, plural, accept, group=group)[1]
        assert fast == decoded_path(cluster, monkeypatch, plural, accept, group=group)


def test_continue_token_pages_through_every_pod(cluster: Cluster) -> None:
    names: list[str] = []
    query = {"limit": "7"}
    while True:
        _, raw, _ = get(cluster, "pods", "application/json", **query)
        page = json.loads(raw)
        names += [p["metadata"]["name"] for p in page["items"]]
        if not page["metadata"].get("continue"):
            break
        assert page["metadata"]["remainingItemCount"] > 0
        query = {"limit": "7", "continue": page["metadata"]["continue"]}
    assert len(names) == 30 == len(set(names))


def cells(cluster: Cluster, plural: str, name: str, group: str = "") -> list[Any]:
    table = json.loads(get(cluster, plural, TABLE, group=group)[1])
    return next(r["cells"] for r in table["rows"] if r["object"]["metadata"]["name"] == name)


def test_cached_rows_show_durations_at_the_request_time(cluster: Cluster) -> None:
    clock = cluster.clock
    assert isinstance(clock, ManualClock)
    created = parse_time(
        cluster.store.get("", "pods", "shop", "web-01")["metadata"]["creationTimestamp"]
    )
    restarted = parse_time("2020-01-01T00:00:00Z")
    for _ in range(2):
        now = clock.now()
        row = cells(cluster, "pods", "web-01")
        assert row[3] == f"1 ({human_duration((now - restarted).total_seconds())} ago)"
        assert row[4] == human_duration((now - created).total_seconds())
        job = cells(cluster, "jobs", "backup", "batch")
        assert job[3] == human_duration((now - created).total_seconds())
        clock.advance(125)
    assert row[4] == "2m5s" and job[3] == "2m5s"


def test_a_changed_object_gets_a_new_row(cluster: Cluster) -> None:
    store = cluster.store
    assert cells(cluster, "pods", "web-00")[2] == "Running"
    pod = store.get("", "pods", "default", "web-00")
    assert pod is not None
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    store.update("", "pods", pod)
    assert cells(cluster, "pods", "web-00")[2] == "CrashLoopBackOff"
    store.delete("", "pods", "default", "web-00")
    table = json.loads(get(cluster, "pods", TABLE)[1])
    assert "web-00" not in [r["cells"][0] for r in table["rows"]]


def test_large_lists_are_sent_in_bounded_pieces() -> None:
    items = [{"n": i, "pad": "x" * 50_000} for i in range(40)]
    head = {"kind": "PodList", "metadata": {}}
    compact = (json.dumps(i, separators=(",", ":")).encode() for i in items)
    pieces = with_array(head, "items", compact)
    assert len(pieces) > 4
    assert all(len(piece) < PIECE_BYTES + 60_000 for piece in pieces)
    expected = json.dumps({**head, "items": items}, separators=(",", ":"))
    assert b"".join(pieces) == expected.encode()
    assert with_array({}, "rows", []) == [b'{"rows":[]}']


def names(cluster: Cluster, **query: str) -> list[str]:
    _, raw, _ = get(cluster, "pods", "application/json", **query)
    return [p["metadata"]["name"] for p in json.loads(raw)["items"]]


def test_selectors_follow_each_stored_version() -> None:
    cluster = create_cluster("selectors", nodes=1, clock=ManualClock())
    store = cluster.store
    for name, app in (("a", "web"), ("b", "db")):
        store.create(
            "",
            "pods",
            {
                "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
                "spec": {"nodeName": "node01", "containers": [{"name": "c", "image": "i"}]},
            },
        )
    assert names(cluster, labelSelector="app=web") == ["a"]
    assert names(cluster, fieldSelector="spec.nodeName=node01") == ["a", "b"]
    # A second field on the same stored versions, then both with a label.
    assert names(cluster, fieldSelector="metadata.name!=a") == ["b"]
    assert names(cluster, labelSelector="app", fieldSelector="spec.nodeName=node01") == ["a", "b"]
    pod = store.get("", "pods", "default", "b")
    assert pod is not None
    pod["metadata"]["labels"] = {"app": "web"}
    store.update("", "pods", pod)
    assert names(cluster, labelSelector="app=web") == ["a", "b"]
    store.delete("", "pods", "default", "a")
    assert names(cluster, labelSelector="app=web") == ["b"]
    assert names(cluster, labelSelector="app=db") == []
    internal, _ = store.list("", "pods", "default", "app=web", "spec.nodeName=node01")
    assert [p["metadata"]["name"] for p in internal] == ["b"]
    internal[0]["metadata"]["labels"]["app"] = "changed"  # a fresh copy, not the cache's
    assert names(cluster, labelSelector="app=web") == ["b"]


def test_a_loaded_snapshot_is_listed_afresh() -> None:
    cluster = create_cluster("snapshot", nodes=1, clock=ManualClock())
    store = cluster.store
    store.create(
        "",
        "pods",
        {
            "metadata": {"name": "a", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Pending"},
        },
    )
    assert names(cluster, labelSelector="app=web") == ["a"]
    assert cells(cluster, "pods", "a")[2] == "Pending"
    dump = store.dump()
    # The same resourceVersion with other content, as another snapshot may hold.
    (pod,) = [p for p in dump["objects"]["/pods"] if p["metadata"]["name"] == "a"]
    pod["metadata"]["labels"] = {"app": "db"}
    pod["status"]["phase"] = "Running"
    store.load(dump)
    assert names(cluster, labelSelector="app=web") == []
    assert names(cluster, labelSelector="app=db") == ["a"]
    assert cells(cluster, "pods", "a")[2] == "Running"
