"""Server-side Table printing with the upstream columns and cell formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sim.apiserver import printers
from app.sim.machinery.resources import ResourceRegistry, ResourceType, builtin_registry

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def registry() -> ResourceRegistry:
    return builtin_registry()


def rt(registry: ResourceRegistry, api_version: str, kind: str) -> ResourceType:
    found = registry.by_kind(api_version, kind)
    assert found is not None
    return found


def row(registry: ResourceRegistry, api_version: str, kind: str, obj: dict) -> dict[str, Any]:
    """The one row's cells by column name (all columns, wide included)."""
    table = printers.to_table(rt(registry, api_version, kind), [obj], now=NOW)
    names = [c["name"] for c in table["columnDefinitions"]]
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


def meta(name: str = "x", created: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": created or ago(minutes=5, seconds=2), **extra}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (302, "5m2s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600 + 240, "3h4m"),
        (5 * 3600, "5h"),
        (9 * 3600, "9h"),
        (3 * 86400, "3d"),
        (3 * 86400 + 7200, "3d2h"),
        (30 * 86400, "30d"),
        (800 * 86400, "2y70d"),
        (10 * 365 * 86400, "10y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert printers.human_duration(seconds) == text


def test_since_unknown_timestamp() -> None:
    assert printers.since(None, NOW) == "<unknown>"
    assert printers.since(ago(days=3), NOW) == "3d"
    assert printers.since((NOW - timedelta(seconds=7)).isoformat(), NOW) == "7s"


def test_pod_columns_and_running_row(registry: ResourceRegistry) -> None:
    pod = {
        "metadata": meta("web-1"),
        "spec": {"nodeName": "node01", "containers": [{"name": "a"}, {"name": "b"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.244.1.5",
            "podIPs": [{"ip": "10.244.1.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": True, "restartCount": 0, "state": {"running": {}}},
            ],
        },
    }
    table = printers.to_table(rt(registry, "v1", "Pod"), [pod], now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["rows"][0]["cells"] == [
        "web-1",
        "2/2",
        "Running",
        "0",
        "5m2s",
        "10.244.1.5",
        "node01",
        "<none>",
        "<none>",
    ]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pod["metadata"],
    }


def _pod(status: dict[str, Any], **meta_extra: Any) -> dict[str, Any]:
    return {
        "metadata": meta("p", **meta_extra),
        "spec": {"containers": [{"name": "app"}]},
        "status": status,
    }


def test_pod_status_reasons(registry: ResourceRegistry) -> None:
    def status_of(pod: dict[str, Any]) -> str:
        return row(registry, "v1", "Pod", pod)["Status"]

    assert status_of(_pod({"phase": "Pending"})) == "Pending"
    creating = {
        "phase": "Pending",
        "containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}
        ],
    }
    assert status_of(_pod(creating)) == "ContainerCreating"
    completed = {
        "phase": "Succeeded",
        "containerStatuses": [
            {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ],
    }
    assert status_of(_pod(completed)) == "Completed"
    exit_code = {
        "phase": "Failed",
        "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 2}}}],
    }
    assert status_of(_pod(exit_code)) == "ExitCode:2"
    running = {
        "phase": "Running",
        "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}],
    }
    assert status_of(_pod(running, deletionTimestamp=ago(seconds=3))) == "Terminating"
    lost = {"phase": "Running", "reason": "NodeLost"}
    assert status_of(_pod(lost, deletionTimestamp=ago(seconds=3))) == "Unknown"
    evicted = {"phase": "Failed", "reason": "Evicted"}
    assert status_of(_pod(evicted)) == "Evicted"
    gated = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
    }
    assert status_of(_pod(gated)) == "SchedulingGated"


def test_crashloop_restarts_show_last_restart(registry: ResourceRegistry) -> None:
    pod = _pod(
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=2)}},
                }
            ],
        }
    )
    cells = row(registry, "v1", "Pod", pod)
    assert cells["Status"] == "CrashLoopBackOff"
    assert cells["Ready"] == "0/1"
    assert cells["Restarts"] == "3 (2m ago)"


def test_init_container_states(registry: ResourceRegistry) -> None:
    base = {
        "metadata": meta("p"),
        "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]},
    }
    waiting = {
        **base,
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [{"name": "init", "state": {"running": {}}}],
        },
    }
    assert row(registry, "v1", "Pod", waiting)["Status"] == "Init:0/1"
    crash = {
        **base,
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "init", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ],
        },
    }
    assert row(registry, "v1", "Pod", crash)["Status"] == "Init:CrashLoopBackOff"
    sidecar = {
        "metadata": meta("p"),
        "spec": {
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [
                {"name": "proxy", "started": True, "ready": True, "state": {"running": {}}}
            ],
            "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}],
        },
    }
    cells = row(registry, "v1", "Pod", sidecar)
    assert (cells["Ready"], cells["Status"]) == ("2/2", "Running")


def test_pod_row_conditions_for_finished_pods(registry: ResourceRegistry) -> None:
    table = printers.to_table(rt(registry, "v1", "Pod"), [_pod({"phase": "Succeeded"})], now=NOW)
    assert table["rows"][0]["conditions"][0]["type"] == "Completed"


def test_node_status_roles_and_wide(registry: ResourceRegistry) -> None:
    node = {
        "metadata": meta(
            "controlplane",
            created=ago(days=3),
            labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"},
        ),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {"kubeletVersion": "v1.34.1", "osImage": "Debian"},
        },
    }
    cells = row(registry, "v1", "Node", node)
    assert cells["Status"] == "Ready,SchedulingDisabled"
    assert cells["Roles"] == "control-plane"
    assert cells["Age"] == "3d"
    assert cells["Version"] == "v1.34.1"
    assert cells["Internal-IP"] == "172.18.0.2"
    assert cells["External-IP"] == "<none>"
    assert cells["Kernel-Version"] == "<unknown>"
    not_ready = {
        "metadata": meta("n"),
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }
    cells = row(registry, "v1", "Node", not_ready)
    assert (cells["Status"], cells["Roles"]) == ("NotReady", "<none>")
    assert row(registry, "v1", "Node", {"metadata": meta("n")})["Status"] == "Unknown"
    assert printers.node_roles(
        {"kubernetes.io/role": "master", "node-role.kubernetes.io/worker": ""}
    ) == ["master", "worker"]


def test_deployment_and_replicaset(registry: ResourceRegistry) -> None:
    template = {
        "spec": {
            "containers": [
                {"name": "web", "image": "nginx:1.27"},
                {"name": "log", "image": "busybox"},
            ]
        }
    }
    deploy = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web", "tier": "fe"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}],
            },
            "template": template,
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    cells = row(registry, "apps/v1", "Deployment", deploy)
    assert cells == {
        "Name": "web",
        "Ready": "2/3",
        "Up-to-date": 3,
        "Available": 2,
        "Age": "5m2s",
        "Containers": "web,log",
        "Images": "nginx:1.27,busybox",
        "Selector": "app=web,env in (dev,prod),tier=fe",
    }
    rs = {
        "metadata": meta("web-abc"),
        "spec": {"replicas": 3, "template": template},
        "status": {"replicas": 3, "readyReplicas": 1},
    }
    cells = row(registry, "apps/v1", "ReplicaSet", rs)
    assert (cells["Desired"], cells["Current"], cells["Ready"]) == (3, 3, 1)


def test_daemonset_statefulset(registry: ResourceRegistry) -> None:
    ds = {
        "metadata": meta("proxy"),
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "p", "image": "kp"}],
                }
            }
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    cells = row(registry, "apps/v1", "DaemonSet", ds)
    assert [cells[c] for c in ("Desired", "Current", "Ready", "Up-to-date", "Available")] == [
        3,
        3,
        2,
        3,
        2,
    ]
    assert cells["Node Selector"] == "kubernetes.io/os=linux"
    sts = {"metadata": meta("db"), "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}
    assert row(registry, "apps/v1", "StatefulSet", sts)["Ready"] == "1/2"


def test_service_rows(registry: ResourceRegistry) -> None:
    svc = {
        "metadata": meta("web"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.12.4",
            "clusterIPs": ["10.96.12.4"],
            "selector": {"app": "web"},
            "ports": [
                {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                {"port": 53, "protocol": "UDP"},
            ],
        },
    }
    cells = row(registry, "v1", "Service", svc)
    assert cells["Type"] == "NodePort"
    assert cells["Cluster-IP"] == "10.96.12.4"
    assert cells["External-IP"] == "<none>"
    assert cells["Port(s)"] == "80:30080/TCP,53/UDP"
    assert cells["Selector"] == "app=web"
    lb = {
        "metadata": meta("lb"),
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.9", "ports": [{"port": 443}]},
    }
    assert row(registry, "v1", "Service", lb)["External-IP"] == "<pending>"
    headless = {"metadata": meta("h"), "spec": {"clusterIP": "None", "clusterIPs": ["None"]}}
    cells = row(registry, "v1", "Service", headless)
    assert (cells["Cluster-IP"], cells["Port(s)"], cells["Selector"]) == (
        "None",
        "<none>",
        "<none>",
    )
    ext = {"metadata": meta("e"), "spec": {"type": "ExternalName", "externalName": "db.example"}}
    assert row(registry, "v1", "Service", ext)["External-IP"] == "db.example"


def test_endpoints_format() -> None:
    ep = {
        "subsets": [
            {
                "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)],
                "ports": [{"port": 8080}],
            }
        ]
    }
    assert printers.format_endpoints(ep) == "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 2 more..."
    assert printers.format_endpoints({}) == "<none>"


def test_events_of_both_groups(registry: ResourceRegistry) -> None:
    core = {
        "metadata": meta("web.1"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled",
        "message": "Container image pulled  ",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node01"},
        "firstTimestamp": ago(minutes=10),
        "lastTimestamp": ago(seconds=30),
        "count": 4,
    }
    cells = row(registry, "v1", "Event", core)
    assert cells == {
        "Last Seen": "30s",
        "Type": "Normal",
        "Reason": "Pulled",
        "Object": "pod/web",
        "Subobject": "spec.containers{app}",
        "Source": "kubelet, node01",
        "Message": "Container image pulled",
        "First Seen": "10m",
        "Count": 4,
        "Name": "web.1",
    }
    new = {
        "apiVersion": "events.k8s.io/v1",
        "metadata": meta("web.2"),
        "regarding": {"kind": "Pod", "name": "web"},
        "reason": "Scheduled",
        "note": "Successfully assigned default/web to node01",
        "type": "Normal",
        "eventTime": (NOW - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "reportingController": "default-scheduler",
    }
    cells = row(registry, "events.k8s.io/v1", "Event", new)
    assert (cells["Last Seen"], cells["Object"], cells["Source"], cells["Count"]) == (
        "20s",
        "pod/web",
        "default-scheduler",
        1,
    )
    assert cells["Message"].startswith("Successfully assigned")


def test_job_and_cronjob(registry: ResourceRegistry) -> None:
    job = {
        "metadata": meta("pi"),
        "spec": {
            "completions": 1,
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
        },
        "status": {
            "succeeded": 1,
            "startTime": ago(minutes=4),
            "completionTime": ago(minutes=3, seconds=50),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    cells = row(registry, "batch/v1", "Job", job)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Complete", "1/1", "10s")
    running = {
        "metadata": meta("r"),
        "spec": {"parallelism": 3},
        "status": {"startTime": ago(seconds=40)},
    }
    cells = row(registry, "batch/v1", "Job", running)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == (
        "Running",
        "0/1 of 3",
        "40s",
    )
    cj = {
        "metadata": meta("backup"),
        "spec": {"schedule": "*/5 * * * *", "suspend": False},
        "status": {"lastScheduleTime": ago(minutes=1), "active": [{"name": "b-1"}]},
    }
    cells = row(registry, "batch/v1", "CronJob", cj)
    assert [cells[c] for c in ("Schedule", "Timezone", "Suspend", "Active", "Last Schedule")] == [
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "60s",
    ]


def test_config_and_rbac_kinds(registry: ResourceRegistry) -> None:
    assert (
        row(
            registry,
            "v1",
            "ConfigMap",
            {"metadata": meta("c"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}},
        )["Data"]
        == 2
    )
    secret = row(
        registry, "v1", "Secret", {"metadata": meta("s"), "type": "Opaque", "data": {"u": "YQ=="}}
    )
    assert (secret["Type"], secret["Data"]) == ("Opaque", 1)
    role = row(
        registry,
        "rbac.authorization.k8s.io/v1",
        "Role",
        {"metadata": meta("r", created="2026-02-28T10:00:00Z")},
    )
    assert role == {"Name": "r", "Created At": "2026-02-28T10:00:00Z"}
    binding = {
        "metadata": meta("rb"),
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"},
        ],
    }
    cells = row(registry, "rbac.authorization.k8s.io/v1", "RoleBinding", binding)
    assert (cells["Role"], cells["Users"], cells["Groups"], cells["ServiceAccounts"]) == (
        "ClusterRole/view",
        "alice",
        "devs",
        "ci/bot",
    )


def test_storage_scheduling_policy_kinds(registry: ResourceRegistry) -> None:
    sc = {
        "metadata": meta(
            "standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}
        ),
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    cells = row(registry, "storage.k8s.io/v1", "StorageClass", sc)
    assert cells["Name"] == "standard (default)"
    assert (cells["ReclaimPolicy"], cells["AllowVolumeExpansion"]) == ("Delete", False)
    pc = row(
        registry, "scheduling.k8s.io/v1", "PriorityClass", {"metadata": meta("high"), "value": 1000}
    )
    assert (pc["Value"], pc["Global-Default"], pc["PreemptionPolicy"]) == (
        1000,
        False,
        "PreemptLowerPriority",
    )
    pdb = row(
        registry,
        "policy/v1",
        "PodDisruptionBudget",
        {
            "metadata": meta("p"),
            "spec": {"maxUnavailable": "30%"},
            "status": {"disruptionsAllowed": 1},
        },
    )
    assert (pdb["Min Available"], pdb["Max Unavailable"], pdb["Allowed Disruptions"]) == (
        "N/A",
        "30%",
        1,
    )
    quota = row(
        registry,
        "v1",
        "ResourceQuota",
        {
            "metadata": meta("q"),
            "status": {
                "hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi"},
                "used": {"pods": "3"},
            },
        },
    )
    assert quota["Request"] == "pods: 3/10, requests.cpu: 0/2"
    assert quota["Limit"] == "limits.memory: 0/2Gi"
    lease = row(
        registry,
        "coordination.k8s.io/v1",
        "Lease",
        {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp_1"}},
    )
    assert lease["Holder"] == "cp_1"


def test_volumes_and_network_kinds(registry: ResourceRegistry) -> None:
    pv = {
        "metadata": meta("pv1"),
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "manual",
        },
        "status": {"phase": "Bound"},
    }
    cells = row(registry, "v1", "PersistentVolume", pv)
    assert [
        cells[c]
        for c in (
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status",
            "Claim",
            "StorageClass",
            "VolumeMode",
        )
    ] == [
        "1Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/data",
        "manual",
        "<unset>",
    ]
    pvc = {
        "metadata": meta("data"),
        "spec": {"volumeName": "pv1", "storageClassName": "manual"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
        },
    }
    cells = row(registry, "v1", "PersistentVolumeClaim", pvc)
    assert [cells[c] for c in ("Status", "Volume", "Capacity", "Access Modes")] == [
        "Bound",
        "pv1",
        "1Gi",
        "RWO",
    ]
    ing = {
        "metadata": meta("ing"),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.com"]}],
            "rules": [{"host": "a.com"}, {"host": "b.com"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}},
    }
    cells = row(registry, "networking.k8s.io/v1", "Ingress", ing)
    assert [cells[c] for c in ("Class", "Hosts", "Address", "Ports")] == [
        "nginx",
        "a.com,b.com",
        "172.18.0.5",
        "80, 443",
    ]
    netpol = row(
        registry,
        "networking.k8s.io/v1",
        "NetworkPolicy",
        {"metadata": meta("deny"), "spec": {"podSelector": {}}},
    )
    assert netpol["Pod-Selector"] == "<none>"
    slice_ = {
        "metadata": meta("kubernetes"),
        "addressType": "IPv4",
        "ports": [{"port": 6443}],
        "endpoints": [{"addresses": ["172.18.0.2"]}],
    }
    cells = row(registry, "discovery.k8s.io/v1", "EndpointSlice", slice_)
    assert [cells[c] for c in ("AddressType", "Ports", "Endpoints")] == [
        "IPv4",
        "6443",
        "172.18.0.2",
    ]


def test_kinds_without_a_printer_get_the_default_table(registry: ResourceRegistry) -> None:
    crd = rt(registry, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    table = printers.to_table(
        crd, [{"metadata": meta("a.b.c", created="2026-01-01T00:00:00Z")}], now=NOW
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["a.b.c", "2026-01-01T00:00:00Z"]


def test_custom_resource_columns() -> None:
    crontab = ResourceType(
        "stable.example.com", "v1", "CronTab", "crontabs", "crontab", True, custom=True
    )
    obj = {
        "metadata": meta("c1"),
        "spec": {"cronSpec": "* * * * *", "replicas": 2, "images": ["a", "b"]},
    }
    plain = printers.to_table(crontab, [obj], now=NOW)
    assert [c["name"] for c in plain["columnDefinitions"]] == ["Name", "Age"]
    assert plain["rows"][0]["cells"] == ["c1", "5m2s"]
    columns = [
        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "First", "type": "string", "jsonPath": ".spec.images[0]", "priority": 1},
        {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    table = printers.to_table(crontab, [obj], now=NOW, printer_columns=columns)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Spec",
        "Replicas",
        "First",
        "Missing",
        "Age",
    ]
    assert table["columnDefinitions"][3]["priority"] == 1
    assert table["rows"][0]["cells"] == ["c1", "* * * * *", 2, "a", None, "5m2s"]


def test_include_object_wide_and_headers(registry: ResourceRegistry) -> None:
    pod_rt = rt(registry, "v1", "Pod")
    pod = _pod({"phase": "Pending"})
    full = printers.to_table(pod_rt, [pod], now=NOW, include_object="Object")
    assert full["rows"][0]["object"] is pod
    none = printers.to_table(pod_rt, [pod], now=NOW, include_object="None")
    assert "object" not in none["rows"][0]
    narrow = printers.to_table(pod_rt, [pod], now=NOW, wide=False)
    assert len(narrow["columnDefinitions"]) == 5
    assert len(narrow["rows"][0]["cells"]) == 5
    bare = printers.to_table(
        pod_rt, [pod], now=NOW, headers=False, list_metadata={"resourceVersion": "42"}
    )
    assert bare["columnDefinitions"] == []
    assert bare["metadata"] == {"resourceVersion": "42"}
    with pytest.raises(ValueError):
        printers.to_table(pod_rt, [pod], now=NOW, include_object="Everything")


def test_every_builtin_kind_prints(registry: ResourceRegistry) -> None:
    # An object with nothing but a name must never break a printer.
    for resource in registry:
        table = printers.to_table(resource, [{"metadata": {"name": "n"}}], now=NOW)
        assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"]), resource.kind


def test_wants_table() -> None:
    assert printers.wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert printers.wants_table("application/json;as=Table;g=meta.k8s.io;v=v1")
    assert not printers.wants_table("application/json")
    assert not printers.wants_table(None)


def test_crd_printer_columns_by_version() -> None:
    columns = [{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}]
    crd = {
        "spec": {"versions": [{"name": "v1", "additionalPrinterColumns": columns}, {"name": "v2"}]}
    }
    assert printers.crd_printer_columns(crd, "v1") == columns
    assert printers.crd_printer_columns(crd, "v2") is None
    assert printers.crd_printer_columns(None, "v1") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "status",
                    "metadata",
                    "containers",
                    "ports",
                    "conditions",
                    "name",
                    "type",
                    "replicas",
                    "addresses",
                    "subsets",
                    "selector",
                    "creationTimestamp",
                    "labels",
                    "rules",
                    "hard",
                    "data",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(
    obj=st.dictionaries(
        st.sampled_from(
            [
                "metadata",
                "spec",
                "status",
                "data",
                "subsets",
                "involvedObject",
                "roleRef",
                "subjects",
            ]
        ),
        json_values,
        max_size=4,
    )
)
@settings(max_examples=150, deadline=None)
def test_printers_survive_malformed_objects(obj: dict[str, Any]) -> None:
    registry = builtin_registry()
    for resource in registry:
        table = printers.to_table(resource, [obj], now=NOW)
        assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"])
