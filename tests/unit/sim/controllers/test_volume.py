"""PersistentVolume binder and the local-path provisioner of the default class."""

from __future__ import annotations

from tests.fixtures.controllers import Lab


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


def test_prebound_volume_and_claim_bind_to_each_other_only(lab: Lab) -> None:
    reserved = pv("reserved", "5Gi")
    reserved["spec"]["claimRef"] = {"namespace": "default", "name": "mine"}
    lab.create("", "persistentvolumes", reserved)
    lab.create("", "persistentvolumeclaims", pvc("other", "1Gi"))
    lab.sync()
    assert phase(lab, "persistentvolumes", "reserved", None) == "Available"
    assert phase(lab, "persistentvolumeclaims", "other") == "Pending"
    lab.create("", "persistentvolumeclaims", pvc("mine", "1Gi"))
    named = pvc("named", "1Gi")
    named["spec"]["volumeName"] = "spare"
    lab.create("", "persistentvolumeclaims", named)
    lab.create("", "persistentvolumes", pv("spare", "1Gi"))
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "mine")["spec"]["volumeName"] == "reserved"
    claim_ref = lab.store.get("", "persistentvolumes", None, "reserved")["spec"]["claimRef"]
    assert claim_ref["uid"] == lab.get("", "persistentvolumeclaims", "mine")["metadata"]["uid"]
    assert phase(lab, "persistentvolumeclaims", "named") == "Bound"
    assert phase(lab, "persistentvolumes", "spare", None) == "Bound"


def test_volume_chosen_by_the_scheduler_is_bound_for_a_waiting_claim(lab: Lab) -> None:
    lab.create("", "persistentvolumes", pv("local", "1Gi", cls="standard"))
    claim = lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls="standard"))
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "data") == "Pending"  # WaitForFirstConsumer
    # The scheduler's VolumeBinding PreBind writes the claimRef of the volume it chose.
    volume = lab.store.get("", "persistentvolumes", None, "local")
    volume["spec"]["claimRef"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "default",
        "name": "data",
        "uid": claim["metadata"]["uid"],
    }
    lab.store.update("", "persistentvolumes", volume)
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data")["spec"]["volumeName"] == "local"
    assert phase(lab, "persistentvolumes", "local", None) == "Bound"
