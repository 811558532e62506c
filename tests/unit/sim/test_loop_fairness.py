"""CPU fairness of one server's control-plane loop (`ClusterRegistry.run_loops`): the
cheapest clusters run first, and a cluster whose pass was expensive sits out while
others have loops."""

from __future__ import annotations

import time

from app.sim.registry import FAIR_PASS_SECONDS, ClusterRegistry


def burn(seconds: float) -> None:
    """Use `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def registry_with(*ids: str) -> ClusterRegistry:
    registry = ClusterRegistry(node_agents=False, control_plane=False)
    for cluster_id in ids:
        registry.create_cluster(cluster_id=cluster_id, nodes=1)
    return registry


def test_an_expensive_cluster_rests_while_a_cheap_one_runs_first() -> None:
    registry = registry_with("busy", "quiet")
    ran: list[str] = []
    registry.clusters["busy"].loops = [lambda: (ran.append("busy"), burn(FAIR_PASS_SECONDS * 2))]
    registry.clusters["quiet"].loops = [lambda: ran.append("quiet")]
    registry.run_loops()
    assert ran == ["busy", "quiet"]
    ran.clear()
    # Straight after an expensive pass: the busy cluster sits this one out.
    registry.run_loops()
    assert ran == ["quiet"]
    # Once rested, it runs again, after the cheaper cluster.
    registry._rest_until["busy"] = 0.0
    ran.clear()
    registry.run_loops()
    assert ran == ["quiet", "busy"]


def test_a_cluster_alone_never_rests() -> None:
    registry = registry_with("busy", "idle")
    passes: list[int] = []
    registry.clusters["busy"].loops = [lambda: (passes.append(1), burn(FAIR_PASS_SECONDS * 2))]
    registry.run_loops()
    registry.run_loops()
    assert len(passes) == 2
    registry.delete_cluster("busy")
    assert "busy" not in registry._rest_until and "busy" not in registry._pass_cost
