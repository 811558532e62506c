"""Field validation with upstream paths and messages, type checks and unknown fields."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from app.sim.apiserver import validation as v
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import ResourceType, builtin_registry
from tests.builders import pod

REGISTRY = builtin_registry()


def rt(api_version: str, kind: str) -> ResourceType:
    found = REGISTRY.by_kind(api_version, kind)
    assert found is not None
    return found


POD = rt("v1", "Pod")
DEPLOYMENT = rt("apps/v1", "Deployment")


def messages(obj: dict, kind: ResourceType, old: dict | None = None) -> dict[str, str]:
    return {c.field: c.message for c in v.validate_object(obj, kind, old)}


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def test_valid_objects_have_no_causes():
    assert v.validate_object(pod(), POD) == []
    assert v.validate_object(deployment(), DEPLOYMENT) == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Bad_Name", "a lowercase RFC 1123 subdomain must consist of"),
        ("a" * 254, "must be no more than 253 characters"),
    ],
)
def test_names_are_dns_subdomains(name, fragment):
    obj = pod()
    obj["metadata"]["name"] = name
    found = messages(obj, POD)
    assert found["metadata.name"].startswith(f'Invalid value: "{name}": ')
    assert fragment in found["metadata.name"]


def test_namespace_and_service_name_rules():
    ns = {"metadata": {"name": "a.b"}}
    assert "RFC 1123 label" in messages(ns, rt("v1", "Namespace"))["metadata.name"]
    svc = {"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}}
    assert "DNS-1035 label" in messages(svc, rt("v1", "Service"))["metadata.name"]
    role = {"metadata": {"name": "system:reader"}, "rules": []}
    assert messages(role, rt("rbac.authorization.k8s.io/v1", "ClusterRole")) == {}


def test_missing_name_and_labels():
    obj = pod()
    obj["metadata"] = {"labels": {"bad key": "x", "ok": "bad value!"}}
    found = v.validate_object(obj, POD)
    fields = [(c.field, c.reason) for c in found]
    assert ("metadata.name", "FieldValueRequired") in fields
    label_messages = [c.message for c in found if c.field == "metadata.labels"]
    assert any("name part must consist of alphanumeric characters" in m for m in label_messages)
    assert any(
        m.startswith('Invalid value: "bad value!": a valid label must') for m in label_messages
    )


def test_pod_spec_rules():
    obj = pod(restartPolicy="Sometimes", dnsPolicy="Weird")
    obj["spec"]["containers"] = [
        {"name": "app"},
        {
            "name": "app",
            "image": "x",
            "ports": [{"containerPort": 70000}],
            "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1", "memory": "lots"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        },
    ]
    found = messages(obj, POD)
    assert found["spec.containers[0].image"] == "Required value"
    assert found["spec.containers[1].name"] == 'Duplicate value: "app"'
    assert found["spec.restartPolicy"] == (
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    )
    assert found["spec.containers[1].ports[0].containerPort"] == (
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    )
    assert found["spec.containers[1].resources.requests"] == (
        'Invalid value: "2": must be less than or equal to cpu limit of 1'
    )
    assert (
        "quantities must match the regular expression"
        in (found["spec.containers[1].resources.limits[memory]"])
    )
    assert found["spec.containers[1].volumeMounts[0].name"] == 'Not found: "data"'
    assert "spec.dnsPolicy" in found


def test_no_containers_is_required():
    obj = pod()
    obj["spec"]["containers"] = []
    assert messages(obj, POD)["spec.containers"] == "Required value"


def test_pod_updates_only_change_images():
    old = pod(tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert v.validate_object(new, POD, old) == []
    new["spec"]["restartPolicy"] = "Never"
    found = messages(new, POD, old)
    assert found["spec"].startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    )
    renamed = copy.deepcopy(old)
    renamed["metadata"]["name"] = "other"
    assert (
        messages(renamed, POD, old)["metadata.name"] == 'Invalid value: "other": field is immutable'
    )


def test_deployment_rules():
    obj = deployment()
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    obj["spec"]["replicas"] = -1
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    found = messages(obj, DEPLOYMENT)
    assert found["spec.template.metadata.labels"] == (
        'Invalid value: {"app": "other"}: `selector` does not match template `labels`'
    )
    assert found["spec.replicas"] == "Invalid value: -1: must be greater than or equal to 0"
    assert found["spec.template.spec.restartPolicy"] == (
        'Unsupported value: "Never": supported values: "Always"'
    )
    missing = deployment()
    del missing["spec"]["selector"]
    assert messages(missing, DEPLOYMENT)["spec.selector"] == "Required value"


def test_deployment_selector_is_immutable():
    old = deployment()
    new = deployment()
    new["spec"]["selector"]["matchLabels"]["tier"] = "fe"
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "fe"
    assert messages(new, DEPLOYMENT, old)["spec.selector"].endswith("field is immutable")


def test_job_and_cronjob_rules():
    job_rt = rt("batch/v1", "Job")
    job = {
        "metadata": {"name": "pi"},
        "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
    }
    assert messages(job, job_rt)["spec.template.spec.restartPolicy"].startswith("Required value")
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert messages(job, job_rt)["spec.template.spec.restartPolicy"] == (
        'Unsupported value: "Always": supported values: "OnFailure", "Never"'
    )
    cron_rt = rt("batch/v1", "CronJob")
    cron = {
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "every minute",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "a", "image": "b"}],
                        }
                    }
                }
            },
        },
    }
    assert "unparseable schedule" in messages(cron, cron_rt)["spec.schedule"]
    cron["spec"]["schedule"] = "*/5 * * * *"
    assert messages(cron, cron_rt) == {}
    cron["spec"]["schedule"] = "@hourly"
    assert messages(cron, cron_rt) == {}


def test_service_rules():
    svc_rt = rt("v1", "Service")
    svc = {
        "metadata": {"name": "web"},
        "spec": {"type": "Magic", "ports": [{"port": 80}, {"port": 80, "name": "b"}]},
    }
    found = messages(svc, svc_rt)
    assert found["spec.type"].startswith('Unsupported value: "Magic"')
    assert found["spec.ports[0].name"] == "Required value"
    assert found["spec.ports[1]"].startswith("Duplicate value")
    assert (
        messages({"metadata": {"name": "x"}, "spec": {}}, svc_rt)["spec.ports"] == "Required value"
    )
    old = {"metadata": {"name": "x"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 1}]}}
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.6"
    assert messages(new, svc_rt, old)["spec.clusterIPs[0]"].endswith("may not change once set")


def test_configmap_and_secret_rules():
    cm_rt = rt("v1", "ConfigMap")
    cm = {"metadata": {"name": "c"}, "data": {"bad key": "v"}}
    assert "a valid config key" in messages(cm, cm_rt)["data[bad key]"]
    secret_rt = rt("v1", "Secret")
    secret = {"metadata": {"name": "s"}, "data": {"pw": "not base64!"}}
    assert "illegal base64 data" in messages(secret, secret_rt)["data[pw]"]
    old = {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True}
    new = {"metadata": {"name": "c"}, "data": {"a": "2"}, "immutable": True}
    assert (
        messages(new, cm_rt, old)["data"] == "Forbidden: field is immutable when `immutable` is set"
    )


def test_rbac_rules():
    role_rt = rt("rbac.authorization.k8s.io/v1", "Role")
    role = {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    assert messages(role, role_rt)["rules[0].verbs"] == (
        "Required value: verbs must contain at least one value"
    )
    binding_rt = rt("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
    binding = {
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot"}, {"kind": "Robot", "name": "x"}],
    }
    found = messages(binding, binding_rt)
    assert found["roleRef.kind"] == 'Unsupported value: "Role": supported values: "ClusterRole"'
    assert found["subjects[0].namespace"] == "Required value"
    assert found["subjects[1].kind"].startswith('Unsupported value: "Robot"')
    old = copy.deepcopy(binding)
    binding["roleRef"]["name"] = "other"
    assert messages(binding, binding_rt, old)["roleRef"].endswith("cannot change roleRef")


def test_priority_class_limit_range_pvc_ingress():
    pc_rt = rt("scheduling.k8s.io/v1", "PriorityClass")
    found = messages({"metadata": {"name": "huge"}, "value": 2_000_000_000}, pc_rt)
    assert (
        found["value"]
        == "Forbidden: maximum allowed value of a user defined priority is 1000000000"
    )
    lr_rt = rt("v1", "LimitRange")
    lr = {
        "metadata": {"name": "l"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "2"}, "max": {"cpu": "1"}}]},
    }
    assert (
        "default value 2 is greater than max value 1"
        in messages(lr, lr_rt)["spec.limits[0].default[cpu]"]
    )
    pvc_rt = rt("v1", "PersistentVolumeClaim")
    found = messages({"metadata": {"name": "p"}, "spec": {}}, pvc_rt)
    assert found["spec.accessModes"] == "Required value: at least 1 access mode is required"
    assert found["spec.resources[storage]"] == "Required value"
    claim = {
        "metadata": {"name": "p"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    smaller = copy.deepcopy(claim)
    smaller["spec"]["resources"]["requests"]["storage"] = "500Mi"
    bound = {**claim, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}
    assert messages(smaller, pvc_rt, bound)["spec.resources.requests.storage"] == (
        "Forbidden: field can not be less than previous value"
    )
    # A claim that is not bound cannot change its request at all, neither shrink nor
    # grow (ValidatePersistentVolumeClaimUpdate compares the whole spec then).
    larger = copy.deepcopy(claim)
    larger["spec"]["resources"]["requests"]["storage"] = "2Gi"
    for changed in (smaller, larger):
        assert messages(changed, pvc_rt, {**claim, "status": {"phase": "Pending"}}) == {
            "spec": "Forbidden: spec is immutable after creation except resources.requests "
            "and volumeAttributesClassName for bound claims"
        }
    ing_rt = rt("networking.k8s.io/v1", "Ingress")
    ingress = {
        "metadata": {"name": "i"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "backend": {"service": {"name": "s", "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ]
        },
    }
    assert messages(ingress, ing_rt)["spec.rules[0].http.paths[0].pathType"] == (
        "Required value: pathType must be specified"
    )


def test_custom_resources_follow_their_schema():
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                },
            }
        },
    }
    widget = ResourceType(
        "example.com", "v1", "Widget", "widgets", "widget", True, custom=True, schema=schema
    )
    ok = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 2},
    }
    assert v.validate_object(ok, widget) == []
    bad = copy.deepcopy(ok)
    bad["spec"] = {"size": "big", "color": "green"}
    found = messages(bad, widget)
    assert (
        found["spec.size"]
        == 'Invalid value: "string": spec.size in body must be of type integer: "string"'
    )
    assert found["spec.color"].startswith('Unsupported value: "green"')
    assert messages({**ok, "spec": {}}, widget)["spec.size"] == "Required value"
    assert (
        "should be greater than or equal to 1"
        in messages({**ok, "spec": {"size": 0}}, widget)["spec.size"]
    )


def test_check_types_reports_like_the_go_decoder_and_drops_nulls():
    obj = deployment()
    obj["spec"]["replicas"] = "three"
    with pytest.raises(ApiError) as err:
        v.check_types(obj, DEPLOYMENT)
    assert err.value.code == 400
    assert err.value.message.startswith(
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int"
    )
    obj = deployment()
    obj["spec"]["paused"] = None
    obj["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}}
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": 1}}
    v.check_types(obj, DEPLOYMENT)
    assert "paused" not in obj["spec"]
    obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = [1]
    with pytest.raises(ApiError):
        v.check_types(obj, DEPLOYMENT)


def test_unknown_fields_strict_warn_ignore():
    obj = deployment()
    obj["spec"]["replcas"] = 2
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    with pytest.raises(ApiError) as err:
        v.check_unknown_fields(copy.deepcopy(obj), DEPLOYMENT, "Strict")
    assert err.value.code == 400
    assert err.value.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].imagee", unknown field "spec.replcas"'
    )
    warned = copy.deepcopy(obj)
    warnings = v.check_unknown_fields(warned, DEPLOYMENT, "Warn")
    assert warnings == [
        'unknown field "spec.template.spec.containers[0].imagee"',
        'unknown field "spec.replcas"',
    ]
    assert "replcas" not in warned["spec"]
    assert v.check_unknown_fields(copy.deepcopy(obj), DEPLOYMENT, "Ignore") == []
    with pytest.raises(ApiError):
        v.check_unknown_fields(obj, DEPLOYMENT, "Loose")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("2", Decimal(2)),
        ("1e3", Decimal(1000)),
        ("128Mi", Decimal(128 * 2**20)),
        (1.5, Decimal("1.5")),
    ],
)
def test_quantities(text, value):
    assert v.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1 Gi", "abc", "1Qi", True, None, "Mi", "."])
def test_bad_quantities(text):
    with pytest.raises(ValueError):
        v.parse_quantity(text)


def test_format_quantity():
    assert v.format_quantity(Decimal("0.25")) == "250m"
    assert v.format_quantity(Decimal(2)) == "2"
    assert v.format_quantity(Decimal(2**30), binary=True) == "1Gi"


def test_validate_or_raise_builds_the_invalid_status():
    obj = pod()
    obj["spec"]["containers"][0]["image"] = ""
    with pytest.raises(ApiError) as err:
        v.validate_or_raise(obj, POD)
    status = err.value.status()
    assert status["code"] == 422
    assert status["message"] == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    assert status["details"]["causes"][0]["field"] == "spec.containers[0].image"


def test_absurd_nesting_is_a_decoding_error():
    obj = deployment()
    node = obj["metadata"]
    for _ in range(150):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ApiError) as err:
        v.check_types(obj, DEPLOYMENT)
    assert err.value.code == 400
    assert "nests deeper than 100 levels" in err.value.message


def test_storage_class_fields_and_claim_class_updates():
    sc_rt = rt("storage.k8s.io/v1", "StorageClass")
    sc = {
        "metadata": {"name": "fast"},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert messages(sc, sc_rt) == {}
    bad = {**sc, "provisioner": "", "reclaimPolicy": "Recycle"}
    found = messages(bad, sc_rt)
    assert found["provisioner"] == "Required value"
    assert found["reclaimPolicy"] == (
        'Unsupported value: "Recycle": supported values: "Delete", "Retain"'
    )
    changed = {**sc, "volumeBindingMode": "Immediate", "reclaimPolicy": "Retain"}
    found = messages(changed, sc_rt, sc)
    assert found["volumeBindingMode"] == 'Invalid value: "Immediate": field is immutable'
    assert found["reclaimPolicy"] == "Forbidden: updates to reclaimPolicy are forbidden."
    assert messages({**sc, "allowVolumeExpansion": True}, sc_rt, sc) == {}
    # A claim created without a class may get one; a class, once set, stays.
    pvc_rt = rt("v1", "PersistentVolumeClaim")
    claim = {
        "metadata": {"name": "p"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    classed = copy.deepcopy(claim)
    classed["spec"]["storageClassName"] = "fast"
    assert messages(classed, pvc_rt, claim) == {}
    other = copy.deepcopy(classed)
    other["spec"]["storageClassName"] = "slow"
    assert "spec" in messages(other, pvc_rt, classed)
