"""Self-tests of the scheduling, workload and Service labs on the simulator.

For every lab and every self-test it declares (untouched, solution, each cheat): a fresh
simulated cluster of the lab's shape (node labels, taints and capacity applied by the
simulator server at creation, asked for by the simulator provider as a lab session
does), the lab's setup applied by the provider, its control plane (kubelets,
kube-scheduler, kube-controller-manager) stepped on a manual clock until the setup has
settled, then the script with the real kubectl, more control-plane time, and a grade
that must lie within the self-test's bounds.

Clusters run on a manual clock, so every run is the same: `LabControlPlane` advances
it through the server's control plane.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config

from app.clusters.base import ClusterHandle, LabSetup
from app.clusters.simulator import SimulatorProvider, _SnapshotCache
from app.grading.context import GradeContext
from app.grading.engine import grade
from app.grading.labfile import Lab, load_lab
from app.grading.node_access import NoNodeAccess
from app.grading.reader import ClusterReader
from app.grading.result import GradeResult
from app.grading.selftest import run_script, verdict
from app.sim.controllers import ControllerManager
from app.sim.machinery.clock import ManualClock
from app.sim.machinery.cluster import Cluster
from app.sim.machinery.kubeconfig import write_kubeconfig
from app.sim.nodes import ClusterNodes
from app.sim.scheduler.loop import SchedulerLoop
from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster, kubectl_binary

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
SLUGS = (
    "pending-taint-toleration",
    "pending-node-affinity",
    "pending-insufficient-resources",
    "payment-api-placement",
    "readiness-probe-endpoints",
)
LABS: dict[str, Lab] = {slug: load_lab(LABS_ROOT / slug) for slug in SLUGS}
CASES = [
    pytest.param(slug, selftest, id=f"{slug}-{selftest['name']}")
    for slug, lab in LABS.items()
    for selftest in lab.data["selftests"]
]
# Cluster seconds the control plane runs before the setup is applied.
BOOT_SECONDS = 20
# Cluster seconds the control plane runs after the manifests are applied, so that the
# setup is what a learner finds: pods created, scheduled or Pending with their
# FailedScheduling events, containers started, probes run (kubelet's default probe
# period is 10 s; the scheduler retries unschedulable pods within 5 minutes at most).
SETUP_SECONDS = 40
# ... and after a script: a rollout of a few pods, each started and probed.
SETTLE_SECONDS = 90
# The fallback control plane is stepped once per cluster second, as the server's is.
STEP_SECONDS = 1


class LabControlPlane:
    """Steps the control plane of one simulated cluster on its manual clock: the
    kubelets (and the static control-plane pods), kube-scheduler and
    kube-controller-manager, each running only while its static pod runs.

    The server's own control plane (`cluster.control_plane`, what `POST
    /admin/clusters/{id}/tick` advances) is used when the server attached one; otherwise
    one is put together here from the same libraries."""

    def __init__(self, cluster: Cluster, clock: ManualClock) -> None:
        self.cluster = cluster
        self.clock = clock
        self.server_plane = getattr(cluster, "control_plane", None)
        if self.server_plane is not None:
            return
        # Node agents the server built for node access run only when a loop syncs them.
        self.nodes = cluster.node_access or ClusterNodes(cluster)
        if cluster.node_access is None:
            cluster.node_access = self.nodes
        self.scheduler = SchedulerLoop(cluster)
        self.controllers = ControllerManager.for_cluster(cluster)

    def step(self) -> None:
        self.nodes.sync()
        self.scheduler.tick(self.nodes.component_running("kube-scheduler"))
        self.controllers.tick(self.nodes.component_running("kube-controller-manager"))

    def run(self, seconds: int) -> None:
        """Advance the clock by `seconds`, stepping every component each second."""
        if self.server_plane is not None:
            self.server_plane.advance(seconds)
            return
        for _ in range(0, seconds, STEP_SECONDS):
            self.clock.advance(STEP_SECONDS)
            self.step()

    def close(self) -> None:
        if self.server_plane is None:
            self.controllers.close()


def kubectl_env(sim: SimCluster, home: Path) -> dict[str, str]:
    return {"KUBECONFIG": str(sim.kubeconfig_path), "HOME": str(home), "PATH": "/usr/bin:/bin"}


def provider_for(
    server: SimServer, folder: Path, snapshots: _SnapshotCache | None = None
) -> SimulatorProvider:
    """The simulator provider a lab session uses, on the test's server. With the test
    run's `setup_snapshots` a lab's setup is built once and restored for every test of
    that lab, as sessions do; without, every setup starts from the manifests."""
    ca_file = folder / "sim-ca.pem"
    ca_file.write_bytes(server.ca.cert_pem)
    return SimulatorProvider(
        [server.base_url],
        server.admin_token,
        ca_file=str(ca_file),
        snapshots=snapshots if snapshots is not None else _SnapshotCache(),
    )


def create_cluster(server: SimServer, lab: Lab, folder: Path) -> SimCluster:
    """A manual-clock cluster of the lab's shape, created by the provider through
    `POST /admin/clusters` (the server applies the shape's labels, taints, capacity)."""
    provider = provider_for(server, folder)
    handle = provider.create(lab.data["cluster"], clock="manual")
    cluster = server.clusters[handle.cluster_id]
    path = write_kubeconfig(server.kubeconfig(cluster), folder / "kubeconfig")
    return SimCluster(server, cluster, path, folder)


def apply_setup(
    sim: SimCluster, lab: Lab, folder: Path, snapshots: _SnapshotCache | None = None
) -> None:
    """Apply the lab's setup (manifests in order, then faults) the way a lab session
    does: through the simulator provider and the server's admin and node routes."""
    provider = provider_for(sim.server, folder, snapshots)
    handle = ClusterHandle("simulator", sim.id, {"url": sim.server.base_url})
    setup = LabSetup(
        slug=lab.slug,
        content_hash=hashlib.sha256((lab.folder / "lab.yaml").read_bytes()).hexdigest(),
        shape=lab.data["cluster"],
        manifests=[{"name": p.name, "content": p.read_text()} for p in lab.manifest_paths()],
        faults=list((lab.data.get("setup") or {}).get("faults") or []),
    )
    provider.apply_setup(handle, setup)


@dataclass
class LabRun:
    """A provisioned lab: the cluster, its control plane, and when the session began."""

    lab: Lab
    sim: SimCluster
    control: LabControlPlane
    home: Path
    started: datetime

    def script(self, name: str) -> str:
        home = {"HOME": str(self.home)}
        done = run_script(self.lab, name, self.sim.kubeconfig_path, extra_env=home)
        assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def kubectl(self, *args: str) -> str:
        done = subprocess.run(
            [kubectl_binary(), *args],
            env=kubectl_env(self.sim, self.home),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def grade(self, grade_id: str = "selftest") -> GradeResult:
        clock = self.control.clock
        client = config.new_client_from_config(config_file=str(self.sim.kubeconfig_path))
        try:
            context = GradeContext(
                grade_id=grade_id,
                session_started_at=self.started,
                grade_requested_at=clock.now(),
                clock=clock,
                hint_policy="always",
            )
            return grade(
                self.lab.checks, ClusterReader(client), NoNodeAccess(), context, self.lab.policy
            )
        finally:
            client.close()


@pytest.fixture
def provision(
    sim_server: SimServer, tmp_path: Path, setup_snapshots: _SnapshotCache
) -> Callable[[str], LabRun]:
    """`provision(slug)`: a cluster of the lab's shape with its setup applied and
    settled; the session starts one second after the setup."""
    planes: list[LabControlPlane] = []
    made: list[SimCluster] = []

    def make(slug: str) -> LabRun:
        lab = LABS[slug]
        home = tmp_path / f"home-{len(made)}"
        home.mkdir()
        sim = create_cluster(sim_server, lab, home)
        made.append(sim)
        clock = sim.cluster.clock
        assert isinstance(clock, ManualClock)
        control = LabControlPlane(sim.cluster, clock)
        planes.append(control)
        # A cluster that has been up a while: add-on pods placed, heartbeats posted.
        control.run(BOOT_SECONDS)
        apply_setup(sim, lab, home, setup_snapshots)
        control.run(SETUP_SECONDS)
        started = clock.advance(1)
        return LabRun(lab, sim, control, home, started)

    yield make
    for control in planes:
        control.close()
    for sim in made:
        if sim.id in sim_server.clusters:
            sim_server.delete_cluster(sim.id)


def fix_checks(lab: Lab) -> list[str]:
    return [c.id for c in lab.checks if c.points > 0]


@pytest.mark.parametrize(("slug", "selftest"), CASES)
def test_selftest_scores_within_its_bounds(
    provision: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    run = provision(slug)
    output = run.script(selftest["script"]) if selftest.get("script") else ""
    run.control.run(SETTLE_SECONDS)
    result = run.grade(f"selftest-{selftest['name']}")
    report = "\n".join(
        f"{'PASS' if c.passed else 'FAIL'} {c.id}: {c.detail or c.error or ''}"
        for c in result.checks
    )
    assert verdict(selftest, result) is None, f"{report}\n{output}"
    if selftest["name"] == "untouched":
        # The setup is broken: no fix check passes on its own, and each failed check
        # explains itself with a hint.
        assert [c for c in fix_checks(run.lab) if result.check(c).passed] == []
        assert all(c.hint for c in result.checks if not c.passed), report
    elif selftest["name"] == "solution" or selftest["name"].startswith("solution-"):
        assert all(c.passed for c in result.checks), report
    else:
        # A shortcut is stopped by a guard (the cap), not by luck.
        assert result.capped or result.raw_percentage <= selftest["max_percent"], report


# What the broken setup shows a learner (an event's reason and a part of its message
# that does not vary between runs); each lab's solution.md quotes the same words.
SYMPTOMS = {
    "pending-taint-toleration": (
        "jobs",
        "FailedScheduling",
        "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "3 node(s) had untolerated taint(s). preemption: 0/4 nodes are available: "
        "4 Preemption is not helpful for scheduling.",
    ),
    "pending-node-affinity": (
        "data",
        "FailedScheduling",
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't "
        "match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.",
    ),
    "pending-insufficient-resources": (
        "analytics",
        "FailedScheduling",
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.",
    ),
    "payment-api-placement": (
        "payments",
        "FailedScheduling",
        "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint(s), 3 node(s) didn't match pod topology spread "
        "constraints (missing required label).",
    ),
    "readiness-probe-endpoints": (
        "shop",
        "Unhealthy",
        "8080: connect: connection refused",
    ),
}


def prose(markdown: str) -> str:
    """The text of a Markdown file with comment markers and line breaks folded, so a
    message wrapped over several `#` lines reads as one sentence."""
    lines = [re.sub(r"^\s*#?\s*", "", line) for line in markdown.splitlines()]
    return " ".join(line for line in lines if line)


@pytest.mark.parametrize("slug", SLUGS)
def test_setup_shows_the_symptom_its_solution_teaches(
    provision: Callable[[str], LabRun], slug: str
) -> None:
    namespace, reason, words = SYMPTOMS[slug]
    run = provision(slug)
    messages = run.kubectl(
        "-n",
        namespace,
        "get",
        "events",
        f"--field-selector=reason={reason}",
        "-o",
        "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
    ).splitlines()
    assert messages and all(words in message for message in messages), messages
    assert words in prose((run.lab.folder / "solution.md").read_text())


def test_taint_removed_until_placed_then_restored_is_capped(
    provision: Callable[[str], LabRun],
) -> None:
    # A shortcut no script can express (it needs the scheduler to act in between):
    # untaint the pool, let the pods land, taint it again. NoSchedule never evicts, so
    # the pods keep running; only the toleration guard tells this from the fix.
    run = provision("pending-taint-toleration")
    run.kubectl("taint", "nodes", "node01", "node02", "dedicated=batch:NoSchedule-")
    run.control.run(SETTLE_SECONDS)
    run.kubectl("taint", "nodes", "node01", "node02", "dedicated=batch:NoSchedule")
    run.control.run(SETTLE_SECONDS)
    result = run.grade()
    assert result.check("pods-on-batch-pool").passed
    assert result.check("taint-still-present").passed
    assert not result.check("toleration-for-batch-taint").passed
    assert result.capped and result.percentage == run.lab.policy.cheat_cap_percent
