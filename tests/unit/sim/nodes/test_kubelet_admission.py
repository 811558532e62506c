"""The kubelet's admission predicates (pure functions)."""

from __future__ import annotations

from app.sim.nodes.kubelet.admission import AFFINITY_MESSAGE, admit, affinity_matches, pod_requests

NODE = {
    "metadata": {"name": "node01", "labels": {"disk": "ssd", "zone": "a", "cores": "8"}},
    "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"}},
}


def _pod(cpu: str = "", **spec) -> dict:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {"spec": {"containers": [{"name": "c", "resources": resources}], **spec}}


def _required(*expressions: dict, fields: tuple = ()) -> dict:
    term = {"matchExpressions": list(expressions)}
    if fields:
        term["matchFields"] = list(fields)
    required = {"nodeSelectorTerms": [term]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}


def test_selector_and_required_affinity() -> None:
    assert affinity_matches({"nodeSelector": {"disk": "ssd"}}, NODE)
    assert not affinity_matches({"nodeSelector": {"disk": "hdd"}}, NODE)
    gt = {"key": "cores", "operator": "Gt", "values": ["4"]}
    assert affinity_matches({"affinity": _required(gt)}, NODE)
    missing = {"key": "gpu", "operator": "Exists"}
    assert not affinity_matches({"affinity": _required(missing)}, NODE)
    by_name = {"key": "metadata.name", "operator": "In", "values": ["node02"]}
    assert not affinity_matches({"affinity": _required(fields=(by_name,))}, NODE)


def test_requests_and_verdicts() -> None:
    init = {"initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1500m"}}}]}
    assert pod_requests(_pod("500m", **init)["spec"]) == {"cpu": 1500, "memory": 0, "pods": 1}
    assert admit(_pod(nodeSelector={"disk": "hdd"}), NODE, []) == ("NodeAffinity", AFFINITY_MESSAGE)
    assert admit(_pod("3"), NODE, [_pod("200m")]) == (
        "OutOfcpu",
        "Node didn't have enough resource: cpu, requested: 3000, used: 200, capacity: 2000",
    )
    assert admit(_pod(), NODE, [_pod(), _pod(), _pod()])[0] == "OutOfpods"
    assert admit(_pod("1"), NODE, [_pod("1")]) is None
