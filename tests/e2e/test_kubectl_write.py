"""The real kubectl changing a simulated cluster: create from flags, apply (client-side
and server-side), diff, edit, patch, label, annotate, scale, delete, wait, CRDs."""

from __future__ import annotations

import base64
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from tests.fixtures.seed_examples import PAYMENT_API

pytestmark = pytest.mark.kubectl

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: api
          image: registry.example.com/api:2.4.1
          resources:
            requests:
              cpu: 250m
              memory: 512Mi
            limits:
              memory: 1Gi
"""


CRONTAB_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                cronSpec:
                  type: string
                image:
                  type: string
                replicas:
                  type: integer
"""

CRONTAB = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
spec:
  cronSpec: "0 3 * * *"
  image: backup:1.0
  replicas: 1
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_namespace_configmap_secret_serviceaccount(kubectl, sim_cluster) -> None:
    assert kubectl("create", "namespace", "team-a").stdout == "namespace/team-a created\n"
    assert kubectl("get", "ns", "team-a", "-o", "jsonpath={.status.phase}").stdout == "Active"
    out = kubectl(
        "create",
        "configmap",
        "app-config",
        "-n",
        "team-a",
        "--from-literal=mode=fast",
        "--from-literal=level=3",
    ).stdout
    assert out == "configmap/app-config created\n"
    data = kubectl("get", "cm", "app-config", "-n", "team-a", "-o", "json").json()["data"]
    assert data == {"mode": "fast", "level": "3"}
    kubectl(
        "create", "secret", "generic", "db-pass", "-n", "team-a", "--from-literal=password=s3cret"
    )
    secret = kubectl("get", "secret", "db-pass", "-n", "team-a", "-o", "json").json()
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"
    assert secret["type"] == "Opaque"
    assert kubectl("create", "serviceaccount", "builder", "-n", "team-a").stdout == (
        "serviceaccount/builder created\n"
    )
    assert sim_cluster.store.get("", "serviceaccounts", "team-a", "builder") is not None


def test_create_deployment_service_job_cronjob(kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80")
    deployment = kubectl("get", "deploy", "web", "-o", "json").json()
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
    svc = kubectl("get", "svc", "web").lines[1].split()
    assert svc[:2] == ["web", "ClusterIP"]
    assert svc[2].startswith("10.") and svc[4] == "80/TCP"
    kubectl("create", "job", "once", "--image=busybox", "--", "echo", "hi")
    job = kubectl("get", "job", "once", "-o", "json").json()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    kubectl("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *")
    cron = kubectl("get", "cronjobs").lines
    assert cron[1].split()[:2] == ["nightly", "0"] or "0 3 * * *" in cron[1]


def test_create_role_and_rolebinding(kubectl) -> None:
    kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    role = kubectl("get", "role", "pod-reader", "-o", "json").json()
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]
    kubectl("create", "rolebinding", "read-pods", "--role=pod-reader", "--user=jane")
    binding = kubectl("get", "rolebinding", "read-pods", "-o", "wide").lines
    assert binding[0].split()[:3] == ["NAME", "ROLE", "AGE"]
    assert "Role/pod-reader" in binding[1] and "jane" in binding[1]


def test_apply_create_change_server_side_and_conflict(kubectl, tmp_path) -> None:
    first = write(tmp_path, "api.yaml", DEPLOYMENT)
    assert kubectl("apply", "-f", first).stdout == "deployment.apps/api created\n"
    assert kubectl("apply", "-f", first).stdout == "deployment.apps/api unchanged\n"
    changed = write(tmp_path, "api-5.yaml", DEPLOYMENT.replace("replicas: 3", "replicas: 5"))
    assert kubectl("apply", "-f", changed).stdout == "deployment.apps/api configured\n"
    live = kubectl("get", "deploy", "api", "-o", "json", "--show-managed-fields").json()
    assert live["spec"]["replicas"] == 5
    assert live["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert "kubectl-client-side-apply" in managers

    ssa = kubectl("apply", "--server-side", "--field-manager=platform-team", "-f", changed)
    assert ssa.stdout == "deployment.apps/api serverside-applied\n"
    conflict = kubectl(
        "apply", "--server-side", "--field-manager=ci-pipeline", "-f", first, check=False
    )
    assert conflict.returncode == 1
    assert "Apply failed with" in conflict.stderr and ".spec.replicas" in conflict.stderr
    forced = kubectl(
        "apply", "--server-side", "--field-manager=ci-pipeline", "--force-conflicts", "-f", first
    )
    assert forced.returncode == 0
    assert kubectl("get", "deploy", "api", "-o", "jsonpath={.spec.replicas}").stdout == "3"


def test_diff_shows_the_pending_change(kubectl, tmp_path) -> None:
    kubectl("apply", "-f", write(tmp_path, "api.yaml", DEPLOYMENT))
    same = kubectl("diff", "-f", write(tmp_path, "same.yaml", DEPLOYMENT))
    assert same.returncode == 0 and same.stdout == ""
    diff = kubectl(
        "diff",
        "-f",
        write(tmp_path, "new.yaml", DEPLOYMENT.replace("api:2.4.1", "api:2.5.0")),
        check=False,
    )
    assert diff.returncode == 1
    assert re.search(r"^-\s+- image: registry.example.com/api:2.4.1$", diff.stdout, re.M)
    assert re.search(r"^\+\s+- image: registry.example.com/api:2.5.0$", diff.stdout, re.M)
    # diff is a dry run: nothing changed on the server.
    image = kubectl(
        "get", "deploy", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout
    assert image == "registry.example.com/api:2.4.1"


def test_edit_with_an_editor_script(kubectl, tmp_path) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/image: nginx:1.27/image: nginx:1.28/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    # kubectl reads the editor from KUBE_EDITOR, then EDITOR.
    out = kubectl("edit", "deployment", "web", env={"KUBE_EDITOR": str(editor)})
    assert out.stdout == "deployment.apps/web edited\n"
    live = kubectl("get", "deploy", "web", "-o", "json", "--show-managed-fields").json()
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert "kubectl-edit" in {m["manager"] for m in live["metadata"]["managedFields"]}


def test_patch_merge_json_and_strategic(kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27")
    kubectl(
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"team":"blue"}}}',
    )
    assert (
        kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.labels.team}").stdout == "blue"
    )
    kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":4}]',
    )
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "4"
    kubectl(
        "patch",
        "deployment",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"envoy"}]}}}}',
    )
    names = kubectl(
        "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].name}"
    ).stdout
    assert names.split() == ["nginx", "sidecar"]  # merged by name, not replaced
    bad = kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/nothing"}]',
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("The request is invalid")


def test_label_annotate_scale(kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=nginx")
    assert kubectl("label", "deployment", "web", "tier=front").stdout == (
        "deployment.apps/web labeled\n"
    )
    overwrite = kubectl("label", "deployment", "web", "tier=back", check=False)
    assert overwrite.returncode == 1 and "already has a value (front)" in overwrite.stderr
    kubectl("label", "deployment", "web", "tier=back", "--overwrite")
    assert kubectl("get", "deploy", "-l", "tier=back", "-o", "name").stdout == (
        "deployment.apps/web\n"
    )
    kubectl("annotate", "deployment", "web", "owner=ops")
    kubectl("label", "deployment", "web", "tier-")
    labels = kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.labels}").stdout
    assert "tier" not in labels
    assert (
        kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.annotations.owner}").stdout
        == "ops"
    )
    assert kubectl("scale", "deployment", "web", "--replicas=4").stdout == (
        "deployment.apps/web scaled\n"
    )
    row = kubectl("get", "deploy", "web").lines[1].split()
    assert row[:2] == ["web", "0/4"]
    stale = kubectl(
        "scale", "deployment", "web", "--replicas=2", "--current-replicas=3", check=False
    )
    assert stale.returncode == 1


def test_cordon_taint_and_rollout_restart(kubectl) -> None:
    assert kubectl("cordon", "node01").stdout == "node/node01 cordoned\n"
    status = kubectl("get", "nodes").lines[2].split()
    assert status[:2] == ["node01", "Ready,SchedulingDisabled"]
    kubectl("uncordon", "node01")
    kubectl("taint", "nodes", "node02", "dedicated=payments:NoSchedule")
    taints = kubectl("get", "node", "node02", "-o", "jsonpath={.spec.taints}").stdout
    assert '"key":"dedicated"' in taints and '"effect":"NoSchedule"' in taints
    kubectl("create", "deployment", "web", "--image=nginx")
    assert kubectl("rollout", "restart", "deployment/web").stdout == (
        "deployment.apps/web restarted\n"
    )
    restarted = kubectl("get", "deploy", "web", "-o", "json").json()
    annotations = restarted["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_delete_with_wait_and_cascade(kubectl, sim_cluster) -> None:
    kubectl("create", "deployment", "web", "--image=nginx")
    deployment = sim_cluster.store.get("apps", "deployments", "default", "web")
    sim_cluster.store.create(
        "apps",
        "replicasets",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-7d4f8b",
                "namespace": "default",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "web",
                        "uid": deployment["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    out = kubectl("delete", "deployment", "web", "--wait=true")
    assert out.stdout.startswith('deployment.apps "web" deleted')
    assert kubectl("get", "rs", "-o", "name").stdout == ""  # collected with its owner
    kubectl("run", "one", "--image=nginx")
    assert kubectl("delete", "pod", "one", "--wait").stdout.startswith('pod "one" deleted')
    missing = kubectl("delete", "pod", "one", check=False)
    assert missing.returncode == 1
    assert 'pods "one" not found' in missing.stderr
    assert kubectl("delete", "pod", "one", "--ignore-not-found").returncode == 0


def test_wait_for_condition_and_delete(kubectl, sim_cluster) -> None:
    kubectl("run", "web", "--image=nginx")
    pod = sim_cluster.store.get("", "pods", "default", "web")

    def become_ready() -> None:
        time.sleep(0.5)
        pod["status"] = {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ],
        }
        sim_cluster.store.update("", "pods", pod)

    threading.Thread(target=become_ready).start()
    ready = kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=20s")
    assert ready.stdout == "pod/web condition met\n"

    timer = threading.Timer(0.5, lambda: sim_cluster.store.delete("", "pods", "default", "web"))
    timer.start()
    gone = kubectl("wait", "--for=delete", "pod/web", "--timeout=20s")
    assert gone.stdout == "pod/web condition met\n"
    nothing = kubectl("wait", "--for=condition=Ready", "pod/ghost", "--timeout=1s", check=False)
    assert nothing.returncode == 1 and 'pods "ghost" not found' in nothing.stderr


def test_wait_for_jsonpath(kubectl, sim_cluster) -> None:
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
    out = kubectl("wait", "--for=jsonpath={.spec.replicas}=2", "deployment/web", "--timeout=10s")
    assert out.stdout == "deployment.apps/web condition met\n"


def test_payment_api_manifest_applies_as_is(kubectl, tmp_path) -> None:
    path = write(tmp_path, "payment-api.yaml", PAYMENT_API)
    assert kubectl("apply", "-f", path).stdout == "deployment.apps/payment-api created\n"
    live = kubectl("get", "deploy", "payment-api", "-o", "json").json()
    spec = live["spec"]["template"]["spec"]
    assert spec["tolerations"][0]["value"] == "payments"
    assert spec["topologySpreadConstraints"][0]["maxSkew"] == 1
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"][0]["values"] == ["compute"]
    assert live["spec"]["replicas"] == 6


def test_custom_resource_definition_served(kubectl, tmp_path) -> None:
    out = kubectl("apply", "-f", write(tmp_path, "crd.yaml", CRONTAB_CRD)).stdout
    assert (
        out == "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created\n"
    )
    established = kubectl(
        "wait", "--for=condition=Established", "crd/crontabs.stable.example.com", "--timeout=10s"
    )
    assert "condition met" in established.stdout
    created = kubectl("apply", "-f", write(tmp_path, "ct.yaml", CRONTAB)).stdout
    assert created == "crontab.stable.example.com/nightly created\n"
    listed = kubectl("get", "ct").lines
    assert listed[0].split() == ["NAME", "AGE"] and listed[1].split()[0] == "nightly"
    spec = kubectl("get", "crontab", "nightly", "-o", "jsonpath={.spec.cronSpec}").stdout
    assert spec == "0 3 * * *"
    assert "crontabs" in kubectl("api-resources", "--api-group=stable.example.com").stdout
    kubectl("delete", "crd", "crontabs.stable.example.com")
    gone = kubectl("get", "crontabs", check=False)
    assert gone.returncode == 1
    # kubectl's discovery cache may still list the kind: either message is upstream's.
    assert re.search(
        r"doesn't have a resource type \"crontabs\"|could not find the requested resource",
        gone.stderr,
    )


def test_delete_namespace_deletes_its_contents(kubectl, sim_cluster) -> None:
    kubectl("create", "namespace", "scratch")
    kubectl("create", "configmap", "settings", "-n", "scratch")
    kubectl("run", "tmp", "--image=busybox", "-n", "scratch")
    out = kubectl("delete", "namespace", "scratch", "--wait")
    assert out.stdout == 'namespace "scratch" deleted\n'
    assert sim_cluster.store.list("", "configmaps", "scratch")[0] == []
    assert sim_cluster.store.list("", "pods", "scratch")[0] == []
    assert kubectl("get", "ns", "scratch", check=False).returncode == 1


def test_server_side_dry_run(kubectl, sim_cluster) -> None:
    out = kubectl(
        "create",
        "deployment",
        "ghost",
        "--image=nginx",
        "--dry-run=server",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].imagePullPolicy}",
    )
    assert out.stdout == "Always"  # defaulted by the server
    assert sim_cluster.store.get("apps", "deployments", "default", "ghost") is None


def test_delete_file_with_namespace_and_its_objects(kubectl, tmp_path) -> None:
    manifest = write(
        tmp_path,
        "app.yaml",
        (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n"
            "data:\n  mode: fast\n"
        ),
    )
    assert kubectl("apply", "-f", manifest).lines == [
        "namespace/shop created",
        "configmap/settings created",
    ]
    deleted = kubectl("delete", "-f", manifest)
    assert deleted.lines == [
        'namespace "shop" deleted',
        'configmap "settings" deleted from shop namespace',
    ]
    gone = kubectl("wait", "--for=delete", "namespace/shop", "--timeout=20s", check=False)
    assert gone.returncode == 0, gone.stderr
