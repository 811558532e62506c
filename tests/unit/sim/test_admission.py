"""Admission plugins against a real bootstrapped cluster store."""

from __future__ import annotations

import copy

import pytest

from app.sim.apiserver import admission
from app.sim.apiserver.authn import UserInfo
from app.sim.apiserver.pipeline import ApiRequest, RequestContext
from app.sim.bootstrap import bootstrap
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import builtin_registry
from tests.builders import pod

REGISTRY = builtin_registry()
ADMIN = UserInfo("kubernetes-admin", ("system:masters",))


@pytest.fixture
def cluster() -> Cluster:
    cluster = Cluster("adm")
    bootstrap(cluster, nodes=1)
    return cluster


def ctx(
    cluster,
    kind="Pod",
    api_version="v1",
    operation="CREATE",
    namespace="default",
    name="web",
    sub=None,
):
    rt = REGISTRY.by_kind(api_version, kind)
    request = ApiRequest(
        "POST", rt.group, rt.version, rt.plural, namespace if rt.namespaced else None, name, sub
    )
    return RequestContext(cluster, request, rt, ADMIN, operation)


def admit(cluster, obj, **kw) -> dict:
    context = ctx(cluster, **kw)
    obj = admission.mutate(context, obj, None)
    admission.validate(context, obj, None)
    return obj


def create(cluster, group, plural, obj):
    cluster.store.create(group, plural, obj)


def test_plugins_run_in_upstream_order():
    assert [p.name for p in admission.MUTATING] == [
        "LimitRanger",
        "ServiceAccount",
        "Priority",
        "DefaultTolerationSeconds",
        "DefaultStorageClass",
        "StorageObjectInUseProtection",
        "DefaultIngressClass",
        "ResourceQuota",
    ]
    assert [p.name for p in admission.VALIDATING] == [
        "NamespaceLifecycle",
        "LimitRanger",
        "ServiceAccount",
        "PersistentVolumeClaimResize",
        "PodSecurity",
        "ResourceQuota",
    ]


def test_a_new_quota_shows_its_usage(cluster):
    create(cluster, "", "configmaps", {"metadata": {"name": "one", "namespace": "default"}})
    quota = {
        "metadata": {"name": "counts", "namespace": "default"},
        "spec": {"hard": {"configmaps": "5", "pods": "10"}},
    }
    context = ctx(cluster, kind="ResourceQuota", name="counts")
    admitted = admission.mutate(context, quota, None)
    # kube-root-ca.crt (bootstrap) and "one"
    assert admitted["status"] == {
        "hard": {"configmaps": "5", "pods": "10"},
        "used": {"configmaps": "2", "pods": "0"},
    }


def test_service_account_token_volume_and_default_account(cluster):
    admitted = admit(cluster, pod(initContainers=[{"name": "init", "image": "busybox"}]))
    spec = admitted["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    volume = spec["volumes"][-1]
    assert volume["name"].startswith("kube-api-access-")
    sources = volume["projected"]["sources"]
    assert sources[0]["serviceAccountToken"] == {"expirationSeconds": 3607, "path": "token"}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    for container in spec["containers"] + spec["initContainers"]:
        assert container["volumeMounts"][-1] == {
            "name": volume["name"],
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "readOnly": True,
        }


def test_automount_false_and_mirror_pods_get_no_token(cluster):
    assert "volumes" not in admit(cluster, pod(automountServiceAccountToken=False))["spec"]
    mirror = pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    assert "serviceAccountName" not in admit(cluster, mirror)["spec"]


def test_missing_named_service_account_is_forbidden(cluster):
    with pytest.raises(ApiError) as err:
        admit(cluster, pod(serviceAccountName="ghost"))
    assert err.value.code == 403
    assert err.value.message == (
        'pods "web" is forbidden: error looking up service account default/ghost: '
        'serviceaccount "ghost" not found'
    )
    create(
        cluster,
        "",
        "serviceaccounts",
        {
            "metadata": {"name": "ghost", "namespace": "default"},
            "automountServiceAccountToken": False,
        },
    )
    admitted = admit(cluster, pod(serviceAccountName="ghost"))
    assert "volumes" not in admitted["spec"]


def test_default_toleration_seconds(cluster):
    tolerations = admit(cluster, pod())["spec"]["tolerations"]
    assert tolerations == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    tolerant = pod(tolerations=[{"operator": "Exists"}])
    assert admit(cluster, tolerant)["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_priority_resolution(cluster):
    assert admit(cluster, pod())["spec"]["priority"] == 0
    critical = admit(cluster, pod(priorityClassName="system-node-critical"))["spec"]
    assert critical["priority"] == 2000001000
    create(
        cluster,
        "scheduling.k8s.io",
        "priorityclasses",
        {
            "metadata": {"name": "high"},
            "value": 1000,
            "globalDefault": True,
            "preemptionPolicy": "Never",
        },
    )
    defaulted = admit(cluster, pod())["spec"]
    assert (defaulted["priorityClassName"], defaulted["priority"]) == ("high", 1000)
    assert defaulted["preemptionPolicy"] == "Never"
    with pytest.raises(ApiError) as err:
        admit(cluster, pod(priorityClassName="missing"))
    assert (
        err.value.message == 'pods "web" is forbidden: no PriorityClass with name missing was found'
    )


def test_limit_ranger_defaults_and_bounds(cluster):
    create(
        cluster,
        "",
        "limitranges",
        {
            "metadata": {"name": "lr", "namespace": "default"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m"},
                        "defaultRequest": {"cpu": "100m", "memory": "64Mi"},
                        "max": {"cpu": "1"},
                        "min": {"memory": "32Mi"},
                    }
                ]
            },
        },
    )
    admitted = admit(cluster, pod())
    resources = admitted["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m"}}
    assert admitted["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu limit for container app"
    )
    greedy = pod()
    greedy["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": "2"},
        "requests": {"memory": "1Mi"},
    }
    with pytest.raises(ApiError) as err:
        admit(cluster, greedy)
    assert err.value.message == (
        'pods "web" is forbidden: [minimum memory usage per Container is 32Mi, but request is 1Mi, '
        "maximum cpu usage per Container is 1, but limit is 2]"
    )


def test_resource_quota_counts_and_compute(cluster):
    create(
        cluster,
        "",
        "resourcequotas",
        {
            "metadata": {"name": "compute", "namespace": "default"},
            "spec": {"hard": {"pods": "1", "requests.cpu": "1", "count/configmaps": "100"}},
        },
    )
    first = pod()
    first["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "600m"}}
    with pytest.raises(ApiError) as err:
        admit(cluster, pod("nocpu"))
    assert (
        err.value.message
        == ('pods "web" is forbidden: failed quota: compute: must specify requests.cpu for: app')
        or "must specify requests.cpu for: app" in err.value.message
    )
    admitted = admit(cluster, first)
    create(cluster, "", "pods", admitted)
    second = copy.deepcopy(first)
    second["metadata"]["name"] = "two"
    with pytest.raises(ApiError) as err:
        admit(cluster, second, name="two")
    assert err.value.message == (
        'pods "two" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=600m, '
        "used: pods=1,requests.cpu=600m, limited: pods=1,requests.cpu=1"
    )
    used = admission.render_usage(
        admission.quota_usage(
            cluster.store, cluster.store.get("", "resourcequotas", "default", "compute")
        )
    )
    assert used == {"pods": "1", "requests.cpu": "600m", "count/configmaps": "1"}
    admission.refresh_quota_status(cluster.store, "default")
    status = cluster.store.get("", "resourcequotas", "default", "compute")["status"]
    assert status["used"]["pods"] == "1"


def test_namespace_lifecycle(cluster):
    with pytest.raises(ApiError) as err:
        admit(cluster, pod(), namespace="nowhere")
    assert err.value.code == 404
    assert err.value.message == 'namespaces "nowhere" not found'
    context = ctx(cluster, kind="Namespace", operation="DELETE", name="kube-system")
    with pytest.raises(ApiError) as err:
        admission.validate(context, None, cluster.store.get("", "namespaces", None, "kube-system"))
    assert (
        err.value.message
        == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    )


def _label_namespace(cluster, name, **labels):
    create(
        cluster,
        "",
        "namespaces",
        {
            "metadata": {
                "name": name,
                "labels": {f"pod-security.kubernetes.io/{k}": v for k, v in labels.items()},
            }
        },
    )


def test_pod_security_enforce_restricted(cluster):
    _label_namespace(cluster, "secure", enforce="restricted")
    with pytest.raises(ApiError) as err:
        admit(cluster, pod(), namespace="secure")
    assert err.value.message == (
        'pods "web" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != '
        'true (pod or container "app" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type '
        'to "RuntimeDefault" or "Localhost")'
    )
    hardened = pod(
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    )
    hardened["spec"]["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    admit(cluster, hardened, namespace="secure")


def test_pod_security_baseline_and_warnings(cluster):
    _label_namespace(cluster, "base", enforce="baseline", warn="restricted")
    privileged = pod(hostNetwork=True)
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    with pytest.raises(ApiError) as err:
        admit(cluster, privileged, namespace="base")
    assert (
        'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged'
        in (err.value.message)
    )
    context = ctx(cluster, namespace="base")
    admission.validate(context, admission.mutate(context, pod(), None), None)
    assert context.warnings[0].startswith('would violate PodSecurity "restricted:latest": ')

    deploy_ctx = ctx(cluster, kind="Deployment", api_version="apps/v1", namespace="base")
    deployment = {"metadata": {"name": "d"}, "spec": {"template": {"spec": privileged["spec"]}}}
    admission.validate(deploy_ctx, deployment, None)  # workloads are warned, never refused
    assert 'would violate PodSecurity "baseline:latest"' in deploy_ctx.warnings[0]


def test_bad_pod_security_label_is_invalid(cluster):
    context = ctx(cluster, kind="Namespace", namespace=None, name="x")
    with pytest.raises(ApiError) as err:
        admission.validate(
            context,
            {"metadata": {"name": "x", "labels": {"pod-security.kubernetes.io/enforce": "strict"}}},
            None,
        )
    assert err.value.code == 422


def test_status_writes_and_other_kinds_pass_untouched(cluster):
    status_ctx = ctx(cluster, operation="UPDATE", sub="status")
    obj = pod()
    assert admission.mutate(status_ctx, copy.deepcopy(obj), obj) == obj
    cm_ctx = ctx(cluster, kind="ConfigMap")
    config_map = {"metadata": {"name": "c", "namespace": "default"}, "data": {}}
    assert admission.mutate(cm_ctx, copy.deepcopy(config_map), None) == config_map


def claim(size: str, storage_class: str | None = None) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": "data", "namespace": "default"}, "spec": spec}


def test_default_storage_class_and_resize(cluster):
    context = ctx(cluster, kind="PersistentVolumeClaim", name="data")
    defaults = [
        c["metadata"]["name"]
        for c in cluster.store.list("storage.k8s.io", "storageclasses")[0]
        if (c["metadata"].get("annotations") or {}).get(admission.DEFAULT_CLASS_ANNOTATION)
        == "true"
    ]
    admitted = admission.mutate(context, claim("1Gi"), None)
    assert admitted["spec"].get("storageClassName") == (defaults[0] if defaults else None)
    explicit = admission.mutate(context, claim("1Gi", ""), None)
    assert explicit["spec"]["storageClassName"] == ""

    create(
        cluster,
        "storage.k8s.io",
        "storageclasses",
        {"metadata": {"name": "fixed"}, "provisioner": "x", "allowVolumeExpansion": False},
    )
    create(
        cluster,
        "storage.k8s.io",
        "storageclasses",
        {"metadata": {"name": "elastic"}, "provisioner": "x", "allowVolumeExpansion": True},
    )
    update = ctx(cluster, kind="PersistentVolumeClaim", operation="UPDATE", name="data")

    def bound(size: str, storage_class: str) -> dict:
        return {**claim(size, storage_class), "status": {"phase": "Bound"}}

    admission.validate(update, claim("2Gi", "elastic"), bound("1Gi", "elastic"))
    # A claim that is not bound is left to validation (spec is immutable ...), which
    # upstream runs first.
    admission.validate(update, claim("2Gi", "fixed"), claim("1Gi", "fixed"))
    with pytest.raises(ApiError) as err:
        admission.validate(update, claim("2Gi", "fixed"), bound("1Gi", "fixed"))
    assert err.value.message == (
        'persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be '
        "resized and the storageclass that provisions the pvc must support resize"
    )


def test_limit_ranges_for_pods_and_claims(cluster):
    create(
        cluster,
        "",
        "limitranges",
        {
            "metadata": {"name": "caps", "namespace": "default"},
            "spec": {
                "limits": [
                    {"type": "Pod", "max": {"cpu": "1"}},
                    {
                        "type": "PersistentVolumeClaim",
                        "min": {"storage": "1Gi"},
                        "max": {"storage": "5Gi"},
                    },
                ]
            },
        },
    )
    two = pod()
    two["spec"]["containers"] = [
        {"name": "a", "image": "x", "resources": {"limits": {"cpu": "600m"}}},
        {"name": "b", "image": "x", "resources": {"limits": {"cpu": "600m"}}},
    ]
    with pytest.raises(ApiError) as err:
        admit(cluster, two)
    assert err.value.message == (
        'pods "web" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m'
    )
    claim_ctx = ctx(cluster, kind="PersistentVolumeClaim", name="data")
    admission.validate(claim_ctx, claim("2Gi", ""), None)
    with pytest.raises(ApiError) as err:
        admission.validate(claim_ctx, claim("10Gi", ""), None)
    assert err.value.message == (
        'persistentvolumeclaims "data" is forbidden: maximum storage usage per '
        "PersistentVolumeClaim is 5Gi, but limit is 10Gi"
    )
    with pytest.raises(ApiError) as err:
        admission.validate(claim_ctx, claim("500Mi", ""), None)
    assert "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi" in (
        err.value.message
    )
