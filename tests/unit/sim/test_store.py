"""The object store: metadata the server owns, optimistic concurrency, garbage
collection, watch history and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.sim.machinery.clock import ManualClock
from app.sim.machinery.errors import ApiError
from app.sim.machinery.store import ObjectStore
from app.sim.machinery.watch import ADDED, DELETED, MODIFIED
from tests import builders


def pod(name: str, namespace: str = "default", **labels: str) -> dict:
    return builders.pod(name, namespace, labels=labels)


def owned(name: str, owner: dict, kind: str = "Pod") -> dict:
    obj = pod(name)
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
        }
    ]
    return obj


def replica_set(name: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1},
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(clock: ManualClock) -> ObjectStore:
    return ObjectStore(clock)


def test_create_fills_server_metadata(store: ObjectStore) -> None:
    created = store.create("", "pods", pod("web"))
    meta = created["metadata"]
    assert meta["resourceVersion"] == "1"
    assert meta["creationTimestamp"] == "2026-03-01T12:00:00Z"
    assert meta["generation"] == 1
    assert len(meta["uid"]) == 36
    assert store.get("", "pods", "default", "web") == created


def test_resource_version_is_cluster_wide(store: ObjectStore) -> None:
    store.create("", "pods", pod("a"))
    cm = store.create(
        "", "configmaps", {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}}
    )
    assert cm["metadata"]["resourceVersion"] == "2"
    assert "generation" not in cm["metadata"]  # no spec, no generation
    assert store.resource_version == 2


def test_get_returns_a_copy(store: ObjectStore) -> None:
    store.create("", "pods", pod("web"))
    copy = store.get("", "pods", "default", "web")
    copy["metadata"]["labels"]["hacked"] = "yes"
    assert "hacked" not in store.get("", "pods", "default", "web")["metadata"]["labels"]


def test_create_twice_is_already_exists(store: ObjectStore) -> None:
    store.create("", "pods", pod("web"))
    with pytest.raises(ApiError) as err:
        store.create("", "pods", pod("web"))
    assert err.value.code == 409
    assert err.value.reason == "AlreadyExists"
    assert err.value.message == 'pods "web" already exists'


def test_generate_name(store: ObjectStore) -> None:
    obj = pod("")
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    created = store.create("", "pods", obj)
    assert created["metadata"]["name"].startswith("web-")
    assert len(created["metadata"]["name"]) == len("web-") + 5


def test_missing_name_is_invalid(store: ObjectStore) -> None:
    obj = pod("")
    obj["metadata"] = {"namespace": "default"}
    with pytest.raises(ApiError) as err:
        store.create("", "pods", obj)
    assert err.value.code == 422
    assert err.value.causes[0].field == "metadata.name"


def test_stale_update_conflicts(store: ObjectStore) -> None:
    first = store.create("", "pods", pod("web"))
    second = dict(first, spec={"containers": [{"name": "app", "image": "nginx:2"}]})
    store.update("", "pods", second)
    with pytest.raises(ApiError) as err:
        store.update("", "pods", first)
    assert err.value.code == 409
    assert "the object has been modified" in err.value.message


def test_update_bumps_generation_only_for_spec(store: ObjectStore) -> None:
    obj = store.create("", "pods", pod("web"))
    obj["metadata"]["labels"] = {"tier": "front"}
    obj = store.update("", "pods", obj)
    assert obj["metadata"]["generation"] == 1
    obj["spec"]["containers"][0]["image"] = "nginx:2"
    obj = store.update("", "pods", obj)
    assert obj["metadata"]["generation"] == 2
    assert obj["metadata"]["resourceVersion"] == "3"


def test_noop_update_keeps_resource_version(store: ObjectStore) -> None:
    obj = store.create("", "pods", pod("web"))
    again = store.update("", "pods", obj)
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert store.resource_version == 1


def test_update_keeps_server_owned_metadata(store: ObjectStore, clock: ManualClock) -> None:
    obj = store.create("", "pods", pod("web"))
    clock.advance(60)
    obj["metadata"]["creationTimestamp"] = "1999-01-01T00:00:00Z"
    obj["metadata"].pop("uid")
    updated = store.update("", "pods", obj | {"spec": {"containers": []}})
    assert updated["metadata"]["creationTimestamp"] == "2026-03-01T12:00:00Z"
    assert len(updated["metadata"]["uid"]) == 36


def test_update_of_missing_object_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(ApiError) as err:
        store.update("", "pods", pod("ghost"))
    assert err.value.code == 404
    assert err.value.message == 'pods "ghost" not found'


def test_finalizers_hold_deletion(store: ObjectStore, clock: ManualClock) -> None:
    obj = pod("web")
    obj["metadata"]["finalizers"] = ["example.com/keep"]
    store.create("", "pods", obj)
    clock.advance(5)
    state, removed = store.delete("", "pods", "default", "web")
    assert not removed
    assert state["metadata"]["deletionTimestamp"] == "2026-03-01T12:00:05Z"
    current = store.get("", "pods", "default", "web")
    current["metadata"]["finalizers"] = []
    store.update("", "pods", current)
    assert store.get("", "pods", "default", "web") is None


def test_delete_precondition_uid(store: ObjectStore) -> None:
    store.create("", "pods", pod("web"))
    with pytest.raises(ApiError) as err:
        store.delete("", "pods", "default", "web", uid="other")
    assert err.value.code == 409
    assert "Precondition failed" in err.value.message


def test_background_gc_deletes_dependents(store: ObjectStore) -> None:
    rs = store.create("apps", "replicasets", replica_set("web"))
    store.create("", "pods", owned("web-1", rs))
    store.create("", "pods", owned("web-2", rs))
    store.create("", "pods", pod("other"))
    store.delete("apps", "replicasets", "default", "web")
    names = [p["metadata"]["name"] for p in store.list("", "pods")[0]]
    assert names == ["other"]


def test_orphan_keeps_dependents_without_owner(store: ObjectStore) -> None:
    rs = store.create("apps", "replicasets", replica_set("web"))
    store.create("", "pods", owned("web-1", rs))
    store.delete("apps", "replicasets", "default", "web", propagation="Orphan")
    orphan = store.get("", "pods", "default", "web-1")
    assert orphan is not None
    assert "ownerReferences" not in orphan["metadata"]


def test_foreground_deletes_dependents_first(store: ObjectStore) -> None:
    rs = store.create("apps", "replicasets", replica_set("web"))
    store.create("", "pods", owned("web-1", rs))
    seen: list[tuple[str, str]] = []
    store.watch("", "pods", lambda e: seen.append((e.type, e.name)), resource_version=2)
    store.watch("apps", "replicasets", lambda e: seen.append((e.type, e.name)), resource_version=2)
    store.delete("apps", "replicasets", "default", "web", propagation="Foreground")
    assert seen == [(DELETED, "web-1"), (DELETED, "web")]


def test_bad_propagation_policy(store: ObjectStore) -> None:
    store.create("", "pods", pod("web"))
    with pytest.raises(ApiError) as err:
        store.delete("", "pods", "default", "web", propagation="Sideways")
    assert err.value.code == 422


def test_namespace_deletion_empties_it(store: ObjectStore) -> None:
    store.create("", "namespaces", {"kind": "Namespace", "metadata": {"name": "team"}})
    store.create("", "pods", pod("a", "team"))
    kept = pod("b", "team")
    kept["metadata"]["finalizers"] = ["example.com/x"]
    store.create("", "pods", kept)
    store.create("", "pods", pod("c", "default"))
    store.delete("", "namespaces", None, "team")
    assert [p["metadata"]["name"] for p in store.list("", "pods")[0]] == ["c"]


def test_list_selectors_and_namespace(store: ObjectStore) -> None:
    store.create("", "pods", pod("a", "default", app="web"))
    store.create("", "pods", pod("b", "default", app="db"))
    store.create("", "pods", pod("c", "other", app="web"))
    items, rv = store.list("", "pods", label_selector="app=web")
    assert [i["metadata"]["name"] for i in items] == ["a", "c"]
    assert rv == 3
    items, _ = store.list("", "pods", "default", field_selector="metadata.name!=a")
    assert [i["metadata"]["name"] for i in items] == ["b"]


def test_list_pages(store: ObjectStore) -> None:
    for i in range(5):
        store.create("", "pods", pod(f"p{i}"))
    page = store.list_page("", "pods", limit=2)
    assert [i["metadata"]["name"] for i in page.items] == ["p0", "p1"]
    assert page.next_after == ("default", "p1")
    assert page.remaining == 3
    page = store.list_page("", "pods", limit=2, after=page.next_after)
    assert [i["metadata"]["name"] for i in page.items] == ["p2", "p3"]
    last = store.list_page("", "pods", limit=2, after=page.next_after)
    assert [i["metadata"]["name"] for i in last.items] == ["p4"]
    assert last.next_after is None


def test_list_pages_follow_adds_and_deletes_between_pages(store: ObjectStore) -> None:
    for namespace in ("a", "b", "b-2"):
        for i in range(4):
            store.create("", "pods", pod(f"p{i}", namespace, app="web" if i % 2 else "db"))
    page = store.list_page("", "pods", "b", limit=3)
    assert [i["metadata"]["name"] for i in page.items] == ["p0", "p1", "p2"]
    assert page.remaining == 1  # namespace b-2 is not counted in b
    store.create("", "pods", pod("p20", "b"))  # sorts after p2: on the next page
    store.delete("", "pods", "b", "p3")
    page = store.list_page("", "pods", "b", limit=3, after=page.next_after)
    assert [i["metadata"]["name"] for i in page.items] == ["p20"]
    assert page.next_after is None
    every = store.list_page("", "pods", limit=5, label_selector="app=web")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in every.items] == [
        ("a", "p1"),
        ("a", "p3"),
        ("b", "p1"),
        ("b-2", "p1"),
        ("b-2", "p3"),
    ]
    assert every.next_after is None
    whole = [p["metadata"]["name"] for p in store.list("", "pods", "b-2")[0]]
    assert whole == ["p0", "p1", "p2", "p3"]


def test_watch_initial_then_live(store: ObjectStore) -> None:
    store.create("", "pods", pod("a"))
    events: list = []
    sub, start = store.watch("", "pods", events.append, send_initial=True)
    assert start == 1
    store.create("", "pods", pod("b"))
    store.delete("", "pods", "default", "a")
    assert [(e.type, e.name) for e in events] == [(ADDED, "a"), (ADDED, "b"), (DELETED, "a")]
    store.unwatch(sub)
    store.create("", "pods", pod("c"))
    assert len(events) == 3


def test_watch_replays_history_from_resource_version(store: ObjectStore) -> None:
    store.create("", "pods", pod("a"))
    store.create("", "pods", pod("b"))
    events: list = []
    store.watch("", "pods", events.append, resource_version=1)
    assert [(e.type, e.name, e.resource_version) for e in events] == [(ADDED, "b", 2)]


def test_watch_too_old_is_gone(clock: ManualClock) -> None:
    store = ObjectStore(clock, history_limit=3)
    for i in range(6):
        store.create("", "pods", pod(f"p{i}"))
    with pytest.raises(ApiError) as err:
        store.watch("", "pods", lambda e: None, resource_version=1)
    assert err.value.code == 410
    assert err.value.reason == "Expired"
    events: list = []
    store.watch("", "pods", events.append, resource_version=4)
    assert [e.name for e in events] == ["p4", "p5"]


def test_selector_watch_sees_objects_enter_and_leave(store: ObjectStore) -> None:
    obj = store.create("", "pods", pod("a", app="db"))
    events: list = []
    store.watch("", "pods", events.append, label_selector="app=web", resource_version=1)
    obj["metadata"]["labels"] = {"app": "web"}
    obj = store.update("", "pods", obj)
    obj["metadata"]["labels"]["tier"] = "x"
    obj = store.update("", "pods", obj)
    obj["metadata"]["labels"] = {"app": "db"}
    store.update("", "pods", obj)
    assert [e.type for e in events] == [ADDED, MODIFIED, DELETED]


def test_watch_scoped_to_namespace(store: ObjectStore) -> None:
    events: list = []
    store.watch("", "pods", events.append, namespace="team", resource_version=0)
    store.create("", "pods", pod("a", "default"))
    store.create("", "pods", pod("b", "team"))
    assert [e.name for e in events] == ["b"]


def test_dump_and_load(store: ObjectStore) -> None:
    rs = store.create("apps", "replicasets", replica_set("web"))
    store.create("", "pods", owned("web-1", rs))
    snapshot = store.dump()
    store.create("", "pods", pod("later"))
    store.load(snapshot)
    assert [p["metadata"]["name"] for p in store.list("", "pods")[0]] == ["web-1"]
    assert store.resource_version > 3
    with pytest.raises(ApiError) as err:
        store.watch("", "pods", lambda e: None, resource_version=1)
    assert err.value.code == 410
    # The owner index is rebuilt: deleting the owner still collects the pod.
    store.delete("apps", "replicasets", "default", "web")
    assert store.list("", "pods")[0] == []


def test_load_ends_open_watches(store: ObjectStore) -> None:
    events: list = []
    store.watch("", "pods", events.append, resource_version=0)
    store.load({"resourceVersion": 0, "objects": {}})
    assert events[-1].type == "ERROR"
    assert store.watcher_count == 0


def test_graceful_deletion_waits_for_a_second_delete(store: ObjectStore, clock) -> None:
    store.create("", "pods", pod("web"))
    state, removed = store.delete("", "pods", "default", "web", grace_seconds=30)
    assert not removed
    assert state["metadata"]["deletionTimestamp"] == "2026-03-01T12:00:30Z"
    assert state["metadata"]["deletionGracePeriodSeconds"] == 30
    # Status updates while terminating keep the pod.
    current = store.get("", "pods", "default", "web")
    current["status"] = {"phase": "Running"}
    store.update("", "pods", current)
    assert store.get("", "pods", "default", "web") is not None
    shorter, _ = store.delete("", "pods", "default", "web", grace_seconds=5)
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    _, removed = store.delete("", "pods", "default", "web")
    assert removed
    assert store.get("", "pods", "default", "web") is None


def v1_event(name: str, pod_name: str) -> dict:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "eventTime": "2026-03-01T12:00:00.000000Z",
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-controlplane",
        "action": "Binding",
        "reason": "Scheduled",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "namespace": "default", "name": pod_name},
        "note": f"Successfully assigned default/{pod_name} to node01",
        "type": "Normal",
    }


def test_events_v1_are_core_events(store: ObjectStore) -> None:
    created = store.create("events.k8s.io", "events", v1_event("web.1", "web"))
    assert created["apiVersion"] == "events.k8s.io/v1"
    assert created["note"].startswith("Successfully assigned")
    core = store.get("", "events", "default", "web.1")
    assert core["involvedObject"]["name"] == "web"
    assert core["message"] == "Successfully assigned default/web to node01"
    assert core["reportingComponent"] == "default-scheduler"
    assert store.count("events.k8s.io", "events") == 0  # one copy, kept as core/v1
    by_pod, _ = store.list("", "events", field_selector="involvedObject.name=web")
    assert [e["metadata"]["name"] for e in by_pod] == ["web.1"]
    store.create(
        "",
        "events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "db.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "db", "namespace": "default"},
            "reason": "Pulled",
            "message": "pulled",
            "source": {"component": "kubelet"},
        },
    )
    seen, _ = store.list("events.k8s.io", "events", field_selector="regarding.name=db")
    assert [(e["note"], e["reportingController"]) for e in seen] == [("pulled", "kubelet")]
    events: list = []
    store.watch("events.k8s.io", "events", events.append, resource_version=0)
    store.delete("", "events", "default", "db.1")
    assert events[-1].type == DELETED and events[-1].object()["regarding"]["name"] == "db"
    with pytest.raises(ApiError) as err:
        store.delete("events.k8s.io", "events", "default", "ghost")
    assert err.value.message == 'events.events.k8s.io "ghost" not found'


def test_namespace_with_kubernetes_finalizer_terminates_first(store: ObjectStore) -> None:
    store.create(
        "",
        "namespaces",
        {"kind": "Namespace", "metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}},
    )
    store.create("", "pods", pod("a", "team"))
    store.create("", "pods", pod("b", "team"))
    state, removed = store.delete("", "namespaces", None, "team")
    assert not removed
    assert state["status"]["phase"] == "Terminating"
    assert store.terminating_namespaces() == ["team"]
    # Its content can still be deleted by name meanwhile (kubectl delete -f).
    _, gone = store.delete("", "pods", "team", "a")
    assert gone
    assert store.get("", "pods", "team", "b") is not None
    assert store.finalize_namespace("team")
    assert store.get("", "namespaces", None, "team") is None
    assert store.list("", "pods", "team")[0] == []
    assert store.terminating_namespaces() == []


def test_kind_revision_moves_only_with_writes_to_that_kind() -> None:
    from app.sim.machinery.store import ObjectStore

    store = ObjectStore()
    before = store.kind_revision("", "pods")
    store.create("", "configmaps", {"metadata": {"name": "a", "namespace": "default"}})
    assert store.kind_revision("", "pods") == before
    created = store.create("", "pods", {"metadata": {"name": "p", "namespace": "default"}})
    after_create = store.kind_revision("", "pods")
    assert after_create > before
    assert after_create == int(created["metadata"]["resourceVersion"])
    store.delete("", "pods", "default", "p")
    assert store.kind_revision("", "pods") > after_create
    dumped = store.dump()
    store.load(dumped)
    # After a load every kind counts as changed, including kinds it never held.
    assert store.kind_revision("", "pods") > after_create
    assert store.kind_revision("apps", "deployments") == store.kind_revision("", "configmaps")
