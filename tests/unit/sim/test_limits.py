"""Per-cluster limits in the API machinery: store accounting and quota, the watch
history's byte budget, the request-rate bucket and the configuration from the
environment."""

from __future__ import annotations

import pytest

from app.sim.machinery.errors import ApiError
from app.sim.machinery.limits import (
    ClusterLimits,
    RateLimiter,
    StorageLimits,
    client_request,
    in_client_request,
)
from app.sim.machinery.store import ObjectStore, encode
from app.sim.machinery.watch import EventHistory, WatchEvent

pytestmark = pytest.mark.reliability


def configmap(name: str, payload: str = "v") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": payload},
    }


def stored_bytes(store: ObjectStore) -> tuple[int, int]:
    """(objects, bytes) counted the slow way, from a dump."""
    dump = store.dump()
    objects = [o for items in dump["objects"].values() for o in items]
    return len(objects), sum(len(encode(o)) for o in objects)


def test_usage_follows_creates_updates_deletes_and_loads() -> None:
    store = ObjectStore()
    assert store.usage() == (0, 0)
    store.create("", "configmaps", configmap("a", "x" * 1000))
    store.create("", "configmaps", configmap("b"))
    assert store.usage() == stored_bytes(store)
    grown = store.get("", "configmaps", "default", "b")
    grown["data"]["k"] = "y" * 5000
    store.update("", "configmaps", grown)
    assert store.usage() == stored_bytes(store)
    store.delete("", "configmaps", "default", "a")
    assert store.usage() == stored_bytes(store) and store.usage()[0] == 1
    copy = ObjectStore()
    copy.load(store.dump())
    assert copy.usage() == store.usage()


def test_the_quota_refuses_clients_first_and_keeps_a_reserve_for_the_control_plane() -> None:
    store = ObjectStore()
    store.limits = StorageLimits(max_objects=10, max_bytes=0, max_object_bytes=0)
    with client_request():
        assert in_client_request()
        for i in range(10):
            store.create("", "configmaps", configmap(f"c{i}"))
        with pytest.raises(ApiError) as refused:
            store.create("", "configmaps", configmap("c10"))
    assert refused.value.code == 403 and "exceeded quota" in refused.value.message
    assert not in_client_request()
    store.create("", "configmaps", configmap("system"))  # the 10 % reserve: one more
    with pytest.raises(ApiError):
        store.create("", "configmaps", configmap("system-2"))
    # Updates that do not grow and deletes always pass.
    same = store.get("", "configmaps", "default", "c0")
    same["metadata"]["labels"] = {}
    store.update("", "configmaps", same)
    store.delete("", "configmaps", "default", "c1")
    assert store.usage()[0] == 10


def test_an_object_over_the_size_limit_is_413_for_everyone() -> None:
    store = ObjectStore()
    store.limits = StorageLimits(max_object_bytes=2000)
    with pytest.raises(ApiError) as refused:
        store.create("", "configmaps", configmap("big", "x" * 3000))
    assert refused.value.code == 413 and refused.value.reason == "RequestEntityTooLarge"
    assert store.usage() == (0, 0)


def event(rv: int, size: int) -> WatchEvent:
    return WatchEvent("MODIFIED", "", "configmaps", "default", "x", rv, b"x" * size, b"y" * size)


def test_the_history_keeps_a_byte_budget_and_answers_410_beyond_it() -> None:
    history = EventHistory(limit=1000, max_bytes=10_000)
    for rv in range(1, 21):
        history.append(event(rv, 1000))  # 2,000 bytes each (object and previous state)
    assert len(history) == 5 and history.bytes == 10_000
    assert [e.resource_version for e in history.since(16)] == [17, 18, 19, 20]
    with pytest.raises(ApiError) as gone:
        history.since(3)
    assert gone.value.code == 410
    # One event larger than the budget is still kept (a watcher needs the latest).
    history.append(event(21, 50_000))
    assert len(history) == 1


def test_the_history_forgets_old_events_beyond_its_floor() -> None:
    now = [0.0]
    history = EventHistory(limit=1000, max_age=75, floor=3, clock=lambda: now[0])
    for rv in range(1, 6):
        history.append(event(rv, 10))
    assert len(history) == 5  # young events stay whatever their number
    now[0] = 100.0  # an idle minute and more: only the latest `floor` stay
    history.append(event(6, 10))
    assert [e.resource_version for e in history.since(3)] == [4, 5, 6]
    with pytest.raises(ApiError) as gone:
        history.since(2)
    assert gone.value.code == 410
    now[0] = 110.0
    history.append(event(7, 10))
    assert len(history) == 3


def test_the_rate_limiter_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    assert RateLimiter(rate=0, burst=1).acquire() == 0.0  # rate 0: no limit


def test_limits_from_the_environment() -> None:
    limits = ClusterLimits.from_env(
        {
            "CERTPREP_SIM_MAX_OBJECTS": "50",
            "CERTPREP_SIM_MAX_BYTES": "1000000",
            "CERTPREP_SIM_REQUESTS_PER_SECOND": "2.5",
            "CERTPREP_SIM_WATCHES_PER_CREDENTIAL": "3",
        }
    )
    assert limits.storage == StorageLimits(max_objects=50, max_bytes=1_000_000)
    assert limits.requests_per_second == 2.5 and limits.watches_per_credential == 3
    assert ClusterLimits.from_env({}) == ClusterLimits()
    with pytest.raises(ValueError, match="CERTPREP_SIM_MAX_OBJECTS must be a number"):
        ClusterLimits.from_env({"CERTPREP_SIM_MAX_OBJECTS": "many"})
    with pytest.raises(ValueError, match="0 or more"):
        ClusterLimits.from_env({"CERTPREP_SIM_REQUEST_BURST": "-1"})
