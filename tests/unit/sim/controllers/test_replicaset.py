"""ReplicaSet controller: pod names, adoption, release, deletion order, quota."""

from __future__ import annotations

import re

from app.sim.controllers.replicaset import deletion_order
from tests.builders import deployment
from tests.fixtures.controllers import Lab


def replicaset(name: str = "rs", replicas: int = 3) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def set_replicas(lab: Lab, count: int, name: str = "rs") -> None:
    rs = lab.get("apps", "replicasets", name)
    rs["spec"]["replicas"] = count
    lab.store.update("apps", "replicasets", rs)


def test_creates_named_owned_pods_with_admission_defaults(lab: Lab) -> None:
    rs = lab.create("apps", "replicasets", replicaset())
    lab.sync()
    pods = lab.pods(prefix="rs-")
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(r"rs-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
        [ref] = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["uid"], ref["controller"]) == (
            "ReplicaSet",
            rs["metadata"]["uid"],
            True,
        )
        # Created through the API: DefaultTolerationSeconds and the SA token volume apply.
        keys = {t["key"]: t.get("tolerationSeconds") for t in pod["spec"]["tolerations"]}
        assert keys["node.kubernetes.io/unreachable"] == 300
        assert pod["spec"]["serviceAccountName"] == "default"
    messages = sorted(e["message"] for e in lab.events("SuccessfulCreate"))
    assert messages == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    status = lab.get("apps", "replicasets", "rs")["status"]
    assert status["replicas"] == 3 and status["observedGeneration"] == 1


def test_replaces_a_deleted_pod(lab: Lab) -> None:
    lab.create("apps", "replicasets", replicaset())
    lab.sync()
    victim = lab.pods(prefix="rs-")[0]
    lab.store.delete("", "pods", "default", victim["metadata"]["name"])
    lab.sync()
    names = {p["metadata"]["name"] for p in lab.pods(prefix="rs-")}
    assert len(names) == 3 and victim["metadata"]["name"] not in names


def test_adopts_matching_orphans_and_releases_relabelled_pods(lab: Lab) -> None:
    lab.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "rs"}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        },
    )
    lab.create("apps", "replicasets", replicaset())
    lab.sync()
    stray = lab.get("", "pods", "stray")
    assert stray["metadata"]["ownerReferences"][0]["name"] == "rs"
    assert len(lab.pods(prefix="rs-")) == 2  # the orphan counts as one of three
    stray["metadata"]["labels"] = {"app": "debug"}
    lab.store.update("", "pods", stray)
    lab.sync()
    assert "ownerReferences" not in lab.get("", "pods", "stray")["metadata"]
    assert len(lab.pods(prefix="rs-")) == 3


def test_scale_down_deletes_unready_and_unscheduled_pods_first(lab: Lab) -> None:
    lab.create("apps", "replicasets", replicaset(replicas=4))
    lab.sync()
    pods = sorted(lab.pods(prefix="rs-"), key=lambda p: p["metadata"]["name"])
    lab.run_pod(pods[0], ready=True)
    lab.run_pod(pods[1], ready=True)
    lab.run_pod(pods[2], ready=False)
    # pods[3] stays unscheduled
    set_replicas(lab, 2)
    lab.sync()
    left = {p["metadata"]["name"] for p in lab.pods(prefix="rs-")}
    assert left == {pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]}
    deleted = {e["message"] for e in lab.events("SuccessfulDelete")}
    assert deleted == {
        f"Deleted pod: {pods[2]['metadata']['name']}",
        f"Deleted pod: {pods[3]['metadata']['name']}",
    }


def test_deletion_order_ranks_pending_before_running() -> None:
    pending = {"metadata": {"name": "a"}, "spec": {}, "status": {"phase": "Pending"}}
    running = {"metadata": {"name": "b"}, "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}
    assert sorted([running, pending], key=deletion_order)[0] is pending


def test_quota_refusal_is_a_failed_create_event(lab: Lab) -> None:
    lab.store.create(
        "",
        "resourcequotas",
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "pods", "namespace": "default"},
            "spec": {"hard": {"pods": "2"}},
        },
    )
    lab.create("apps", "replicasets", replicaset())
    lab.sync()
    assert len(lab.pods(prefix="rs-")) == 2
    [failed] = lab.events("FailedCreate")
    assert failed["type"] == "Warning"
    assert failed["message"].startswith("Error creating: pods ")
    assert "exceeded quota: pods" in failed["message"]
    quota = lab.get("", "resourcequotas", "pods")
    assert quota["status"]["used"]["pods"] == "2"


def test_orphaned_pods_are_adopted_by_a_new_replicaset(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=2))
    lab.sync()
    [rs] = lab.store.list("apps", "replicasets", "default")[0]
    before = {p["metadata"]["name"] for p in lab.pods(prefix="web-")}
    lab.store.delete("apps", "deployments", "default", "web", propagation="Orphan")
    lab.store.delete("apps", "replicasets", "default", rs["metadata"]["name"], propagation="Orphan")
    assert all("ownerReferences" not in p["metadata"] for p in lab.pods(prefix="web-"))
    rs["metadata"] = {"name": rs["metadata"]["name"], "namespace": "default"}
    rs.pop("status", None)
    lab.create("apps", "replicasets", rs)
    lab.sync()
    after = lab.pods(prefix="web-")
    assert {p["metadata"]["name"] for p in after} == before
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in after)
