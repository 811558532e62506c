"""PersistentVolume binder and the local-path provisioner of the default class."""

from __future__ import annotations

from .conftest import Lab


def pv(
    name: str, size: str, cls: str = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",)
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": list(modes),
            "storageClassName": cls,
            "hostPath": {"path": f"/data/{name}"},
        },
    }


def pvc(
    name: str, size: str, cls: str | None = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",)
) -> dict:
    spec: dict = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def phase(lab: Lab, plural: str, name: str, namespace: str | None = "default") -> str:
    return lab.store.get("", plural, namespace, name)["status"]["phase"]


def test_claim_binds_the_smallest_matching_volume(lab: Lab) -> None:
    lab.create("", "persistentvolumes", pv("big", "10Gi"))
    lab.create("", "persistentvolumes", pv("small", "2Gi"))
    lab.create("", "persistentvolumes", pv("rwx", "1Gi", modes=("ReadWriteMany",)))
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi"))
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim["spec"]["volumeName"] == "small"
    assert claim["status"]["phase"] == "Bound"
    assert claim["status"]["capacity"] == {"storage": "2Gi"}
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert phase(lab, "persistentvolumes", "small", None) == "Bound"
    assert phase(lab, "persistentvolumes", "big", None) == "Available"
    lab.store.delete("", "persistentvolumeclaims", "default", "data")
    lab.sync()
    assert phase(lab, "persistentvolumes", "small", None) == "Released"  # Retain by default


def test_no_match_stays_pending(lab: Lab) -> None:
    lab.create("", "persistentvolumes", pv("tiny", "100Mi"))
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi"))
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "data") == "Pending"
    assert phase(lab, "persistentvolumes", "tiny", None) == "Available"


def test_default_class_waits_for_first_consumer_then_provisions(lab: Lab) -> None:
    lab.create("", "persistentvolumeclaims", pvc("cache", "1Gi", cls=None))
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "cache") == "Pending"
    [waiting] = lab.events("WaitForFirstConsumer")
    assert waiting["message"] == "waiting for first consumer to be created before binding"
    pod = lab.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "user", "namespace": "default"},
            "spec": {
                "containers": [{"name": "c", "image": "nginx"}],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "cache"}}],
            },
        },
    )
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "cache") == "Pending"  # not scheduled yet
    lab.run_pod(pod, node="node02")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "cache")
    assert claim["status"]["phase"] == "Bound"
    volume = lab.store.get("", "persistentvolumes", None, claim["spec"]["volumeName"])
    assert volume["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert volume["spec"]["storageClassName"] == "standard"
    assert volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][
        0
    ]["values"] == ["node02"]
    assert [e["message"] for e in lab.events("ProvisioningSucceeded")] == [
        f"Successfully provisioned volume {volume['metadata']['name']}"
    ]
    # reclaimPolicy Delete: the volume goes with its claim.
    lab.store.delete("", "pods", "default", "user")
    lab.store.delete("", "persistentvolumeclaims", "default", "cache")
    lab.sync()
    assert lab.store.get("", "persistentvolumes", None, volume["metadata"]["name"]) is None
