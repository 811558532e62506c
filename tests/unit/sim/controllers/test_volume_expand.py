"""Volume expansion: the resizer grows the volume, the kubelet's step finishes the
file system resize once a running pod mounts the claim."""

from __future__ import annotations

from tests.fixtures.controllers import Lab
from tests.unit.sim.controllers.test_volume import pod_using, pvc, storage_class


def expandable(lab: Lab, name: str = "grow", provisioner: str = "rancher.io/local-path") -> None:
    lab.create(
        "storage.k8s.io",
        "storageclasses",
        storage_class(
            name,
            provisioner,
            volumeBindingMode="WaitForFirstConsumer",
            allowVolumeExpansion=True,
        ),
    )


def bound_claim(lab: Lab, cls: str = "grow") -> dict:
    lab.create("", "persistentvolumeclaims", pvc("data", "1Gi", cls=cls))
    pod = lab.create("", "pods", pod_using("data"))
    lab.run_pod(pod, node="node01")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim["status"]["phase"] == "Bound"
    return claim


def ask_for(lab: Lab, size: str) -> None:
    claim = lab.get("", "persistentvolumeclaims", "data")
    claim["spec"]["resources"]["requests"]["storage"] = size
    lab.store.update("", "persistentvolumeclaims", claim)


def conditions(claim: dict) -> list[str]:
    return [c["type"] for c in claim["status"].get("conditions") or []]


def test_online_expansion_grows_volume_then_claim(lab: Lab) -> None:
    expandable(lab)
    claim = bound_claim(lab)
    volume_name = claim["spec"]["volumeName"]
    ask_for(lab, "2Gi")
    # One pass of the expander alone: the resizer's part, before any kubelet step.
    [expander] = [
        c for c in lab.manager.controllers if c.name == "persistentvolume-expander-controller"
    ]
    expander.reconcile(lab.manager.context)
    volume = lab.store.get("", "persistentvolumes", None, volume_name)
    assert volume["spec"]["capacity"] == {"storage": "2Gi"}
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim["status"]["capacity"] == {"storage": "1Gi"}
    assert conditions(claim) == ["FileSystemResizePending"]
    assert claim["status"]["allocatedResources"] == {"storage": "2Gi"}
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert claim["status"]["capacity"] == {"storage": "2Gi"}
    assert conditions(claim) == []
    assert [e["message"] for e in lab.events("Resizing")] == [
        f"External resizer is resizing volume {volume_name}"
    ]
    finished = lab.events("FileSystemResizeSuccessful")
    assert {e["involvedObject"]["kind"] for e in finished} == {"Pod", "PersistentVolumeClaim"}
    assert finished[0]["message"] == (
        f'MountVolume.NodeExpandVolume succeeded for volume "{volume_name}" node01'
    )


def test_offline_claim_waits_for_a_pod(lab: Lab) -> None:
    expandable(lab)
    bound_claim(lab)
    lab.store.delete("", "pods", "default", "user")
    ask_for(lab, "3Gi")
    lab.sync()
    claim = lab.get("", "persistentvolumeclaims", "data")
    assert conditions(claim) == ["FileSystemResizePending"]
    assert claim["status"]["capacity"] == {"storage": "1Gi"}
    [message] = [c["message"] for c in claim["status"]["conditions"]]
    assert message == (
        "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
    )
    pod = lab.create("", "pods", pod_using("data", name="again"))
    lab.run_pod(pod, node="node01")
    lab.sync()
    assert lab.get("", "persistentvolumeclaims", "data")["status"]["capacity"] == {"storage": "3Gi"}


def test_a_driver_without_resizer_leaves_the_claim_waiting(lab: Lab) -> None:
    expandable(lab, "ext", provisioner="example.com/nfs")
    lab.create("", "persistentvolumes", _nfs_volume())
    bound_claim(lab, cls="ext")
    ask_for(lab, "5Gi")
    lab.sync()
    assert lab.store.get("", "persistentvolumes", None, "share")["spec"]["capacity"] == {
        "storage": "1Gi"
    }
    assert [e["message"] for e in lab.events("ExternalExpanding")] == [
        "waiting for an external controller to expand this PVC"
    ]
    assert lab.events("Resizing") == []


def _nfs_volume() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "share"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "ext",
            "nfs": {"server": "10.0.0.9", "path": "/share"},
        },
    }
