"""Authentication, authorization and Status errors as kubectl reports them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.kubectl


def test_token_auth_over_https_without_client_certificates(kubectl, sim_cluster) -> None:
    raw = yaml.safe_load(kubectl("config", "view", "--raw").stdout)
    user = raw["users"][0]["user"]
    assert set(user) == {"token"}  # no client certificate at all
    assert raw["clusters"][0]["cluster"]["server"].startswith("https://")
    whoami = kubectl("auth", "whoami", "-o", "json").json()
    assert whoami["status"]["userInfo"]["username"] == "kubernetes-admin"
    assert "system:masters" in whoami["status"]["userInfo"]["groups"]


def test_can_i_as_admin(kubectl) -> None:
    assert kubectl("auth", "can-i", "create", "deployments").stdout == "yes\n"
    assert kubectl("auth", "can-i", "delete", "nodes").stdout == "yes\n"
    assert kubectl("auth", "can-i", "*", "*", "--all-namespaces").stdout == "yes\n"


def test_restricted_user(kubectl, sim_cluster) -> None:
    jane = sim_cluster.user_kubeconfig("jane")
    denied = kubectl("auth", "can-i", "list", "pods", kubeconfig=jane, check=False)
    assert denied.returncode == 1 and denied.stdout == "no\n"
    forbidden = kubectl("get", "secrets", kubeconfig=jane, check=False)
    assert forbidden.returncode == 1
    assert forbidden.stderr.strip() == (
        'Error from server (Forbidden): secrets is forbidden: User "jane" cannot list '
        'resource "secrets" in API group "" in the namespace "default"'
    )
    kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    kubectl("create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane")
    assert kubectl("auth", "can-i", "list", "pods", kubeconfig=jane).stdout == "yes\n"
    still_no = kubectl("auth", "can-i", "delete", "pods", kubeconfig=jane, check=False)
    assert still_no.stdout == "no\n"
    other_ns = kubectl(
        "auth", "can-i", "list", "pods", "-n", "kube-system", kubeconfig=jane, check=False
    )
    assert other_ns.stdout == "no\n"
    assert kubectl("get", "pods", kubeconfig=jane).stderr.startswith("No resources found")
    as_jane = kubectl("auth", "can-i", "list", "pods", "--as=jane").stdout
    assert as_jane == "yes\n"
    listing = kubectl("auth", "can-i", "--list", kubeconfig=jane).stdout
    assert "pods" in listing and "[get list watch]" in listing


def test_client_certificate_user(kubectl, sim_cluster) -> None:
    bob = sim_cluster.user_kubeconfig("bob", ("developers",), cert=True)
    config = yaml.safe_load(Path(bob).read_text())
    assert "client-certificate-data" in config["users"][0]["user"]
    who = kubectl("auth", "whoami", "-o", "json", kubeconfig=bob).json()
    assert who["status"]["userInfo"]["username"] == "bob"
    assert "developers" in who["status"]["userInfo"]["groups"]
    kubectl("create", "clusterrolebinding", "devs-view", "--clusterrole=view", "--group=developers")
    assert kubectl("get", "ns", "default", "-o", "name", kubeconfig=bob).stdout == (
        "namespace/default\n"
    )


def test_service_account_token(kubectl, sim_cluster, tmp_path) -> None:
    kubectl("create", "serviceaccount", "robot")
    token = kubectl("create", "token", "robot", "--duration=20m").stdout.strip()
    assert token.count(".") == 2
    config = yaml.safe_load(Path(sim_cluster.kubeconfig_path).read_text())
    config["users"][0]["user"] = {"token": token}
    path = tmp_path / "robot.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    who = kubectl("auth", "whoami", "-o", "json", kubeconfig=path).json()
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:robot"
    short = kubectl("create", "token", "robot", "--duration=1m", check=False)
    assert short.returncode == 1 and "less than 10 minutes" in short.stderr


def test_errors_not_found_and_already_exists(kubectl) -> None:
    missing = kubectl("get", "pod", "ghost", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "ghost" not found'
    kubectl("create", "configmap", "once")
    again = kubectl("create", "configmap", "once", check=False)
    assert again.stderr.strip() == (
        'error: failed to create configmap: configmaps "once" already exists'
    )
    no_ns = kubectl("get", "pods", "-n", "nowhere")
    assert no_ns.stderr.strip() == "No resources found in nowhere namespace."
    bad_ns = kubectl("create", "configmap", "x", "-n", "nowhere", check=False)
    assert 'namespaces "nowhere" not found' in bad_ns.stderr


def test_errors_unknown_kind_and_resource(kubectl, tmp_path) -> None:
    widget = tmp_path / "widget.yaml"
    widget.write_text("apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n")
    unknown = kubectl("apply", "--validate=false", "-f", str(widget), check=False)
    assert unknown.returncode == 1
    assert 'no matches for kind "Widget" in version "v1"' in unknown.stderr
    resource = kubectl("get", "widgets", check=False)
    assert resource.stderr.strip() == 'error: the server doesn\'t have a resource type "widgets"'


def test_errors_strict_validation_and_invalid(kubectl, tmp_path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\ndata:\n  a: b\nbogus: 1\n"
    )
    strict = kubectl("apply", "--validate=strict", "-f", str(manifest), check=False)
    assert strict.returncode == 1
    assert 'strict decoding error: unknown field "bogus"' in strict.stderr
    invalid = kubectl("create", "deployment", "Bad_Name", "--image=nginx", check=False)
    assert invalid.returncode == 1
    assert 'Deployment.apps "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in (
        invalid.stderr
    )


def test_errors_bad_json_and_conflict(kubectl, tmp_path, sim_cluster) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ')
    raw = kubectl(
        "create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", str(broken), check=False
    )
    assert raw.returncode == 1
    assert "Error from server (BadRequest)" in raw.stderr
    kubectl("create", "configmap", "shared", "--from-literal=v=1")
    stale = kubectl("get", "cm", "shared", "-o", "json").json()
    live = sim_cluster.store.get("", "configmaps", "default", "shared")
    live["data"] = {"v": "2"}
    sim_cluster.store.update("", "configmaps", live)
    stale["data"] = {"v": "3"}
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale))
    conflict = kubectl("replace", "-f", str(path), check=False)
    assert conflict.returncode == 1
    assert (
        'Error from server (Conflict): error when replacing "' in conflict.stderr
        and 'Operation cannot be fulfilled on configmaps "shared": the object has been '
        "modified; please apply your changes to the latest version and try again"
        in conflict.stderr
    )
    assert kubectl("get", "cm", "shared", "-o", "jsonpath={.data.v}").stdout == "2"
