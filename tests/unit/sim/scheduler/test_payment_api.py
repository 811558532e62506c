"""The seed chapter's payment-api Deployment (6 replicas) on a cluster built for it.

Nodes: six `workload=compute` nodes tainted `dedicated=payments:NoSchedule`, two per
zone in zones a, b and c; two general nodes without the label; one control-plane node
with its usual taint.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.sim.scheduler import Scheduler, Snapshot
from tests.builders import make_node, make_pod, taint

ZONE = "topology.kubernetes.io/zone"


def payment_api_spec() -> dict[str, Any]:
    """The pod template spec of the seed chapter's payment-api Deployment (minus containers)."""
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "workload", "operator": "In", "values": ["compute"]}
                            ]
                        }
                    ]
                }
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "payment-api"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            },
        },
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "payments", "effect": "NoSchedule"}
        ],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "payment-api"}},
            }
        ],
    }


def payment_api_pod(index: int) -> dict[str, Any]:
    pod = make_pod(
        f"payment-api-7d4f8b-{index}",
        cpu="1",
        memory="2Gi",
        labels={"app": "payment-api", "pod-template-hash": "7d4f8b"},
        image="payment-api:3.2.0",
        spec=payment_api_spec(),
    )
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "payment-api-7d4f8b"}
    ]
    return pod


def cluster(compute_cpu="4", compute_memory="8Gi", cordon_zone=None):
    nodes = []
    for zone in "abc":
        for i in (1, 2):
            nodes.append(
                make_node(
                    f"compute-{zone}{i}",
                    cpu=compute_cpu,
                    memory=compute_memory,
                    labels={"workload": "compute", ZONE: f"zone-{zone}"},
                    taints=[taint("dedicated", "payments")],
                    unschedulable=zone == cordon_zone,
                )
            )
    nodes.append(make_node("general-1", labels={ZONE: "zone-a"}))
    nodes.append(make_node("general-2", labels={ZONE: "zone-b"}))
    nodes.append(
        make_node(
            "controlplane",
            labels={"node-role.kubernetes.io/control-plane": ""},
            taints=[taint("node-role.kubernetes.io/control-plane")],
        )
    )
    return Snapshot.build(nodes)


def schedule(snap, count, start=1):
    scheduler = Scheduler()
    placements, results = {}, []
    for i in range(start, start + count):
        result = scheduler.schedule_one(payment_api_pod(i), snap)
        results.append(result)
        if result.node:
            scheduler.assume(result, snap)
            placements[result.pod.name] = result.node
    return placements, results


def test_six_replicas_spread_one_per_compute_node_two_per_zone():
    snap = cluster()
    placements, results = schedule(snap, 6)
    assert len(placements) == 6
    # Preferred anti-affinity on hostname puts each replica on its own node...
    assert sorted(placements.values()) == [
        "compute-a1",
        "compute-a2",
        "compute-b1",
        "compute-b2",
        "compute-c1",
        "compute-c2",
    ]
    # ...and the zone constraint (maxSkew 1) keeps the zones level as they fill.
    zones = Counter(snap.get(n).labels[ZONE] for n in placements.values())
    assert zones == {"zone-a": 2, "zone-b": 2, "zone-c": 2}
    first_zones = [snap.get(placements[f"payment-api-7d4f8b-{i}"]).labels[ZONE] for i in (1, 2, 3)]
    assert sorted(first_zones) == ["zone-a", "zone-b", "zone-c"]
    # The general and control-plane nodes were never candidates.
    second = results[1]
    assert second.node_statuses["general-1"].reasons == (
        "node(s) didn't match Pod's node affinity/selector",
    )
    assert second.node_statuses["controlplane"].reasons == ("node(s) had untolerated taint(s)",)
    assert "compute-a1" not in second.scores  # zone a is already ahead: filtered out
    # With one replica per zone, all six nodes are feasible again; the preferred
    # anti-affinity (weight 100 on hostname) now scores the occupied nodes 0.
    fourth = results[3]
    assert fourth.plugin_scores["InterPodAffinity"] == {
        "compute-a1": 0,
        "compute-a2": 100,
        "compute-b1": 0,
        "compute-b2": 100,
        "compute-c1": 0,
        "compute-c2": 100,
    }
    assert fourth.node == "compute-a2"


def test_seventh_and_eighth_replicas_keep_the_zones_within_max_skew():
    snap = cluster()
    placements, _ = schedule(snap, 8)
    zones = Counter(snap.get(n).labels[ZONE] for n in placements.values())
    assert len(placements) == 8
    assert max(zones.values()) - min(zones.values()) <= 1
    assert zones == {"zone-a": 3, "zone-b": 3, "zone-c": 2}


def test_seventh_replica_pending_when_compute_nodes_are_full():
    # Each compute node fits one replica (1 CPU / 2Gi) and no more.
    snap = cluster(compute_cpu="1500m", compute_memory="3Gi")
    placements, results = schedule(snap, 7)
    assert len(placements) == 6
    seventh = results[-1]
    assert seventh.node is None
    assert seventh.message == (
        "0/9 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match "
        "Pod's node affinity/selector, 6 Insufficient cpu, 6 Insufficient memory. "
        "preemption: 0/9 nodes are available: 3 Preemption is not helpful for scheduling, "
        "6 No preemption victims found for incoming pod."
    )


def test_cordoned_zone_blocks_the_third_replica_through_topology_spread():
    # Zone c's nodes still count as a domain with 0 replicas, so zones a and b may
    # hold only one replica each until zone c takes one.
    snap = cluster(cordon_zone="c")
    placements, results = schedule(snap, 3)
    assert len(placements) == 2
    third = results[-1]
    assert third.message == (
        "0/9 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match "
        "Pod's node affinity/selector, 2 node(s) were unschedulable, 4 node(s) didn't match pod "
        "topology spread constraints. preemption: 0/9 nodes are available: 4 No preemption "
        "victims found for incoming pod, 5 Preemption is not helpful for scheduling."
    )
