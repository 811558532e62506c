"""PersistentVolume binder and the local-path provisioner of the default class."""

from __future__ import annotations

from app.sim.machinery.clock import rfc3339
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
    # pv_controller.go names the unscheduled consumer once one exists.
    assert [e["message"] for e in lab.events("WaitForPodScheduled")] == [
        "waiting for pod user to be scheduled"
    ]
    lab.run_pod(pod, node="node02")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "cache")
    assert claim["status"]["phase"] == "Bound"
    volume = lab.store.get("", "persistentvolumes", None, claim["spec"]["volumeName"])
    assert volume["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert volume["spec"]["storageClassName"] == "local-path"
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
    lab.create("", "persistentvolumes", pv("local", "1Gi", cls="local-path"))
    claim = lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls="local-path"))
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


def storage_class(name: str, provisioner: str = "rancher.io/local-path", **fields: object) -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
        **fields,
    }


def pod_using(claim: str, name: str = "user") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "nginx"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


def messages(lab: Lab, reason: str) -> list[tuple[str, str]]:
    return [(e["type"], e["message"]) for e in lab.events(reason)]


def test_pending_claims_say_why_as_upstream(lab: Lab) -> None:
    lab.create("", "persistentvolumeclaims", pvc("noclass", "1Gi", cls=""))
    lab.create("", "persistentvolumeclaims", pvc("typo", "1Gi", cls="manual"))
    lab.create(
        "storage.k8s.io",
        "storageclasses",
        storage_class("local", "kubernetes.io/no-provisioner", volumeBindingMode="Immediate"),
    )
    lab.create("", "persistentvolumeclaims", pvc("static", "1Gi", cls="local"))
    lab.sync()
    for name in ("noclass", "typo", "static"):
        assert phase(lab, "persistentvolumeclaims", name) == "Pending"
    assert messages(lab, "FailedBinding") == [
        ("Normal", "no persistent volumes available for this claim and no storage class is set")
    ]
    assert sorted(messages(lab, "ProvisioningFailed")) == [
        ("Warning", "no volume plugin matched name: kubernetes.io/no-provisioner"),
        ("Warning", 'storageclass.storage.k8s.io "manual" not found'),
    ]
    # The class appears: the claim binds a volume of that class on the next pass.
    lab.create("", "persistentvolumes", pv("pv-manual", "1Gi", cls="manual"))
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "typo") == "Bound"


def test_empty_class_binds_only_volumes_without_a_class(lab: Lab) -> None:
    lab.create("", "persistentvolumes", pv("classed", "1Gi", cls="local-path"))
    lab.create("", "persistentvolumes", pv("plain", "5Gi", cls=""))
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls=""))
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data")["spec"]["volumeName"] == "plain"


def test_selector_and_access_modes_choose_the_volume(lab: Lab) -> None:
    fast = pv("fast", "1Gi")
    fast["metadata"]["labels"] = {"tier": "fast"}
    lab.create("", "persistentvolumes", fast)
    lab.create("", "persistentvolumes", pv("slow", "1Gi"))
    lab.create("", "persistentvolumes", pv("shared", "1Gi", modes=("ReadWriteMany",)))
    picky = pvc("picky", "500Mi")
    picky["spec"]["selector"] = {"matchLabels": {"tier": "fast"}}
    lab.create("", "persistentvolumeclaims", picky)
    lab.create("", "persistentvolumeclaims", pvc("many", "1Gi", modes=("ReadWriteMany",)))
    lab.create("", "persistentvolumeclaims", pvc("once-pod", "1Gi", modes=("ReadWriteOncePod",)))
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "picky")["spec"]["volumeName"] == "fast"
    assert lab.get("", "persistentvolumeclaims", "many")["spec"]["volumeName"] == "shared"
    assert phase(lab, "persistentvolumeclaims", "once-pod") == "Pending"  # no RWOP volume


def test_local_path_refusals_are_worded_as_the_provisioner(lab: Lab) -> None:
    lab.create(
        "storage.k8s.io",
        "storageclasses",
        storage_class("instant", volumeBindingMode="Immediate"),
    )
    lab.create("", "persistentvolumeclaims", pvc("now", "1Gi", cls="instant"))
    lab.create("", "persistentvolumeclaims", pvc("rwx", "1Gi", cls=None, modes=("ReadWriteMany",)))
    pod = lab.create("", "pods", pod_using("rwx"))
    lab.run_pod(pod, node="node01")
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "now") == "Pending"
    assert phase(lab, "persistentvolumeclaims", "rwx") == "Pending"
    assert sorted(m for _, m in messages(lab, "ProvisioningFailed")) == [
        'failed to provision volume with StorageClass "instant": configuration error, '
        "no node was specified",
        'failed to provision volume with StorageClass "local-path": NodePath only supports '
        "ReadWriteOnce and ReadWriteOncePod (1.22+) access modes",
    ]
    waiting = [m for _, m in messages(lab, "ExternalProvisioning")]
    assert len(waiting) == 2
    assert waiting[0].startswith(
        "Waiting for a volume to be created either by the external provisioner "
        "'rancher.io/local-path' or manually by the system administrator."
    )


def test_an_unknown_external_provisioner_leaves_the_claim_waiting(lab: Lab) -> None:
    lab.create(
        "storage.k8s.io",
        "storageclasses",
        storage_class("nfs", "example.com/nfs", volumeBindingMode="Immediate"),
    )
    lab.create("", "persistentvolumeclaims", pvc("share", "1Gi", cls="nfs"))
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "share")
    assert claim["status"]["phase"] == "Pending"
    annotations = claim["metadata"]["annotations"]
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "example.com/nfs"
    assert [m for _, m in messages(lab, "ExternalProvisioning")] == [
        "Waiting for a volume to be created either by the external provisioner "
        "'example.com/nfs' or manually by the system administrator. If volume creation "
        "is delayed, please verify that the provisioner is running and correctly registered."
    ]
    assert lab.events("ProvisioningFailed") == []


def test_default_class_is_assigned_to_claims_created_before_it(lab: Lab) -> None:
    default = lab.store.get("storage.k8s.io", "storageclasses", None, "local-path")
    lab.store.delete("storage.k8s.io", "storageclasses", None, "local-path")
    lab.create("", "persistentvolumeclaims", pvc("early", "1Gi", cls=None))
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "early")
    assert claim["spec"].get("storageClassName") is None
    assert phase(lab, "persistentvolumeclaims", "early") == "Pending"
    default["metadata"] = {"name": "local-path", "annotations": default["metadata"]["annotations"]}
    lab.create("storage.k8s.io", "storageclasses", default)
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "early")["spec"]["storageClassName"] == (
        "local-path"
    )


def test_retain_keeps_a_released_volume_and_its_claim_ref(lab: Lab) -> None:
    lab.create(
        "storage.k8s.io",
        "storageclasses",
        storage_class("keep", reclaimPolicy="Retain", volumeBindingMode="WaitForFirstConsumer"),
    )
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls="keep"))
    pod = lab.create("", "pods", pod_using("data"))
    lab.run_pod(pod, node="node01")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    name = claim["spec"]["volumeName"]
    volume = lab.store.get("", "persistentvolumes", None, name)
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["spec"]["hostPath"]["path"] == (
        f"/opt/local-path-provisioner/{name}_default_data"
    )
    lab.store.delete("", "pods", "default", "user")
    lab.store.delete("", "persistentvolumeclaims", "default", "data")
    lab.advance(30)
    lab.sync()
    released = lab.store.get("", "persistentvolumes", None, name)
    assert released["status"]["phase"] == "Released"
    assert released["status"]["lastPhaseTransitionTime"] == rfc3339(lab.clock.now())
    # A new claim of the same name does not get the released volume back.
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls="keep"))
    lab.sync()
    assert phase(lab, "persistentvolumes", name, None) == "Released"
    assert lab.get("", "persistentvolumeclaims", "data")["spec"].get("volumeName") != name


def test_a_claim_in_use_and_its_volume_are_protected(lab: Lab) -> None:
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls=None))
    pod = lab.create("", "pods", pod_using("data"))
    lab.run_pod(pod, node="node01")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    name = claim["spec"]["volumeName"]
    volume = lab.store.get("", "persistentvolumes", None, name)
    # Provisioned pre-bound (no bound-by-controller) and protected like any volume.
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert "pv.kubernetes.io/bound-by-controller" not in volume["metadata"]["annotations"]
    lab.store.delete("", "persistentvolumeclaims", "default", "data")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim is not None and claim["metadata"].get("deletionTimestamp")
    assert phase(lab, "persistentvolumes", name, None) == "Bound"
    lab.store.delete("", "pods", "default", "user")
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data") is None
    assert lab.store.get("", "persistentvolumes", None, name) is None


def test_a_bound_volume_waits_for_its_claim(lab: Lab) -> None:
    lab.create("", "persistentvolumes", pv("static", "1Gi"))
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi"))
    lab.sync()
    assert lab.store.get("", "persistentvolumes", None, "static")["metadata"]["finalizers"] == [
        "kubernetes.io/pv-protection"
    ]
    lab.store.delete("", "persistentvolumes", None, "static")
    lab.sync()
    volume = lab.store.get("", "persistentvolumes", None, "static")
    assert volume is not None and volume["status"]["phase"] == "Bound"
    lab.store.delete("", "persistentvolumeclaims", "default", "data")
    lab.sync()
    assert lab.store.get("", "persistentvolumes", None, "static") is None


def test_generic_ephemeral_volume_gets_a_claim_owned_by_its_pod(lab: Lab) -> None:
    template = {
        "metadata": {"labels": {"type": "scratch"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    pod = lab.create(
        "",
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "cache", "namespace": "default"},
            "spec": {
                "containers": [{"name": "c", "image": "nginx"}],
                "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": template}}],
            },
        },
    )
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "cache-scratch")
    assert claim["metadata"]["labels"] == {"type": "scratch"}
    assert claim["metadata"]["ownerReferences"][0]["uid"] == pod["metadata"]["uid"]
    assert claim["spec"]["storageClassName"] == "local-path"
    lab.run_pod(pod, node="node02")
    lab.sync()
    assert phase(lab, "persistentvolumeclaims", "cache-scratch") == "Bound"


def test_a_pending_pod_the_scheduler_never_placed_does_not_hold_its_claim(lab: Lab) -> None:
    # Upstream's pvc-protection controller counts only scheduled pods (podUsesPVC): the
    # kubelet never starts a pod whose claim is being deleted.
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls="missing"))
    lab.create("", "pods", pod_using("data"))
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert not lab.get("", "pods", "user")["spec"].get("nodeName")
    lab.store.delete("", "persistentvolumeclaims", "default", "data")
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data") is None
