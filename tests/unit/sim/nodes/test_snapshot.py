"""Node state survives dump() -> JSON -> load() into another cluster."""

from __future__ import annotations

import json

from app.sim.bootstrap import create_cluster
from app.sim.machinery.clock import ManualClock
from app.sim.nodes import ClusterNodes


def test_dump_load_round_trip_continues_the_same_way(sim):
    sim.run_pod("crash", image="busybox", command=["sh", "-c", "echo boom; exit 1"])
    sim.nodes.bad_images.add("nginx:0.0")
    sim.shell("node02").run("echo note > /root/note.txt && systemctl stop kubelet")
    sim.tick(25, steps=5)
    data = json.loads(json.dumps(sim.nodes.dump()))
    cluster_data = json.loads(json.dumps(sim.cluster.snapshot()))

    clock = ManualClock(sim.clock.now())
    other = create_cluster("copy", nodes=3, clock=clock)
    other.restore(cluster_data)
    copy = ClusterNodes(other)
    copy.load(data)

    assert copy.read_file("node02", "/root/note.txt") == "note\n"
    assert "nginx:0.0" in copy.bad_images
    assert not copy.agent("node02").kubelet_running()
    for _ in range(10):
        sim.clock.advance(10)
        clock.advance(10)
        sim.nodes.sync()
        copy.sync()
    original = sim.pod("crash")["status"]["containerStatuses"][0]
    restored = other.store.get("", "pods", "default", "crash")["status"]["containerStatuses"][0]
    assert restored["restartCount"] == original["restartCount"] >= 3
    assert restored["state"] == original["state"]
    assert copy.logs("default", "crash", previous=True) == "boom\n"
    assert copy.shell("node02").run("systemctl is-active kubelet").stdout == "inactive\n"
