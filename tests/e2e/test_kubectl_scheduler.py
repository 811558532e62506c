"""What a learner sees with the real kubectl when the simulated scheduler runs."""

from __future__ import annotations

import pytest

from app.sim.scheduler import Scheduler
from app.sim.scheduler.loop import SchedulerLoop

PICKY = """
apiVersion: v1
kind: Pod
metadata:
  name: picky
spec:
  nodeSelector:
    disk: ssd
  containers:
  - name: web
    image: nginx:1.27
"""

MESSAGE = (
    "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match "
    "Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not "
    "helpful for scheduling."
)


@pytest.mark.kubectl
def test_describe_shows_failed_scheduling_then_the_fix_schedules(sim_cluster, kubectl):
    kubectl("apply", "-f", "-", input=PICKY)
    # No back-off so the retry does not depend on the wall clock.
    scheduler = Scheduler(clock=sim_cluster.cluster.clock, initial_backoff=0, max_backoff=0)
    loop = SchedulerLoop(sim_cluster.cluster, scheduler=scheduler)
    loop.step()
    described = kubectl("describe", "pod", "picky").stdout
    assert "FailedScheduling" in described
    assert "default-scheduler" in described
    assert " ".join(MESSAGE.split()) in " ".join(described.split())
    events = kubectl(
        "get", "events", "--field-selector", "involvedObject.name=picky", "-o", "json"
    ).json()
    assert [e["message"] for e in events["items"]] == [MESSAGE]
    kubectl("label", "node", "node01", "disk=ssd")
    loop.step()
    wide = kubectl("get", "pod", "picky", "-o", "jsonpath={.spec.nodeName}").stdout
    assert wide == "node01"
    reasons = kubectl(
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=picky",
        "-o",
        "jsonpath={.items[*].reason}",
    ).stdout.split()
    assert sorted(reasons) == ["FailedScheduling", "Scheduled"]
