"""Pod requests and the snapshot's per-node accounting."""

import pytest

from app.sim.scheduler.podinfo import PodInfo, pod_non_zero_requests, pod_requests
from app.sim.scheduler.snapshot import NodeInfo, Snapshot
from tests.builders import make_node, make_pod


def _container(cpu=None, memory=None, restart_policy=None, limits=None):
    requests = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    c = {"name": "c", "image": "busybox", "resources": {"requests": requests}}
    if limits:
        c["resources"]["limits"] = limits
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


def test_requests_are_sum_of_containers_or_largest_init_container():
    pod = {
        "spec": {
            "containers": [_container("250m", "64Mi"), _container("250m", "64Mi")],
            "initContainers": [_container("1", "32Mi"), _container("100m", "512Mi")],
        }
    }
    req = pod_requests(pod)
    assert req.milli_cpu == 1000  # init container 1 CPU beats 500m of app containers
    assert req.memory == 512 * 2**20  # init container 512Mi beats 128Mi


def test_sidecar_init_containers_run_beside_the_app_and_overhead_is_added():
    pod = {
        "spec": {
            "containers": [_container("500m", "100Mi")],
            "initContainers": [
                _container("100m", "50Mi", restart_policy="Always"),
                _container("200m", "10Mi"),
            ],
            "overhead": {"cpu": "50m", "memory": "10Mi"},
        }
    }
    req = pod_requests(pod)
    # app 500m + sidecar 100m = 600m; init 200m + sidecar 100m = 300m; + 50m overhead
    assert req.milli_cpu == 650
    assert req.memory == 160 * 2**20


def test_limits_stand_in_for_missing_requests():
    pod = {"spec": {"containers": [_container(limits={"cpu": "2", "memory": "1Gi"})]}}
    req = pod_requests(pod)
    assert (req.milli_cpu, req.memory) == (2000, 2**30)


def test_non_zero_requests_default_to_100m_and_200mi():
    pod = {"spec": {"containers": [_container(), _container("1")]}}
    assert pod_non_zero_requests(pod) == (1100, 400 * 2**20)


def test_bad_quantity_raises_value_error_naming_the_pod():
    pod = make_pod("broken", cpu="lots")
    with pytest.raises(ValueError, match="default/broken"):
        PodInfo(pod)


def test_node_info_accounts_and_releases_pods():
    node = NodeInfo(make_node("n1", cpu="2", memory="4Gi"))
    pod = PodInfo(make_pod("a", cpu="500m", memory="1Gi", host_port=8080))
    node.add_pod(pod)
    assert node.requested.milli_cpu == 500
    assert node.requested.memory == 2**30
    assert node.port_conflicts([("0.0.0.0", "TCP", 8080)])
    assert not node.port_conflicts([("0.0.0.0", "UDP", 8080)])
    node.remove_pod(pod.uid)
    assert node.requested.milli_cpu == 0
    assert not node.port_conflicts([("0.0.0.0", "TCP", 8080)])


def test_snapshot_skips_unbound_and_finished_pods_and_resolves_priority_classes():
    done = make_pod("done", node="n1", cpu="1")
    done["status"]["phase"] = "Succeeded"
    snap = Snapshot.build(
        [make_node("n1")],
        [make_pod("running", node="n1", cpu="1"), make_pod("pending", cpu="1"), done],
        priority_classes=[
            {"metadata": {"name": "high"}, "value": 1000},
            {"metadata": {"name": "base"}, "value": 7, "globalDefault": True},
        ],
    )
    assert [p.name for p in snap.get("n1").pods.values()] == ["running"]
    assert snap.priority_of(make_pod("x", priority_class="high")) == 1000
    assert snap.priority_of(make_pod("y")) == 7
    assert snap.priority_of(make_pod("z", priority=5, priority_class="high")) == 5
