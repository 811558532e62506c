"""The scheduler driving a bootstrapped simulated cluster through its API pipeline."""

from __future__ import annotations

import pytest

from app.sim.bootstrap import create_cluster
from app.sim.controllers import ControllerManager
from app.sim.controllers.client import ApiClient
from app.sim.machinery.clock import ManualClock
from app.sim.scheduler.loop import SchedulerLoop
from tests import builders


@pytest.fixture
def cluster():
    # controlplane (tainted NoSchedule), node01, node02: 2 CPU / ~3.7Gi each.
    return create_cluster("scheduler-loop", clock=ManualClock())


def _create_pod(cluster, name, **spec):
    pod = builders.pod(name, labels={"run": name}, image="nginx:1.27", container=name, **spec)
    return ApiClient(cluster.store, cluster).create("", "pods", pod)


def _pod(cluster, name):
    return cluster.store.get("", "pods", "default", name)


def _events(cluster, name, reason):
    return [
        e
        for e in cluster.store.list("", "events", "default")[0]
        if e["involvedObject"]["name"] == name and e["reason"] == reason
    ]


def test_a_pod_is_bound_through_the_binding_subresource(cluster):
    _create_pod(cluster, "web")
    loop = SchedulerLoop(cluster)
    assert loop.step() == 2
    pod = _pod(cluster, "web")
    assert pod["spec"]["nodeName"] in ("node01", "node02")
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled[0]["status"] == "True"
    (event,) = _events(cluster, "web", "Scheduled")
    assert event["message"] == f"Successfully assigned default/web to {pod['spec']['nodeName']}"
    assert event["source"]["component"] == "default-scheduler"
    assert event["reportingComponent"] == "default-scheduler"
    assert loop.step() == 0


def test_the_design_example_message_on_a_real_cluster(cluster):
    _create_pod(cluster, "picky", nodeSelector={"disk": "ssd"})
    loop = SchedulerLoop(cluster)
    loop.step()
    message = (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match "
        "Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not "
        "helpful for scheduling."
    )
    (event,) = _events(cluster, "picky", "FailedScheduling")
    assert event["type"] == "Warning"
    assert event["message"] == message
    pod = _pod(cluster, "picky")
    condition = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "Unschedulable",
        message,
    )
    # The learner's fix: label a node. The node update moves the pod out of the
    # unschedulable set; after its 1 s back-off it is bound there.
    node = cluster.store.get("", "nodes", None, "node02")
    node["metadata"]["labels"]["disk"] = "ssd"
    cluster.store.update("", "nodes", node)
    loop.step()
    assert not _pod(cluster, "picky")["spec"].get("nodeName")
    cluster.clock.advance(1)
    loop.step()
    assert _pod(cluster, "picky")["spec"]["nodeName"] == "node02"


def test_pods_for_another_scheduler_stay_pending_without_events(cluster):
    _create_pod(cluster, "custom", schedulerName="my-scheduler")
    assert SchedulerLoop(cluster).step() == 0
    assert not _pod(cluster, "custom")["spec"].get("nodeName")
    assert _events(cluster, "custom", "FailedScheduling") == []


def test_deployment_replicas_are_spread_over_the_workers(cluster):
    manager = ControllerManager.for_cluster(cluster, controllers=("deployment", "replicaset"))
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }
    ApiClient(cluster.store, cluster).create("apps", "deployments", deployment)
    manager.sync()
    SchedulerLoop(cluster).step()
    pods = [
        p
        for p in cluster.store.list("", "pods", "default")[0]
        if p["metadata"]["name"].startswith("web-")
    ]
    assert len(pods) == 4
    nodes = sorted(p["spec"].get("nodeName") for p in pods)
    assert nodes == ["node01", "node01", "node02", "node02"]


def test_preemption_on_a_real_cluster(cluster):
    client = ApiClient(cluster.store, cluster)
    client.create(
        "scheduling.k8s.io",
        "priorityclasses",
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "critical"},
            "value": 1000000,
        },
    )
    big = {"resources": {"requests": {"cpu": "1500m"}}}
    for name in ("filler-1", "filler-2"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", **big}]},
        }
        client.create("", "pods", pod)
    loop = SchedulerLoop(cluster)
    loop.step()
    urgent = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "urgent", "namespace": "default"},
        "spec": {
            "priorityClassName": "critical",
            "containers": [{"name": "c", "image": "busybox", **big}],
        },
    }
    client.create("", "pods", urgent)
    loop.step()
    (preempted,) = _events(cluster, "filler-1", "Preempted")
    uid = _pod(cluster, "urgent")["metadata"]["uid"]
    assert preempted["message"] == f"Preempted by pod {uid} on node node01"
    assert _pod(cluster, "filler-1") is None
    assert _pod(cluster, "urgent")["status"]["nominatedNodeName"] == "node01"
    (failed,) = _events(cluster, "urgent", "FailedScheduling")
    assert failed["message"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu."
    )
    cluster.clock.advance(1)
    loop.step()
    assert _pod(cluster, "urgent")["spec"]["nodeName"] == "node01"
    assert _pod(cluster, "filler-2")["spec"]["nodeName"] == "node02"


def test_wait_for_first_consumer_volume_decides_the_node(cluster):
    client = ApiClient(cluster.store, cluster)
    client.create(
        "storage.k8s.io",
        "storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
    )
    client.create(
        "",
        "persistentvolumes",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "local-node02"},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "local",
                "local": {"path": "/mnt/disks/vol1"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "In",
                                        "values": ["node02"],
                                    }
                                ]
                            }
                        ]
                    }
                },
            },
        },
    )
    client.create(
        "",
        "persistentvolumeclaims",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "local",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    _create_pod(
        cluster, "db", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    )
    SchedulerLoop(cluster).step()
    assert _pod(cluster, "db")["spec"]["nodeName"] == "node02"
    volume = cluster.store.get("", "persistentvolumes", None, "local-node02")
    assert volume["spec"]["claimRef"]["name"] == "data"
    # The volume controller finishes the binding the scheduler started.
    ControllerManager.for_cluster(cluster, controllers=("persistentvolume-binder",)).sync()
    claim = cluster.store.get("", "persistentvolumeclaims", "default", "data")
    assert claim["spec"].get("volumeName") == "local-node02"


def test_the_scheduler_holds_its_lease_and_stops_when_not_running(cluster):
    _create_pod(cluster, "web")
    loop = SchedulerLoop(cluster)
    assert loop.tick(running=False) is False
    assert not _pod(cluster, "web")["spec"].get("nodeName")
    assert loop.tick() is True
    lease = cluster.store.get("coordination.k8s.io", "leases", "kube-system", "kube-scheduler")
    assert lease["spec"]["holderIdentity"] == loop.elector.identity
    assert loop.elector.identity.startswith("controlplane_")
    assert _pod(cluster, "web")["spec"]["nodeName"] in ("node01", "node02")


class _BoundInStore:
    """A PreFilter plugin noting, per pod it is asked about, which pods the API store
    already shows bound: what a `kubectl get pods -w` would have seen by then."""

    name = "BoundInStore"

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.seen: dict[str, set[str]] = {}

    def pre_filter(self, state, pod, snapshot):
        pods = self.cluster.store.list("", "pods", "default")[0]
        bound = {p["metadata"]["name"] for p in pods if p["spec"].get("nodeName")}
        self.seen[pod.name] = bound
        return None


def test_each_pod_is_bound_before_the_next_is_scheduled(cluster):
    from app.sim.scheduler import Scheduler
    from app.sim.scheduler.framework import PluginConfig, Profile, default_profile
    from app.sim.scheduler.plugins import default_registry

    probe = _BoundInStore(cluster)
    registry = default_registry()
    registry.register(probe.name, lambda args: probe)
    base = default_profile()
    profile = Profile(base.scheduler_name, (*base.plugins, PluginConfig(probe.name)))
    scheduler = Scheduler([profile], registry=registry, clock=cluster.clock)
    for name in ("a", "b", "c"):
        _create_pod(cluster, name)
    assert SchedulerLoop(cluster, scheduler=scheduler).step() == 6
    order = sorted(probe.seen, key=lambda n: len(probe.seen[n]))
    # The first decided pod saw nothing bound; each later one saw every earlier pod bound.
    assert [len(probe.seen[n]) for n in order] == [0, 1, 2]
    assert probe.seen[order[1]] == {order[0]}
    assert probe.seen[order[2]] == {order[0], order[1]}
    assert all(_pod(cluster, n)["spec"].get("nodeName") for n in "abc")


class _ListCounter:
    """Counts the store's list calls (the scheduler's reads) without changing them."""

    def __init__(self, store) -> None:
        self.calls = 0
        self._list_page = store.list_page
        store.list_page = self

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self._list_page(*args, **kwargs)


def test_an_idle_scheduler_reads_nothing_until_a_watched_kind_changes(cluster):
    loop = SchedulerLoop(cluster)
    _create_pod(cluster, "web")
    assert loop.step() == 2
    assert loop.step() == 0  # nothing queued: idle from here on
    ApiClient(cluster.store, cluster).create(
        "", "configmaps", {"metadata": {"name": "unrelated", "namespace": "default"}}
    )
    reads = _ListCounter(cluster.store)
    assert loop.step() == 0
    assert reads.calls == 0
    _create_pod(cluster, "api")
    assert loop.step() == 2  # a new pod wakes it
    assert _pod(cluster, "api")["spec"]["nodeName"] in ("node01", "node02")
    assert reads.calls > 0


def test_a_pod_left_unschedulable_keeps_the_scheduler_awake(cluster):
    loop = SchedulerLoop(cluster)
    _create_pod(cluster, "picky", nodeSelector={"disk": "ssd"})
    loop.step()
    loop.step()
    reads = _ListCounter(cluster.store)
    loop.step()  # the pod waits in the unschedulable queue: the loop keeps looking
    assert reads.calls > 0
