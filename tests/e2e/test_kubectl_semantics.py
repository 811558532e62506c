"""Real kubectl against a simulator cluster: patches, client- and server-side apply with
field ownership and conflicts, edit, label/annotate/scale, RBAC with `auth can-i`,
strict field validation, admission plugins and defaulting."""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

import pytest

from tests.fixtures.seed_examples import PAYMENT_API

pytestmark = pytest.mark.kubectl

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: nginx
          image: {image}
          ports:
            - containerPort: 80
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _deployment(kubectl, name: str = "web") -> dict:
    return kubectl("get", "deployment", name, "-o", "json").json()


def test_client_side_apply_creates_then_changes(kubectl, tmp_path):
    manifest = _write(tmp_path, "web.yaml", DEPLOYMENT.format(replicas=2, image="nginx:1.25"))
    created = kubectl("apply", "-f", manifest)
    assert "deployment.apps/web created" in created.stdout
    unchanged = kubectl("apply", "-f", manifest)
    assert "deployment.apps/web unchanged" in unchanged.stdout

    _write(tmp_path, "web.yaml", DEPLOYMENT.format(replicas=4, image="nginx:1.27"))
    configured = kubectl("apply", "-f", manifest)
    assert "deployment.apps/web configured" in configured.stdout
    live = _deployment(kubectl)
    assert live["spec"]["replicas"] == 4
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    last_applied = json.loads(
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last_applied["spec"]["replicas"] == 4
    # Defaults the API server filled in, as upstream.
    assert live["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert live["spec"]["revisionHistoryLimit"] == 10
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"][0]["protocol"] == "TCP"

    diff = kubectl("diff", "-f", manifest, check=False)
    assert diff.returncode == 0, diff.stderr


def test_seed_payment_api_manifest_applies(kubectl, tmp_path):
    manifest = _write(tmp_path, "payment-api.yaml", PAYMENT_API)
    result = kubectl("apply", "-f", manifest)
    assert "deployment.apps/payment-api created" in result.stdout
    spec = _deployment(kubectl, "payment-api")["spec"]
    assert spec["replicas"] == 6
    assert spec["template"]["spec"]["tolerations"][0]["value"] == "payments"


def test_server_side_apply_conflict_and_force(kubectl, tmp_path):
    manifest = _write(tmp_path, "web.yaml", DEPLOYMENT.format(replicas=3, image="nginx:1.25"))
    first = kubectl("apply", "--server-side", "--field-manager=platform-team", "-f", manifest)
    assert "deployment.apps/web serverside-applied" in first.stdout

    live = kubectl("get", "deployment", "web", "-o", "json", "--show-managed-fields").json()
    managers = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]}
    assert ("platform-team", "Apply") in managers
    owned = next(m for m in live["metadata"]["managedFields"] if m["manager"] == "platform-team")
    assert "f:replicas" in owned["fieldsV1"]["f:spec"]

    _write(tmp_path, "web.yaml", DEPLOYMENT.format(replicas=5, image="nginx:1.25"))
    clash = kubectl(
        "apply", "--server-side", "--field-manager=ci-pipeline", "-f", manifest, check=False
    )
    assert clash.returncode != 0
    assert "Apply failed with 1 conflict" in clash.stderr
    assert 'conflict with "platform-team": .spec.replicas' in clash.stderr
    assert _deployment(kubectl)["spec"]["replicas"] == 3

    forced = kubectl(
        "apply",
        "--server-side",
        "--field-manager=ci-pipeline",
        "--force-conflicts",
        "-f",
        manifest,
    )
    assert "serverside-applied" in forced.stdout
    live = kubectl("get", "deployment", "web", "-o", "json", "--show-managed-fields").json()
    assert live["spec"]["replicas"] == 5
    by_manager = {m["manager"]: m for m in live["metadata"]["managedFields"]}
    assert "f:replicas" in by_manager["ci-pipeline"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in by_manager["platform-team"]["fieldsV1"]["f:spec"]


def test_server_side_apply_conflicts_with_an_imperative_scale(kubectl, tmp_path):
    manifest = _write(tmp_path, "web.yaml", DEPLOYMENT.format(replicas=2, image="nginx:1.25"))
    kubectl("apply", "--server-side", "-f", manifest)
    kubectl("scale", "deployment/web", "--replicas=7")
    clash = kubectl("apply", "--server-side", "-f", manifest, check=False)
    assert clash.returncode != 0
    # kubectl scale writes through the scale subresource, and the message says so.
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    ) in clash.stderr


def test_patch_types(kubectl, tmp_path):
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=1")
    merged = kubectl(
        "patch", "deployment", "web", "--type=merge", "-p", '{"metadata":{"labels":{"tier":"fe"}}}'
    )
    assert "deployment.apps/web patched" in merged.stdout
    assert _deployment(kubectl)["metadata"]["labels"]["tier"] == "fe"

    # Strategic: containers merge by name, so the image changes and nothing is dropped.
    kubectl(
        "patch",
        "deployment",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}',
    )
    names = [c["name"] for c in _deployment(kubectl)["spec"]["template"]["spec"]["containers"]]
    assert names == ["nginx", "sidecar"]

    kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}]',
    )
    containers = _deployment(kubectl)["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:1.27"

    # Strategic delete directive removes the sidecar again.
    kubectl(
        "patch",
        "deployment",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}',
    )
    names = [c["name"] for c in _deployment(kubectl)["spec"]["template"]["spec"]["containers"]]
    assert names == ["nginx"]

    bad = kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/nothing/here"}]',
        check=False,
    )
    assert bad.returncode != 0
    assert (
        "The request is invalid: the server rejected our request due to an error in our request"
        in bad.stderr
    )


def test_edit_with_an_editor_script(kubectl, tmp_path):
    kubectl("create", "configmap", "settings", "--from-literal=mode=slow")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/mode: slow/mode: fast/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    result = kubectl("edit", "configmap", "settings", env={"KUBE_EDITOR": str(editor)})
    assert "configmap/settings edited" in result.stdout
    live = kubectl("get", "configmap", "settings", "-o", "json").json()
    assert live["data"] == {"mode": "fast"}
    managers = {
        m["manager"]
        for m in kubectl(
            "get", "configmap", "settings", "-o", "json", "--show-managed-fields"
        ).json()["metadata"]["managedFields"]
    }
    assert "kubectl-edit" in managers


def test_label_annotate_scale(kubectl):
    kubectl("create", "deployment", "web", "--image=nginx:1.25")
    assert "labeled" in kubectl("label", "deployment", "web", "tier=frontend").stdout
    assert "annotated" in kubectl("annotate", "deployment", "web", "owner=team-a").stdout
    assert "scaled" in kubectl("scale", "deployment", "web", "--replicas=3").stdout
    live = _deployment(kubectl)
    assert live["metadata"]["labels"]["tier"] == "frontend"
    assert live["metadata"]["annotations"]["owner"] == "team-a"
    assert live["spec"]["replicas"] == 3
    selected = kubectl("get", "deployments", "-l", "tier=frontend", "-o", "name")
    assert selected.stdout.strip() == "deployment.apps/web"
    removed = kubectl("label", "deployment", "web", "tier-")
    assert "unlabeled" in removed.stdout
    assert "tier" not in _deployment(kubectl)["metadata"]["labels"]
    refused = kubectl("label", "deployment", "web", "bad key=x", check=False)
    assert refused.returncode != 0


def test_auth_can_i_admin_and_restricted_user(kubectl, sim_cluster, tmp_path):
    assert kubectl("auth", "can-i", "create", "deployments").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "*", "*", "--all-namespaces").stdout.strip() == "yes"

    role = textwrap.dedent(
        """\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: pod-reader
          namespace: default
        rules:
          - apiGroups: [""]
            resources: ["pods", "pods/log"]
            verbs: ["get", "list", "watch"]
        """
    )
    kubectl("apply", "-f", _write(tmp_path, "role.yaml", role))
    kubectl("create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane")
    jane = sim_cluster.user_kubeconfig("jane")

    def can(*args: str, **kwargs) -> str:
        result = kubectl("auth", "can-i", *args, kubeconfig=jane, check=False, **kwargs)
        return result.stdout.strip()

    assert can("list", "pods") == "yes"
    assert can("get", "pods", "--subresource=log") == "yes"
    assert can("delete", "pods") == "no"
    assert can("list", "pods", "-n", "kube-system") == "no"
    assert can("list", "secrets") == "no"
    # Impersonation from the admin gives the same answers.
    assert kubectl("auth", "can-i", "list", "pods", "--as=jane").stdout.strip() == "yes"
    denied = kubectl("auth", "can-i", "delete", "pods", "--as=jane", check=False)
    assert denied.stdout.strip() == "no"

    forbidden = kubectl("get", "secrets", kubeconfig=jane, check=False)
    assert forbidden.returncode != 0
    assert (
        'secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" '
        'in the namespace "default"'
    ) in forbidden.stderr
    listed = kubectl("get", "pods", kubeconfig=jane)
    assert listed.returncode == 0

    whoami = kubectl("auth", "whoami", "-o", "json", kubeconfig=jane).json()
    assert whoami["status"]["userInfo"]["username"] == "jane"
    assert "system:authenticated" in whoami["status"]["userInfo"]["groups"]

    rules = kubectl("auth", "can-i", "--list", kubeconfig=jane).stdout
    assert "pods/log" in rules
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rules


def test_cluster_role_aggregation_and_service_account_tokens(kubectl):
    kubectl("create", "serviceaccount", "robot")
    kubectl(
        "create",
        "rolebinding",
        "robot-view",
        "--clusterrole=view",
        "--serviceaccount=default:robot",
    )
    sa = "--as=system:serviceaccount:default:robot"
    assert kubectl("auth", "can-i", "list", "deployments", sa).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "get", "secrets", sa, check=False).stdout.strip() == "no"
    token = kubectl("create", "token", "robot").stdout.strip()
    assert token.count(".") == 2
    review = kubectl(
        "create",
        "--raw",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            }
        ),
    ).json()
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:default:robot"
    # The token itself works as a credential, with the robot's permissions.
    who = kubectl("auth", "whoami", "-o", "json", f"--token={token}").json()
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:robot"
    assert kubectl("get", "deployments", f"--token={token}").returncode == 0
    secrets = kubectl("get", "secrets", f"--token={token}", check=False)
    assert 'User "system:serviceaccount:default:robot" cannot list resource "secrets"' in (
        secrets.stderr
    )
    forged = kubectl("get", "pods", "--token=" + token[:-4] + "AAAA", check=False)
    assert forged.returncode != 0
    assert "Unauthorized" in forged.stderr


def test_strict_validation_rejects_unknown_fields(kubectl, tmp_path):
    manifest = DEPLOYMENT.format(replicas=1, image="nginx:1.25").replace(
        "  replicas: 1\n", "  replicas: 1\n  replcas: 2\n"
    )
    path = _write(tmp_path, "typo.yaml", manifest)
    strict = kubectl("apply", "--validate=strict", "-f", path, check=False)
    assert strict.returncode != 0
    assert 'unknown field "spec.replcas"' in strict.stderr
    assert kubectl("get", "deployments", "-o", "name").stdout.strip() == ""
    warned = kubectl("apply", "--validate=warn", "-f", path)
    assert "deployment.apps/web created" in warned.stdout
    # Decoding drops the unknown field (it stays only in the last-applied annotation).
    assert "replcas" not in _deployment(kubectl)["spec"]


def test_invalid_objects_get_field_errors(kubectl, tmp_path):
    bad_name = kubectl("create", "configmap", "Bad_Name", "--from-literal=a=b", check=False)
    assert bad_name.returncode != 0
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in (
        bad_name.stderr
    )
    pod = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: broken
        spec:
          restartPolicy: Sometimes
          containers:
            - name: app
        """
    )
    result = kubectl("apply", "-f", _write(tmp_path, "pod.yaml", pod), check=False)
    assert result.returncode != 0
    assert "spec.containers[0].image: Required value" in result.stderr
    assert 'spec.restartPolicy: Unsupported value: "Sometimes"' in result.stderr

    kubectl("create", "deployment", "web", "--image=nginx:1.25")
    immutable = kubectl(
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        '{"spec":{"selector":{"matchLabels":{"app":"other"}},'
        '"template":{"metadata":{"labels":{"app":"other"}}}}}',
        check=False,
    )
    assert immutable.returncode != 0
    assert "spec.selector: Invalid value" in immutable.stderr
    assert "field is immutable" in immutable.stderr


def test_create_in_a_missing_namespace_is_not_found(kubectl):
    result = kubectl("create", "configmap", "x", "-n", "nope", "--from-literal=a=b", check=False)
    assert result.returncode != 0
    assert 'namespaces "nope" not found' in result.stderr
    deleted = kubectl("delete", "namespace", "default", check=False)
    assert deleted.returncode != 0
    assert "this namespace may not be deleted" in deleted.stderr


def test_pod_admission_and_defaults(kubectl):
    kubectl("run", "web", "--image=nginx")
    pod = kubectl("get", "pod", "web", "-o", "json").json()
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["priority"] == 0
    assert spec["containers"][0]["imagePullPolicy"] == "Always"  # no tag means :latest
    tolerations = {(t["key"], t.get("tolerationSeconds")) for t in spec["tolerations"]}
    assert ("node.kubernetes.io/not-ready", 300) in tolerations
    assert ("node.kubernetes.io/unreachable", 300) in tolerations
    token_volume = next(v for v in spec["volumes"] if v["name"].startswith("kube-api-access-"))
    assert token_volume["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"
    mounts = spec["containers"][0]["volumeMounts"]
    assert mounts[0]["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert pod["status"]["qosClass"] == "BestEffort"

    missing_sa = kubectl(
        "run",
        "robot",
        "--image=nginx",
        "--overrides",
        '{"spec":{"serviceAccountName":"ghost"}}',
        check=False,
    )
    assert missing_sa.returncode != 0
    assert 'serviceaccount "ghost" not found' in missing_sa.stderr


def test_limit_range_and_quota(kubectl, tmp_path):
    objects = textwrap.dedent(
        """\
        apiVersion: v1
        kind: LimitRange
        metadata:
          name: defaults
        spec:
          limits:
            - type: Container
              default:
                cpu: 500m
                memory: 256Mi
              defaultRequest:
                cpu: 250m
                memory: 128Mi
              max:
                cpu: "1"
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata:
          name: compute
        spec:
          hard:
            pods: "2"
            requests.cpu: 600m
        """
    )
    kubectl("apply", "-f", _write(tmp_path, "limits.yaml", objects))
    described = kubectl("describe", "quota", "compute").stdout
    assert "requests.cpu  0     600m" in described
    kubectl("run", "one", "--image=nginx:1.25")
    pod = kubectl("get", "pod", "one", "-o", "json").json()
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "250m", "memory": "128Mi"},
    }
    assert (
        "cpu, memory request for container one"
        in (pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"])
    )
    kubectl("run", "two", "--image=nginx:1.25")
    third = kubectl("run", "three", "--image=nginx:1.25", check=False)
    assert third.returncode != 0
    assert (
        'pods "three" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=250m, '
        "used: pods=2,requests.cpu=500m, limited: pods=2,requests.cpu=600m"
    ) in third.stderr

    too_big = kubectl(
        "run",
        "big",
        "--image=nginx:1.25",
        "--overrides",
        '{"spec":{"containers":[{"name":"big","image":"nginx:1.25",'
        '"resources":{"limits":{"cpu":"2"}}}]}}',
        check=False,
    )
    assert too_big.returncode != 0
    assert "maximum cpu usage per Container is 1, but limit is 2" in too_big.stderr


def test_pod_security_enforce_and_warn(kubectl, tmp_path):
    namespace = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Namespace
        metadata:
          name: team-payments
          labels:
            pod-security.kubernetes.io/enforce: restricted
            pod-security.kubernetes.io/enforce-version: latest
            pod-security.kubernetes.io/audit: restricted
            pod-security.kubernetes.io/warn: restricted
        """
    )
    kubectl("apply", "-f", _write(tmp_path, "ns.yaml", namespace))
    refused = kubectl("run", "web", "--image=nginx", "-n", "team-payments", check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "allowPrivilegeEscalation != false" in refused.stderr
    deploy = kubectl("create", "deployment", "web", "--image=nginx", "-n", "team-payments")
    assert "deployment.apps/web created" in deploy.stdout


def _raw_post(sim_cluster, tmp_path: Path, path: str, body: dict, query: str = ""):
    """POST a JSON body straight to the cluster (to read response headers)."""
    import base64

    import requests
    import yaml

    config = yaml.safe_load(Path(sim_cluster.kubeconfig_path).read_text())
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca)
    return requests.post(
        f"{sim_cluster.url}{path}{query}",
        json=body,
        headers={"Authorization": f"Bearer {sim_cluster.token}"},
        verify=str(ca_file),
        timeout=10,
    )


def test_warnings_for_unknown_fields_and_pod_security(kubectl, sim_cluster, tmp_path):
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "typo"},
        "dta": {"a": "b"},
    }
    response = _raw_post(
        sim_cluster,
        tmp_path,
        "/api/v1/namespaces/default/configmaps",
        config_map,
        "?fieldValidation=Warn",
    )
    assert response.status_code == 201
    assert 'unknown field \\"dta\\"' in response.headers["Warning"] or (
        'unknown field "dta"' in response.headers["Warning"]
    )
    assert "dta" not in response.json()

    kubectl("create", "namespace", "team-payments")
    kubectl("label", "namespace", "team-payments", "pod-security.kubernetes.io/warn=baseline")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx", "securityContext": {"privileged": True}}
            ]
        },
    }
    response = _raw_post(sim_cluster, tmp_path, "/api/v1/namespaces/team-payments/pods", pod)
    assert response.status_code == 201
    assert "would violate PodSecurity" in response.headers["Warning"]
    assert "privileged (container" in response.headers["Warning"]


def test_rbac_escalation_is_refused(kubectl, sim_cluster):
    kubectl(
        "create",
        "role",
        "rbac-manager",
        "--verb=create,get,list",
        "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io",
    )
    kubectl("create", "rolebinding", "dana-manages", "--role=rbac-manager", "--user=dana")
    dana = sim_cluster.user_kubeconfig("dana")
    refused = kubectl(
        "create",
        "rolebinding",
        "dana-admin",
        "--clusterrole=cluster-admin",
        "--user=dana",
        kubeconfig=dana,
        check=False,
    )
    assert refused.returncode != 0
    assert (
        'rolebindings.rbac.authorization.k8s.io "dana-admin" is forbidden: user "dana"'
        in refused.stderr
    )
    assert "is attempting to grant RBAC permissions not currently held" in refused.stderr
    allowed = kubectl(
        "create",
        "role",
        "lister",
        "--verb=list",
        "--resource=roles.rbac.authorization.k8s.io",
        kubeconfig=dana,
    )
    assert "role.rbac.authorization.k8s.io/lister created" in allowed.stdout


def test_client_side_apply_removals_use_strategic_directives(kubectl, tmp_path):
    """kubectl computes a three-way strategic patch: removed list items become
    `$patch: delete`, a strategy switch uses `$retainKeys`."""
    base = DEPLOYMENT.format(replicas=1, image="nginx:1.25")
    with_env = base.replace(
        "          ports:\n",
        "          env:\n            - name: A\n              value: '1'\n"
        "            - name: B\n              value: '2'\n          ports:\n",
    )
    path = _write(tmp_path, "web.yaml", with_env)
    kubectl("apply", "-f", path)
    only_b = with_env.replace("            - name: A\n              value: '1'\n", "")
    recreate = only_b.replace(
        "spec:\n  replicas: 1\n", "spec:\n  replicas: 1\n  strategy:\n    type: Recreate\n"
    )
    _write(tmp_path, "web.yaml", recreate)
    kubectl("apply", "-f", path)
    live = _deployment(kubectl)
    assert live["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert live["spec"]["strategy"] == {"type": "Recreate"}


def test_client_certificate_user_and_anonymous_requests(kubectl, sim_cluster):
    carol = sim_cluster.user_kubeconfig("carol", ("ops",), cert=True)
    who = kubectl("auth", "whoami", "-o", "json", kubeconfig=carol).json()
    assert who["status"]["userInfo"]["username"] == "carol"
    assert who["status"]["userInfo"]["groups"] == ["ops", "system:authenticated"]
    kubectl("create", "clusterrolebinding", "ops-view", "--clusterrole=view", "--group=ops")
    assert kubectl("auth", "can-i", "list", "pods", "-A", kubeconfig=carol).stdout.strip() == "yes"
    denied = kubectl("delete", "pod", "x", kubeconfig=carol, check=False)
    assert 'User "carol" cannot delete resource "pods"' in denied.stderr
    anonymous = kubectl("get", "pods", "--token=", "--as=system:anonymous", check=False)
    assert anonymous.returncode != 0
    assert 'User "system:anonymous" cannot list resource "pods"' in anonymous.stderr
