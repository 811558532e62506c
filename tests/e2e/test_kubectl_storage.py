"""Storage with the real kubectl: the default class `local-path` provisioning on the
first consumer, why claims stay Pending, expansion, data that outlives its pod,
emptyDirs shared by a pod's containers and the logging sidecar."""

from __future__ import annotations

import json

import pytest

from app.sim.machinery.clock import ManualClock
from tests.fixtures.sim import SimCluster

pytestmark = pytest.mark.kubectl


@pytest.fixture
def sim_cluster(sim_cluster_factory) -> SimCluster:
    # Pods start only when the control plane runs: a manual clock the tests move.
    return sim_cluster_factory(nodes=2, clock=ManualClock())


def _advance(sim: SimCluster, seconds: int = 5) -> None:
    sim.server.call(sim.cluster.control_plane.advance, seconds)


def _claim(name: str, size: str = "100Mi", **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            **spec,
        },
    }


def _pod(name: str, claim: str, mount: str = "/data") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "command": ["sleep", "3600"],
                    "volumeMounts": [{"name": "data", "mountPath": mount}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


def _apply(kubectl, *objects: dict) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def _events(kubectl, name: str) -> list[tuple[str, str, str]]:
    items = kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"
    ).json()["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def test_default_class_provisions_for_the_first_consumer(sim_cluster, kubectl) -> None:
    classes = kubectl("get", "storageclass").lines
    assert classes[1].split()[:5] == [
        "local-path",
        "(default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
    ]
    _apply(kubectl, _claim("data"))
    _advance(sim_cluster)
    assert kubectl("get", "pvc", "data", "-o", "jsonpath={.status.phase}").stdout == "Pending"
    assert (
        "Normal",
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
    ) in _events(kubectl, "data")
    _apply(kubectl, _pod("writer", "data"))
    _advance(sim_cluster)
    claim = kubectl("get", "pvc", "data", "-o", "json").json()
    assert claim["status"]["phase"] == "Bound"
    node = kubectl("get", "pod", "writer", "-o", "jsonpath={.spec.nodeName}").stdout
    volume = kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json").json()
    terms = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node]
    reasons = [reason for _, reason, _ in _events(kubectl, "data")]
    assert reasons.index("ExternalProvisioning") < reasons.index("ProvisioningSucceeded")

    # The data lives on the node, in the volume's directory, and outlives the pod.
    kubectl("exec", "writer", "--", "sh", "-c", "echo kept > /data/note")
    path = volume["spec"]["hostPath"]["path"]
    assert sim_cluster.cluster.node_access.read_file(node, f"{path}/note") == "kept\n"
    kubectl("delete", "pod", "writer", "--grace-period=0", "--force")
    _advance(sim_cluster)
    _apply(kubectl, _pod("reader", "data", mount="/srv"))
    _advance(sim_cluster)
    assert kubectl("exec", "reader", "--", "cat", "/srv/note").stdout == "kept\n"

    # reclaimPolicy Delete: the claim's deletion removes the volume and its directory.
    kubectl("delete", "pod", "reader", "--grace-period=0", "--force")
    kubectl("delete", "pvc", "data", "--wait=false")
    _advance(sim_cluster)
    assert kubectl("get", "pv", "-o", "name").stdout == ""
    shell = sim_cluster.cluster.node_access.shell(node)
    assert shell.run(f"ls {path}").exit_code != 0


def test_empty_dir_is_shared_and_host_path_is_the_nodes(sim_cluster, kubectl) -> None:
    mounts = [
        {"name": "shared", "mountPath": "/shared"},
        {"name": "host", "mountPath": "/host"},
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pair"},
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": "busybox",
                    "command": ["sleep", "3600"],
                    "volumeMounts": mounts,
                }
                for name in ("one", "two")
            ],
            "volumes": [
                {"name": "shared", "emptyDir": {}},
                {"name": "host", "hostPath": {"path": "/srv/pair", "type": "DirectoryOrCreate"}},
            ],
        },
    }
    _apply(kubectl, pod)
    _advance(sim_cluster)
    kubectl("exec", "pair", "-c", "one", "--", "sh", "-c", "echo from-one > /shared/x")
    assert kubectl("exec", "pair", "-c", "two", "--", "cat", "/shared/x").stdout == "from-one\n"
    kubectl("exec", "pair", "-c", "two", "--", "sh", "-c", "echo on-node > /host/y")
    node = kubectl("get", "pod", "pair", "-o", "jsonpath={.spec.nodeName}").stdout
    shell = sim_cluster.cluster.node_access.shell(node)
    assert shell.run("cat /srv/pair/y").stdout == "on-node\n"
    uid = kubectl("get", "pod", "pair", "-o", "jsonpath={.metadata.uid}").stdout
    empty_dir = f"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~empty-dir/shared"
    assert shell.run(f"cat {empty_dir}/x").stdout == "from-one\n"
    # The emptyDir goes with the pod; the hostPath stays on the node.
    kubectl("delete", "pod", "pair", "--grace-period=0", "--force")
    _advance(sim_cluster)
    assert shell.run(f"ls {empty_dir}").exit_code != 0
    assert shell.run("cat /srv/pair/y").stdout == "on-node\n"


def test_logging_sidecar_follows_the_main_containers_file(sim_cluster, kubectl) -> None:
    log = [{"name": "logs", "mountPath": "/var/log"}]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app"},
        "spec": {
            "initContainers": [
                {
                    "name": "sidecar",
                    "image": "busybox",
                    "restartPolicy": "Always",
                    "command": ["sh", "-c", "tail -F /var/log/app.log"],
                    "volumeMounts": log,
                }
            ],
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": [
                        "sh",
                        "-c",
                        "while true; do date >> /var/log/app.log; sleep 5; done",
                    ],
                    "volumeMounts": log,
                }
            ],
            "volumes": [{"name": "logs", "emptyDir": {}}],
        },
    }
    _apply(kubectl, pod)
    _advance(sim_cluster, 2)
    _advance(sim_cluster, 20)
    row = kubectl("get", "pod", "app", "--no-headers").stdout.split()
    assert row[1:3] == ["2/2", "Running"]
    status = kubectl("get", "pod", "app", "-o", "json").json()["status"]
    [sidecar] = status["initContainerStatuses"]
    assert "running" in sidecar["state"] and sidecar["ready"] is True
    written = kubectl("exec", "app", "-c", "main", "--", "cat", "/var/log/app.log").lines
    assert len(written) >= 4
    assert all(line.endswith(" UTC " + line.split()[-1]) for line in written)
    logs = kubectl("logs", "app", "-c", "sidecar").lines
    assert logs == written
    assert kubectl("logs", "app", "-c", "main").stdout == ""
    _advance(sim_cluster, 10)
    assert len(kubectl("logs", "app", "-c", "sidecar").lines) == len(written) + 2


def _scheduling_messages(kubectl, pod: str) -> list[str]:
    return [m for _, reason, m in _events(kubectl, pod) if reason == "FailedScheduling"]


def test_pending_claims_and_their_pods_say_why(sim_cluster, kubectl) -> None:
    _apply(
        kubectl,
        _claim("typo", storageClassName="manual"),
        _claim("bare", storageClassName=""),
        _pod("stuck", "typo"),
    )
    _advance(sim_cluster)
    described = kubectl("describe", "pvc", "typo").stdout
    assert 'storageclass.storage.k8s.io "manual" not found' in described
    assert "ProvisioningFailed" in described
    assert (
        "Normal",
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
    ) in _events(kubectl, "bare")
    assert kubectl("get", "pod", "stuck", "-o", "jsonpath={.status.phase}").stdout == "Pending"
    [message] = _scheduling_messages(kubectl, "stuck")
    assert message.startswith(
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    )
    # A claim that is not bound cannot be resized, neither up nor down: the update is
    # refused by validation, before the resize admission plugin.
    for size in ("2Gi", "10Mi"):
        patch = json.dumps({"spec": {"resources": {"requests": {"storage": size}}}})
        refused = kubectl("patch", "pvc", "bare", "-p", patch, check=False)
        assert refused.returncode == 1
        assert (
            'The PersistentVolumeClaim "bare" is invalid: spec: Forbidden: spec is immutable '
            "after creation except resources.requests and volumeAttributesClassName for bound "
            "claims"
        ) in refused.stderr
    # A matching volume appears: the claim binds and the pod is scheduled.
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-manual"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
            "storageClassName": "manual",
            "nfs": {"server": "10.0.0.9", "path": "/exports/manual"},
        },
    }
    _apply(kubectl, volume)
    _advance(sim_cluster)
    _advance(sim_cluster)
    assert kubectl("get", "pvc", "typo", "-o", "jsonpath={.status.phase}").stdout == "Bound"
    assert kubectl("get", "pod", "stuck", "-o", "jsonpath={.status.phase}").stdout == "Running"
    # An nfs volume's data lives with the volume, not on a node.
    kubectl("exec", "stuck", "--", "sh", "-c", "echo shared > /data/f")
    assert sim_cluster.cluster.node_access.volume_data["pv-manual"].read("/f") == "shared\n"


def test_read_write_once_pod_claim_admits_one_pod(sim_cluster, kubectl) -> None:
    _apply(kubectl, _claim("solo", accessModes=["ReadWriteOncePod"]), _pod("first", "solo"))
    _advance(sim_cluster)
    assert kubectl("get", "pod", "first", "-o", "jsonpath={.status.phase}").stdout == "Running"
    _apply(kubectl, _pod("second", "solo"))
    _advance(sim_cluster)
    assert kubectl("get", "pod", "second", "-o", "jsonpath={.status.phase}").stdout == "Pending"
    [message] = _scheduling_messages(kubectl, "second")
    assert (
        "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
        "access mode" in message
    )


def test_expansion_follows_the_class(sim_cluster, kubectl) -> None:
    grow = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "grow"},
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }
    _apply(kubectl, grow, _claim("big", storageClassName="grow"), _claim("fixed"))
    _apply(kubectl, _pod("user-big", "big"), _pod("user-fixed", "fixed"))
    _advance(sim_cluster)
    patch = '{"spec":{"resources":{"requests":{"storage":"%s"}}}}'
    refused = kubectl("patch", "pvc", "fixed", "-p", patch % "200Mi", check=False)
    assert refused.returncode == 1
    assert (
        "only dynamically provisioned pvc can be resized and the storageclass that provisions "
        "the pvc must support resize" in refused.stderr
    )
    shrink = kubectl("patch", "pvc", "big", "-p", patch % "50Mi", check=False)
    assert "field can not be less than previous value" in shrink.stderr
    kubectl("patch", "pvc", "big", "-p", patch % "300Mi")
    _advance(sim_cluster)
    claim = kubectl("get", "pvc", "big", "-o", "json").json()
    assert claim["status"]["capacity"] == {"storage": "300Mi"}
    volume = kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json").json()
    assert volume["spec"]["capacity"] == {"storage": "300Mi"}
    row = kubectl("get", "pvc", "big", "--no-headers").stdout.split()
    assert row[3] == "300Mi"
    reasons = [reason for _, reason, _ in _events(kubectl, "big")]
    assert "Resizing" in reasons and "FileSystemResizeSuccessful" in reasons
    # A class's binding mode is immutable; allowing expansion is not.
    mode = kubectl(
        "patch", "sc", "local-path", "-p", '{"volumeBindingMode":"Immediate"}', check=False
    )
    assert (
        'The StorageClass "local-path" is invalid: volumeBindingMode: Invalid value: '
        '"Immediate": field is immutable' in mode.stderr
    )
    kubectl("patch", "sc", "local-path", "-p", '{"allowVolumeExpansion":true}')
    kubectl("patch", "pvc", "fixed", "-p", patch % "200Mi")
    _advance(sim_cluster)
    capacity = kubectl("get", "pvc", "fixed", "-o", "jsonpath={.status.capacity.storage}")
    assert capacity.stdout == "200Mi"


def test_stateful_set_pods_keep_their_volumes(sim_cluster, kubectl) -> None:
    mount = [{"name": "data", "mountPath": "/data"}]
    template = {
        "metadata": {"labels": {"app": "db"}},
        "spec": {
            "containers": [
                {
                    "name": "db",
                    "image": "busybox",
                    "command": ["sleep", "3600"],
                    "volumeMounts": mount,
                }
            ]
        },
    }
    claims = [{"metadata": {"name": "data"}, "spec": _claim("data", "50Mi")["spec"]}]
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 2,
            "selector": {"matchLabels": {"app": "db"}},
            "template": template,
            "volumeClaimTemplates": claims,
        },
    }
    _apply(kubectl, sts)
    for _ in range(4):
        _advance(sim_cluster)
    phases = kubectl("get", "pvc", "-o", "jsonpath={.items[*].status.phase}").stdout.split()
    assert phases == ["Bound", "Bound"]
    kubectl("exec", "db-0", "--", "sh", "-c", "echo first > /data/id")
    node = kubectl("get", "pod", "db-0", "-o", "jsonpath={.spec.nodeName}").stdout
    kubectl("delete", "pod", "db-0", "--grace-period=0", "--force")
    for _ in range(3):
        _advance(sim_cluster)
    # The new db-0 follows its volume to the same node and finds its data.
    assert kubectl("get", "pod", "db-0", "-o", "jsonpath={.spec.nodeName}").stdout == node
    assert kubectl("exec", "db-0", "--", "cat", "/data/id").stdout == "first\n"
    assert kubectl("exec", "db-1", "--", "ls", "/data").stdout == ""
