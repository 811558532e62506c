"""StatefulSet controller: ordinals, OrderedReady, claims, scale-down order."""

from __future__ import annotations

from tests.fixtures.controllers import Lab


def statefulset(replicas: int = 3, **spec) -> dict:
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    body["spec"].update(spec)
    return body


def names(lab: Lab) -> list[str]:
    return sorted(p["metadata"]["name"] for p in lab.pods(prefix="db-"))


def test_ordered_ready_creates_one_pod_at_a_time(lab: Lab) -> None:
    lab.create("apps", "statefulsets", statefulset())
    lab.sync()
    assert names(lab) == ["db-0"]
    pod = lab.get("", "pods", "db-0")
    assert pod["spec"]["hostname"] == "db-0" and pod["spec"]["subdomain"] == "db"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "db-0"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "data")
    assert volume["persistentVolumeClaim"]["claimName"] == "data-db-0"
    claim = lab.get("", "persistentvolumeclaims", "data-db-0")
    assert claim["metadata"]["labels"] == {"app": "db"}
    lab.run_pod(pod, ready=False)
    lab.sync()
    assert names(lab) == ["db-0"]  # waits for Running and Ready
    lab.run_pod(pod, ready=True)
    lab.sync()
    assert names(lab) == ["db-0", "db-1"]
    lab.run_all()
    lab.sync()
    lab.run_all()
    lab.sync()
    assert names(lab) == ["db-0", "db-1", "db-2"]
    status = lab.get("apps", "statefulsets", "db")["status"]
    assert status["readyReplicas"] == 3 and status["currentRevision"] == status["updateRevision"]
    messages = [
        e["message"]
        for e in lab.events("SuccessfulCreate")
        if e["involvedObject"]["kind"] == "StatefulSet"
    ]
    assert "create Pod db-0 in StatefulSet db successful" in messages
    assert "create Claim data-db-0 Pod db-0 in StatefulSet db success" in messages


def test_scale_down_removes_the_highest_ordinal_first_and_keeps_claims(lab: Lab) -> None:
    lab.create("apps", "statefulsets", statefulset(podManagementPolicy="Parallel"))
    lab.sync()
    assert names(lab) == ["db-0", "db-1", "db-2"]
    lab.run_all()
    sts = lab.get("apps", "statefulsets", "db")
    sts["spec"]["replicas"] = 1
    sts["spec"]["podManagementPolicy"] = "OrderedReady"
    lab.store.update("apps", "statefulsets", sts)
    lab.manager.step()
    assert names(lab) == ["db-0", "db-1"]
    lab.sync()
    assert names(lab) == ["db-0"]
    assert lab.get("", "persistentvolumeclaims", "data-db-2") is not None


def test_failed_pod_is_recreated_under_the_same_name(lab: Lab) -> None:
    lab.create("apps", "statefulsets", statefulset(replicas=1))
    lab.sync()
    old = lab.finish_pod(lab.get("", "pods", "db-0"), "Failed")
    lab.sync()
    new = lab.get("", "pods", "db-0")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]


def test_claim_retention_policy_delete(lab: Lab) -> None:
    policy = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    lab.create(
        "apps",
        "statefulsets",
        statefulset(
            replicas=2, podManagementPolicy="Parallel", persistentVolumeClaimRetentionPolicy=policy
        ),
    )
    lab.sync()
    lab.run_all()
    claim = lab.get("", "persistentvolumeclaims", "data-db-1")
    assert claim["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    sts = lab.get("apps", "statefulsets", "db")
    sts["spec"]["replicas"] = 1
    lab.store.update("apps", "statefulsets", sts)
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data-db-1") is None
    assert lab.get("", "persistentvolumeclaims", "data-db-0") is not None
    lab.store.delete("apps", "statefulsets", "default", "db")
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data-db-0") is None
