"""API defaulting as upstream's scheme defaulters and REST strategies do it."""

from __future__ import annotations

from app.sim.apiserver.defaults import apply_defaults, job_selector
from app.sim.machinery.resources import builtin_registry
from app.sim.machinery.store import ObjectStore

REGISTRY = builtin_registry()


def rt(api_version: str, kind: str):
    found = REGISTRY.by_kind(api_version, kind)
    assert found is not None
    return found


def test_pod_defaults():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {"name": "a", "image": "nginx"},
                {"name": "b", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                {"name": "c", "image": "repo/app:latest", "resources": {"limits": {"cpu": "1"}}},
            ],
            "volumes": [{"name": "cfg", "configMap": {"name": "x"}}, {"name": "scratch"}],
        },
    }
    apply_defaults(pod, rt("v1", "Pod"))
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    pulls = [c["imagePullPolicy"] for c in spec["containers"]]
    assert pulls == ["Always", "IfNotPresent", "Always"]
    assert spec["containers"][1]["ports"][0]["protocol"] == "TCP"
    assert spec["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    assert spec["containers"][0]["terminationMessagePolicy"] == "File"
    # A limit without a request sets the request.
    assert spec["containers"][2]["resources"]["requests"] == {"cpu": "1"}
    assert spec["volumes"][0]["configMap"]["defaultMode"] == 420
    assert spec["volumes"][1] == {"name": "scratch", "emptyDir": {}}
    assert pod["status"] == {"phase": "Pending", "qosClass": "Burstable"}


def test_qos_classes():
    def qos(resources: dict) -> str:
        pod = {"spec": {"containers": [{"name": "a", "image": "x", "resources": resources}]}}
        return apply_defaults(pod, rt("v1", "Pod"))["status"]["qosClass"]

    assert qos({}) == "BestEffort"
    assert qos({"requests": {"cpu": "100m"}}) == "Burstable"
    assert qos({"limits": {"cpu": "1", "memory": "1Gi"}}) == "Guaranteed"


def test_deployment_defaults():
    deployment = {
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "a", "image": "nginx:1"}]}},
        }
    }
    apply_defaults(deployment, rt("apps/v1", "Deployment"))
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Always"


def test_recreate_strategy_gets_no_rolling_update():
    deployment = {"spec": {"strategy": {"type": "Recreate"}}}
    apply_defaults(deployment, rt("apps/v1", "Deployment"))
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_daemonset_statefulset_job_cronjob_defaults():
    ds = apply_defaults({"spec": {}}, rt("apps/v1", "DaemonSet"))
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    sts = apply_defaults({"spec": {}}, rt("apps/v1", "StatefulSet"))
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0},
    }
    job = apply_defaults({"metadata": {"name": "j"}, "spec": {}}, rt("batch/v1", "Job"))
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (1, 1)
    assert job["spec"]["backoffLimit"] == 6
    cron = apply_defaults({"spec": {"jobTemplate": {"spec": {}}}}, rt("batch/v1", "CronJob"))
    assert cron["spec"]["concurrencyPolicy"] == "Allow"
    assert cron["spec"]["successfulJobsHistoryLimit"] == 3
    assert cron["spec"]["failedJobsHistoryLimit"] == 1


def test_job_selector_from_uid():
    job = {
        "metadata": {"name": "pi", "uid": "1234"},
        "spec": {"template": {"spec": {"containers": []}}},
    }
    job_selector(job)
    assert job["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}
    }
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "pi"


def test_service_defaults_and_allocation():
    store = ObjectStore()
    service_rt = rt("v1", "Service")

    def service(name: str, **spec) -> dict:
        obj = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80}], **spec},
        }
        return apply_defaults(obj, service_rt, store=store)

    first = service("a")
    assert first["spec"]["type"] == "ClusterIP"
    assert first["spec"]["sessionAffinity"] == "None"
    assert first["spec"]["clusterIP"] == "10.96.0.1"
    assert first["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert first["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert first["spec"]["ipFamilies"] == ["IPv4"]
    store.create("", "services", first)
    second = service("b", type="NodePort")
    assert second["spec"]["clusterIP"] == "10.96.0.2"
    assert second["spec"]["ports"][0]["nodePort"] == 30000
    assert second["spec"]["externalTrafficPolicy"] == "Cluster"
    headless = service("c", clusterIP="None")
    assert headless["spec"]["clusterIP"] == "None"
    assert "ipFamilies" not in headless["spec"]


def test_namespace_secret_binding_limitrange_defaults():
    ns = apply_defaults({"metadata": {"name": "team"}}, rt("v1", "Namespace"))
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["status"]["phase"] == "Active"
    assert apply_defaults({}, rt("v1", "Secret"))["type"] == "Opaque"
    binding = apply_defaults(
        {"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "jane"}]},
        rt("rbac.authorization.k8s.io/v1", "RoleBinding"),
    )
    assert binding["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    limits = apply_defaults(
        {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}},
        rt("v1", "LimitRange"),
    )
    item = limits["spec"]["limits"][0]
    assert item["default"] == {"cpu": "1"}
    assert item["defaultRequest"] == {"cpu": "1"}


def test_malformed_input_is_left_for_validation():
    odd = {"spec": {"containers": "nope", "volumes": [3]}}
    assert apply_defaults(odd, rt("v1", "Pod"))["spec"]["containers"] == "nope"
    assert apply_defaults([], rt("v1", "Pod")) == []  # type: ignore[arg-type]


def test_secret_string_data_is_merged_into_data_and_not_kept():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"username": "b2xk", "password": "b2xk"},
        "stringData": {"password": "s3cret", "host": "db.local"},
    }
    apply_defaults(secret, rt("v1", "Secret"))
    # stringData wins over data for the same key; it is write-only.
    assert secret["data"] == {"username": "b2xk", "password": "czNjcmV0", "host": "ZGIubG9jYWw="}
    assert "stringData" not in secret
