"""Disruption controller: PodDisruptionBudget status from pod readiness."""

from __future__ import annotations

from tests.builders import deployment
from tests.fixtures.controllers import Lab


def pdb(**spec) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def test_min_available_budget_follows_ready_pods(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=3))
    lab.create("policy", "poddisruptionbudgets", pdb(minAvailable=2))
    lab.sync()
    status = lab.get("policy", "poddisruptionbudgets", "web")["status"]
    assert (status["currentHealthy"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        0,
        2,
        0,
    )
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    lab.run_all()
    lab.sync()
    status = lab.get("policy", "poddisruptionbudgets", "web")["status"]
    assert (status["currentHealthy"], status["expectedPods"], status["disruptionsAllowed"]) == (
        3,
        3,
        1,
    )
    assert status["conditions"][0]["reason"] == "SufficientPods"


def test_percentage_budget_uses_the_deployment_scale(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=4))
    lab.create("policy", "poddisruptionbudgets", pdb(maxUnavailable="50%"))
    lab.sync()
    pods = lab.pods(prefix="web-")
    for pod in pods[:3]:
        lab.run_pod(pod)
    lab.sync()
    status = lab.get("policy", "poddisruptionbudgets", "web")["status"]
    assert status["expectedPods"] == 4
    assert status["desiredHealthy"] == 2
    assert status["disruptionsAllowed"] == 1
