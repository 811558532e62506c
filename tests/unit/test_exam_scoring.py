"""Pure pieces of the mock exam: one kubeconfig from a context per cluster, and the
per-task and per-domain breakdown with the pass mark."""

from __future__ import annotations

import yaml

from app.services.exam_attempts import context_kubeconfig, merge_kubeconfigs
from app.services.exam_grading import breakdown


def kubeconfig(server: str, token: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sim", "cluster": {"server": server}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "admin@sim", "context": {"cluster": "sim", "user": "admin"}}],
            "current-context": "admin@sim",
        }
    )


def test_merged_kubeconfig_has_one_context_per_cluster_named_for_the_exam() -> None:
    merged = yaml.safe_load(
        merge_kubeconfigs(
            {"k8s-a": kubeconfig("https://a", "ta"), "k8s-b": kubeconfig("https://b", "tb")}
        )
    )
    assert [c["name"] for c in merged["contexts"]] == ["k8s-a", "k8s-b"]
    assert merged["current-context"] == "k8s-a"
    by_name = {c["name"]: c["cluster"]["server"] for c in merged["clusters"]}
    assert by_name == {"k8s-a": "https://a", "k8s-b": "https://b"}
    users = {u["name"]: u["user"]["token"] for u in merged["users"]}
    context_b = next(c["context"] for c in merged["contexts"] if c["name"] == "k8s-b")
    assert users[context_b["user"]] == "tb" and context_b["cluster"] == "k8s-b"


def test_context_kubeconfig_switches_the_current_context_only() -> None:
    merged = merge_kubeconfigs(
        {"k8s-a": kubeconfig("https://a", "ta"), "k8s-b": kubeconfig("https://b", "tb")}
    )
    switched = yaml.safe_load(context_kubeconfig(merged, "k8s-b"))
    assert switched["current-context"] == "k8s-b"
    assert switched["contexts"] == yaml.safe_load(merged)["contexts"]


def task(task_id: str, domain: str, weight: float, percentage: float) -> dict:
    return {
        "id": task_id,
        "domain": domain,
        "weight": weight,
        "percentage": percentage,
        "score": round(weight * percentage / 100, 2),
    }


def test_breakdown_sums_task_scores_per_domain_and_applies_the_pass_mark() -> None:
    tasks = [
        task("rbac", "Cluster Architecture", 40, 100),
        task("etcd", "Cluster Architecture", 20, 50),
        task("svc", "Services & Networking", 40, 15),
    ]
    result = breakdown(tasks, 66)
    assert result["score"] == 56 and result["passed"] is False
    assert result["domains"] == [
        {"domain": "Cluster Architecture", "weight": 60, "score": 50},
        {"domain": "Services & Networking", "weight": 40, "score": 6},
    ]
    assert breakdown([task("all", "Storage", 100, 66)], 66)["passed"] is True
    assert breakdown([task("all", "Storage", 100, 65.99)], 66)["passed"] is False
