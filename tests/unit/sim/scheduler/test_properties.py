"""Invariants that hold for any cluster: no overcommit, taints and selectors honoured."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim.machinery.quantity import milli_value, parse_quantity, value
from app.sim.scheduler import Scheduler, Snapshot
from tests.builders import make_node, make_pod, taint

cpu_strings = st.sampled_from(["100m", "250m", "500m", "1", "1500m", "2"])
memory_strings = st.sampled_from(["64Mi", "256Mi", "512Mi", "1Gi", "2Gi"])


@st.composite
def clusters(draw):
    nodes = []
    for i in range(draw(st.integers(1, 5))):
        nodes.append(
            make_node(
                f"n{i}",
                cpu=draw(st.sampled_from(["1", "2", "4"])),
                memory=draw(st.sampled_from(["2Gi", "4Gi"])),
                pods=str(draw(st.integers(1, 6))),
                labels={"tier": draw(st.sampled_from(["web", "db"]))},
                taints=[taint("dedicated", "db")] if draw(st.booleans()) else None,
            )
        )
    pods = []
    for i in range(draw(st.integers(1, 25))):
        spec = {}
        if draw(st.booleans()):
            spec["nodeSelector"] = {"tier": draw(st.sampled_from(["web", "db"]))}
        if draw(st.booleans()):
            spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
        pods.append(
            make_pod(
                f"p{i}",
                cpu=draw(cpu_strings),
                memory=draw(memory_strings),
                host_port=draw(st.sampled_from([None, None, 80])),
                spec=spec,
            )
        )
    return nodes, pods


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_scheduling_never_breaks_a_filter(cluster):
    nodes, pods = cluster
    snap = Snapshot.build(nodes)
    scheduler = Scheduler()
    placed: dict[str, list[dict]] = {n["metadata"]["name"]: [] for n in nodes}
    for pod in pods:
        result = scheduler.schedule_one(pod, snap)
        if result.node is None:
            assert result.message.startswith(f"0/{len(nodes)} nodes are available: ")
            continue
        scheduler.assume(result, snap)
        placed[result.node].append(pod)
    for node in nodes:
        name = node["metadata"]["name"]
        here = placed[name]
        alloc = node["status"]["allocatable"]
        requests = [p["spec"]["containers"][0]["resources"]["requests"] for p in here]
        assert sum(milli_value(r["cpu"]) for r in requests) <= milli_value(alloc["cpu"])
        assert sum(value(r["memory"]) for r in requests) <= value(alloc["memory"])
        assert len(here) <= int(alloc["pods"])
        ports = [
            c["ports"][0]["hostPort"]
            for p in here
            for c in p["spec"]["containers"]
            if c.get("ports")
        ]
        assert len(ports) == len(set(ports))
        for pod in here:
            selector = pod["spec"].get("nodeSelector")
            if selector:
                assert node["metadata"]["labels"]["tier"] == selector["tier"]
            if node["spec"].get("taints"):
                assert pod["spec"].get("tolerations")


@given(st.integers(0, 2**40), st.sampled_from(["", "Ki", "Mi", "Gi", "m", "k", "M"]))
def test_quantity_suffixes_scale_exactly(number, suffix):
    scale = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 0.001, "k": 1000, "M": 10**6}
    parsed = parse_quantity(f"{number}{suffix}")
    if suffix == "m":
        assert parsed * 1000 == number
    else:
        assert parsed == number * scale[suffix]
