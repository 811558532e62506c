"""Real kubectl against a fresh simulator cluster: discovery, explain, OpenAPI-driven
validation, protobuf creates and server-side printing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., Any]


def header(output: str) -> list[str]:
    """The column names of kubectl's table output."""
    return re.split(r"\s{2,}", output.splitlines()[0].strip())


def rows(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines()[1:] if line]


def test_version_and_api_versions(kubectl: Kubectl) -> None:
    version = kubectl("version", "-o", "json").json()
    assert version["serverVersion"]["major"] == "1"
    assert re.fullmatch(r"v1\.3\d\.\d+", version["serverVersion"]["gitVersion"])
    out = kubectl("version").stdout
    assert "Server Version: v1.3" in out
    assert "WARNING" not in out
    versions = kubectl("api-versions").stdout.split()
    for expected in (
        "v1",
        "apps/v1",
        "batch/v1",
        "rbac.authorization.k8s.io/v1",
        "networking.k8s.io/v1",
        "apiextensions.k8s.io/v1",
        "coordination.k8s.io/v1",
    ):
        assert expected in versions


def test_api_resources(kubectl: Kubectl) -> None:
    out = kubectl("api-resources").stdout
    assert header(out) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    table = {r[0]: r for r in rows(out)}
    assert table["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert table["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert table["nodes"] == ["nodes", "no", "v1", "false", "Node"]
    names = kubectl("api-resources", "--api-group=apps", "-o", "name").stdout.split()
    assert {"deployments.apps", "replicasets.apps", "statefulsets.apps"} <= set(names)
    wide = kubectl("api-resources", "--namespaced=false", "-o", "wide").stdout
    assert "VERBS" in header(wide)
    assert "pods" not in {r[0] for r in rows(wide)}
    node_row = next(r for r in rows(wide) if r[0] == "nodes")
    assert "create,delete,deletecollection,get,list,patch,update,watch" in node_row


def test_explain_pod_containers(kubectl: Kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers").stdout
    assert "KIND:       Pod" in out
    assert "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert re.search(r"^\s+image\s+<string>", out, re.M)
    assert re.search(r"^\s+name\s+<string> -required-", out, re.M)
    assert re.search(r"^\s+ports\s+<\[\]ContainerPort>", out, re.M)


def test_explain_nested_and_other_groups(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy.rollingUpdate.maxSurge").stdout
    assert "GROUP:      apps" in out
    assert "FIELD: maxSurge <IntOrString>" in out
    out = kubectl("explain", "svc.spec.ports").stdout
    assert re.search(r"^\s+targetPort\s+<IntOrString>", out, re.M)
    out = kubectl("explain", "cronjob.spec", "--recursive").stdout
    assert re.search(r"^\s+schedule\s+<string> -required-", out, re.M)
    assert re.search(r"^\s+jobTemplate\s+<JobTemplateSpec> -required-", out, re.M)
    failed = kubectl("explain", "pod.spec.nonsense", check=False)
    assert failed.returncode != 0
    assert 'field "nonsense" does not exist' in failed.stderr


def test_explain_custom_resource(kubectl: Kubectl) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "names": {
                "kind": "CronTab",
                "plural": "crontabs",
                "singular": "crontab",
                "shortNames": ["ct"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "description": "What the crontab runs.",
                                    "properties": {
                                        "cronSpec": {
                                            "type": "string",
                                            "description": "When to run.",
                                        },
                                        "replicas": {"type": "integer"},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(crd))
    out = kubectl("explain", "crontab.spec").stdout
    assert "GROUP:      stable.example.com" in out
    assert re.search(r"^\s+cronSpec\s+<string>", out, re.M)
    assert "When to run." in out


def test_apply_with_validation_uses_server_field_validation(kubectl: Kubectl) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"mode": "fast"},
    }
    # Validation on (the default): kubectl reads /openapi/v3 and, seeing fieldValidation
    # on the kind's PATCH, delegates validation to the server instead of failing.
    out = kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout
    assert "configmap/settings created" in out
    manifest["data"] = {"mode": "slow"}
    out = kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout
    assert "configmap/settings configured" in out
    got = kubectl("get", "configmap", "settings", "-o", "json").json()
    assert got["data"] == {"mode": "slow"}


PROTOBUF_CREATES = [
    ("namespace", ["create", "namespace", "team-a"]),
    (
        "configmap",
        ["create", "configmap", "cfg", "--from-literal=mode=fast", "--from-literal=level=3"],
    ),
    ("secret", ["create", "secret", "generic", "creds", "--from-literal=user=admin"]),
    ("service", ["create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30080"]),
    ("serviceaccount", ["create", "serviceaccount", "bot"]),
    ("role", ["create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps"]),
    (
        "rolebinding",
        ["create", "rolebinding", "reader-bot", "--role=reader", "--serviceaccount=default:bot"],
    ),
    (
        "clusterrole",
        ["create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz"],
    ),
    (
        "clusterrolebinding",
        ["create", "clusterrolebinding", "health-devs", "--clusterrole=health", "--group=devs"],
    ),
    (
        "deployment",
        ["create", "deployment", "api", "--image=nginx:1.27", "--replicas=2", "--port=80"],
    ),
    ("job", ["create", "job", "once", "--image=busybox", "--", "echo", "hi"]),
    (
        "cronjob",
        ["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
    ),
    ("quota", ["create", "quota", "compute", "--hard=pods=10,limits.memory=2Gi"]),
    (
        "priorityclass",
        ["create", "priorityclass", "high", "--value=1000", "--description=important"],
    ),
    (
        "poddisruptionbudget",
        ["create", "poddisruptionbudget", "api-pdb", "--selector=app=api", "--min-available=1"],
    ),
    (
        "ingress",
        ["create", "ingress", "web", "--class=nginx", "--rule=shop.example.com/api*=web:80"],
    ),
]


def test_protobuf_creates_store_the_decoded_objects(kubectl: Kubectl) -> None:
    for name, args in PROTOBUF_CREATES:
        result = kubectl(*args)
        assert "created" in result.stdout, (name, result.stdout)
    ns = kubectl("get", "namespace", "team-a", "-o", "json").json()
    assert ns["status"]["phase"] == "Active"
    cm = kubectl("get", "configmap", "cfg", "-o", "jsonpath={.data.mode}/{.data.level}").stdout
    assert cm == "fast/3"
    secret = kubectl("get", "secret", "creds", "-o", "jsonpath={.data.user}").stdout
    assert secret == "YWRtaW4="
    svc = kubectl("get", "service", "web", "-o", "json").json()
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 30080
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert svc["spec"]["selector"] == {"app": "web"}
    role = kubectl("get", "role", "reader", "-o", "json").json()
    assert role["rules"][1] == {
        "apiGroups": ["apps"],
        "resources": ["deployments"],
        "verbs": ["get", "list"],
    }
    rb = kubectl("get", "rolebinding", "reader-bot", "-o", "json").json()
    subject = rb["subjects"][0]
    assert (subject["kind"], subject["name"], subject["namespace"]) == (
        "ServiceAccount",
        "bot",
        "default",
    )
    cr = kubectl("get", "clusterrole", "health", "-o", "jsonpath={.rules[0].nonResourceURLs}")
    assert json.loads(cr.stdout) == ["/healthz"]
    deploy = kubectl("get", "deployment", "api", "-o", "json").json()
    assert deploy["spec"]["replicas"] == 2
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"][0]["containerPort"] == 80
    job = kubectl("get", "job", "once", "-o", "json").json()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    cj = kubectl("get", "cronjob", "tick", "-o", "jsonpath={.spec.schedule}").stdout
    assert cj == "*/5 * * * *"
    quota = kubectl("get", "quota", "compute", "-o", "json").json()
    assert quota["spec"]["hard"] == {"limits.memory": "2Gi", "pods": "10"}
    pc = kubectl("get", "priorityclass", "high", "-o", "json").json()
    assert (pc["value"], pc["description"]) == (1000, "important")
    pdb = kubectl("get", "pdb", "api-pdb", "-o", "json").json()
    assert pdb["spec"]["minAvailable"] == 1
    ing = kubectl("get", "ingress", "web", "-o", "json").json()
    path = ing["spec"]["rules"][0]["http"]["paths"][0]
    assert ing["spec"]["rules"][0]["host"] == "shop.example.com"
    assert (path["path"], path["pathType"]) == ("/api", "Prefix")
    assert path["backend"]["service"] == {"name": "web", "port": {"number": 80}}


def test_token_and_can_i_through_protobuf(kubectl: Kubectl) -> None:
    kubectl("create", "serviceaccount", "bot")
    token = kubectl("create", "token", "bot", "--duration=1h").stdout.strip()
    assert token.count(".") == 2
    assert kubectl("auth", "can-i", "get", "pods").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"
    # SelfSubjectReview and SelfSubjectRulesReview travel as protobuf too.
    whoami = kubectl("auth", "whoami").stdout
    assert re.search(r"^Username\s+kubernetes-admin$", whoami, re.M)
    rules = kubectl("auth", "can-i", "--list").stdout
    assert header(rules) == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]


def test_get_tables_have_upstream_columns(kubectl: Kubectl) -> None:
    nodes = kubectl("get", "nodes").stdout
    assert header(nodes) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    by_name = {r[0]: r for r in rows(nodes)}
    assert by_name["controlplane"][1:3] == ["Ready", "control-plane"]
    assert by_name["node01"][2] == "<none>"
    wide = kubectl("get", "nodes", "-o", "wide").stdout
    assert header(wide)[5:] == [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ]
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3")
    deploy = kubectl("get", "deployments").stdout
    assert header(deploy) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows(deploy)[0][0] == "web" and rows(deploy)[0][1].endswith("/3")
    wide = kubectl("get", "deployments", "-o", "wide").stdout
    assert header(wide)[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows(wide)[0][-3:] == ["nginx", "nginx:1.27", "app=web"]
    kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
    svc = kubectl("get", "services", "-o", "wide").stdout
    assert header(svc) == [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ]
    web = next(r for r in rows(svc) if r[0] == "web")
    assert web[1] == "ClusterIP" and web[4] == "80/TCP" and web[6] == "app=web"
    kubectl("run", "solo", "--image=busybox", "--restart=Never")
    pods = kubectl("get", "pods", "solo").stdout
    assert header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    wide = kubectl("get", "pods", "solo", "-o", "wide").stdout
    assert header(wide)[5:] == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]


def test_get_tables_for_config_and_policy_kinds(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2")
    kubectl("create", "secret", "generic", "creds", "--from-literal=user=admin")
    kubectl("create", "role", "reader", "--verb=get", "--resource=pods")
    kubectl("create", "rolebinding", "reader-alice", "--role=reader", "--user=alice")
    kubectl("create", "priorityclass", "high", "--value=1000")
    kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=0 * * * *")
    cm = kubectl("get", "configmap", "cfg").stdout
    assert header(cm) == ["NAME", "DATA", "AGE"] and rows(cm)[0][1] == "2"
    secret = kubectl("get", "secret", "creds").stdout
    assert header(secret) == ["NAME", "TYPE", "DATA", "AGE"]
    assert rows(secret)[0][1:3] == ["Opaque", "1"]
    role = kubectl("get", "role", "reader").stdout
    assert header(role) == ["NAME", "CREATED AT"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows(role)[0][1])
    rb = kubectl("get", "rolebinding", "reader-alice", "-o", "wide").stdout
    assert header(rb) == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert rows(rb)[0][1] == "Role/reader" and rows(rb)[0][3] == "alice"
    pc = kubectl("get", "priorityclass", "high").stdout
    assert header(pc) == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert rows(pc)[0][1:3] == ["1000", "false"]
    cj = kubectl("get", "cronjob", "tick").stdout
    assert header(cj) == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ]
    assert rows(cj)[0][1:6] == ["0 * * * *", "<none>", "False", "0", "<none>"]
    ns = kubectl("get", "namespaces").stdout
    assert header(ns) == ["NAME", "STATUS", "AGE"]
    assert next(r for r in rows(ns) if r[0] == "kube-system")[:2] == ["kube-system", "Active"]


def test_custom_columns_and_no_headers_use_the_table(kubectl: Kubectl) -> None:
    out = kubectl("get", "nodes", "--no-headers").stdout
    assert len(out.splitlines()) == 3
    assert "NAME" not in out
    out = kubectl("get", "nodes", "-o", "custom-columns=N:.metadata.name,K:.kind").stdout
    assert rows(out)[0] == ["controlplane", "Node"]


def test_job_from_cronjob_keeps_owner_reference(kubectl: Kubectl) -> None:
    kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=0 * * * *", "--", "date")
    cronjob_uid = kubectl("get", "cronjob", "tick", "-o", "jsonpath={.metadata.uid}").stdout
    kubectl("create", "job", "tick-manual", "--from=cronjob/tick")
    job = kubectl("get", "job", "tick-manual", "-o", "json").json()
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "CronJob",
        "tick",
        cronjob_uid,
        True,
    )
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]


def test_server_dry_run_create_through_protobuf(kubectl: Kubectl) -> None:
    out = kubectl(
        "create", "deployment", "preview", "--image=nginx", "--dry-run=server", "-o", "json"
    ).json()
    assert out["spec"]["strategy"]["type"] == "RollingUpdate"
    missing = kubectl("get", "deployment", "preview", check=False)
    assert missing.returncode != 0
    assert 'deployments.apps "preview" not found' in missing.stderr


STORAGE_AND_NETWORK = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "pv-data"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "manual",
                "hostPath": {"path": "/data"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "manual",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-web"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "my-lock"},
            "spec": {"holderIdentity": "worker-1", "leaseDurationSeconds": 15},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "defaults"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]},
        },
    ],
}


def test_get_tables_for_storage_network_and_coordination(kubectl: Kubectl) -> None:
    # One document per object: a `kind: List` makes kubectl validate client-side
    # against /openapi/v2 (protobuf), which the unit tests cover.
    stream = "\n---\n".join(json.dumps(item) for item in STORAGE_AND_NETWORK["items"])
    kubectl("apply", "-f", "-", input=stream)
    pv = kubectl("get", "pv", "pv-data", "-o", "wide").stdout
    assert header(pv) == [
        "NAME",
        "CAPACITY",
        "ACCESS MODES",
        "RECLAIM POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "REASON",
        "AGE",
        "VOLUMEMODE",
    ]
    assert rows(pv)[0][1:4] == ["1Gi", "RWO", "Retain"]
    pvc = kubectl("get", "pvc", "data").stdout
    assert header(pvc) == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    netpol = kubectl("get", "netpol", "deny-web").stdout
    assert header(netpol) == ["NAME", "POD-SELECTOR", "AGE"]
    assert rows(netpol)[0][1] == "app=web"
    lease = kubectl("get", "lease", "my-lock").stdout
    assert header(lease) == ["NAME", "HOLDER", "AGE"]
    assert rows(lease)[0][1] == "worker-1"
    limits = kubectl("get", "limits", "defaults").stdout
    assert header(limits) == ["NAME", "CREATED AT"]
    sc = kubectl("get", "storageclass").stdout
    assert header(sc) == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ]
    endpoints = kubectl("get", "endpoints", "kubernetes").stdout
    assert header(endpoints) == ["NAME", "ENDPOINTS", "AGE"]
    assert re.fullmatch(r"[\d.]+:6443", rows(endpoints)[0][1])
    node_leases = kubectl("get", "leases", "-n", "kube-node-lease").stdout
    assert {r[0] for r in rows(node_leases)} == {"controlplane", "node01", "node02"}
