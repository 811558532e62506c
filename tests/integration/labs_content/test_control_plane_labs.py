"""Self-tests of the control-plane and node labs on the simulator, with the real kubectl.

For every lab of this share and every self-test it declares (untouched, solution, each
cheat): a fresh simulated cluster of the lab's shape on a manual clock, the lab's
manifests applied with kubectl, its faults applied through the node library, the
control plane (kubelets and static pods, kube-scheduler, kube-controller-manager)
stepped by the test, the script run with `lab-node NODE COMMAND` reaching the nodes,
then a grade whose bounds are the lab's own.

The control plane is driven here rather than by the server so that simulated time is
the test's: the cluster settles for `SETTLE_SECONDS` after the setup (the faults show),
the session starts, the script runs, the cluster runs `AFTER_SCRIPT_SECONDS` more, and
a grade's live waits (probe pods) advance the same clock instead of sleeping.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config

from app.grading.context import GradeContext
from app.grading.engine import grade
from app.grading.labfile import Lab, load_lab
from app.grading.node_access import SimulatorNodeAccess
from app.grading.reader import ClusterReader
from app.grading.result import GradeResult
from app.grading.selftest import run_script, verdict
from app.sim.clock import ManualClock
from app.sim.controllers import ControllerManager
from app.sim.nodes import ClusterNodes
from app.sim.scheduler.loop import SchedulerLoop
from tests.fixtures.sim import kubectl_binary

pytestmark = pytest.mark.kubectl

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
SLUGS = tuple(s for s in (
    "scheduler-misspelled-flag",
    "scheduler-bad-kubeconfig",
    "scheduler-bad-image",
    "controller-manager-broken",
    "kubelet-stopped",
    "kubelet-misconfigured",
    "static-pod-create",
    "etcd-snapshot",
    "leader-election-leases",
) if (LABS_ROOT / s).exists())
LABS = {slug: load_lab(LABS_ROOT / slug) for slug in SLUGS}
# Cluster seconds the control plane runs before the setup is applied.
BOOT_SECONDS = 20
# Cluster seconds between the setup and the session start: long enough for every fault
# to show (CrashLoopBackOff, a NotReady node after the 50 s node monitor grace period).
SETTLE_SECONDS = 90
# Cluster seconds between the script and the grade: a fixed static pod restarts, a new
# component identity waits out the old Lease (15 s), the node turns Ready, and
# `condition_stable` windows (30 s) elapse.
AFTER_SCRIPT_SECONDS = 120
# One control-plane pass per simulated second, as the server's loop does at speed 1.
STEP_SECONDS = 1.0

CASES = [
    pytest.param(slug, test, id=f"{slug}-{test['name']}")
    for slug, lab in LABS.items()
    for test in lab.data["selftests"]
]


class ControlPlane:
    """The components of one simulated cluster, stepped on its manual clock: every
    node's kubelet (static pods included), kube-scheduler and kube-controller-manager,
    each running only while its static pod runs, and restarted under a new identity
    when its pod comes back (as a new process does)."""

    def __init__(self, cluster: Any, bad_images: set[str]) -> None:
        self.cluster = cluster
        self.clock: ManualClock = cluster.clock
        self.nodes = ClusterNodes(cluster, bad_images=bad_images)
        self.scheduler = SchedulerLoop(cluster)
        self.manager = ControllerManager.for_cluster(cluster)
        self.running = {"kube-scheduler": True, "kube-controller-manager": True}
        self.elapsed = 0.0
        self.lock = threading.RLock()

    def _component(self, name: str) -> bool:
        now = self.nodes.component_running(name)
        if now and not self.running[name]:
            if name == "kube-scheduler":
                self.scheduler.elector.restart()
            else:
                self.manager.close()
                self.manager = ControllerManager.for_cluster(self.cluster)
        self.running[name] = now
        return now

    def advance(self, seconds: float) -> None:
        """Run the cluster for `seconds` of simulated time."""
        with self.lock:
            left = seconds
            while left > 1e-9:
                step = min(STEP_SECONDS, left)
                self.clock.advance(step)
                self.elapsed += step
                left -= step
                self.nodes.sync()
                self.scheduler.tick(self._component("kube-scheduler"))
                self.manager.tick(self._component("kube-controller-manager"))

    def run(self, node: str, command: str) -> tuple[int, str, str]:
        with self.lock:
            if node not in self.nodes.agents:
                return 255, "", f"ssh: Could not resolve hostname {node}\n"
            result = self.nodes.shell(node).run(command)
            return result.exit_code, result.stdout, result.stderr


class NodeExecServer:
    """`lab-node` for scripts: a loopback HTTP endpoint running one command line on a
    node of the test's cluster (what `certprep lab ssh SESSION NODE CMD` does through the
    REST API), and the client program that calls it."""

    def __init__(self, plane: ControlPlane, folder: Path) -> None:
        runner = plane.run

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                code, out, err = runner(body["node"], body["command"])
                data = json.dumps({"exit_code": code, "stdout": out, "stderr": err}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.client = folder / "lab_node.py"
        self.client.write_text(CLIENT_PROGRAM)

    @property
    def command(self) -> list[str]:
        return [sys.executable, str(self.client), f"http://127.0.0.1:{self.httpd.server_port}"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


CLIENT_PROGRAM = """\
import json, sys, urllib.request
url, node, words = sys.argv[1], sys.argv[2], sys.argv[3:]
# Like ssh: the remaining words form one command line for the node's shell.
body = json.dumps({"node": node, "command": " ".join(words)}).encode()
with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as r:
    answer = json.load(r)
sys.stdout.write(answer["stdout"])
sys.stderr.write(answer["stderr"])
sys.exit(answer["exit_code"])
"""


class LabRun:
    """One lab on one fresh cluster: setup applied, control plane attached."""

    def __init__(self, lab: Lab, sim: Any, plane: ControlPlane, lab_node: NodeExecServer) -> None:
        self.lab = lab
        self.sim = sim
        self.plane = plane
        self.lab_node = lab_node
        self.started_at: datetime | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.sim.workdir)}

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [kubectl_binary(), *args],
            env={"KUBECONFIG": str(self.sim.kubeconfig_path), **self.env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def apply_setup(self) -> None:
        """The lab's manifests with kubectl, then its faults, before any component runs
        (the order the lab service uses: manifests, then faults)."""
        for manifest in self.lab.manifest_paths():
            done = self.kubectl("apply", "-f", str(manifest))
            assert done.returncode == 0, done.stderr
        for fault in self.lab.data["setup"]["faults"]:
            apply_fault(self.plane, fault)

    def start_session(self) -> None:
        self.plane.advance(SETTLE_SECONDS)
        self.started_at = self.plane.clock.now()

    def script(self, name: str) -> subprocess.CompletedProcess[str]:
        done = run_script(
            self.lab,
            name,
            self.sim.kubeconfig_path,
            node_command=self.lab_node.command,
            extra_env=self.env,
        )
        assert done.returncode == 0, f"{name} exited {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    def grade(self, grade_id: str) -> GradeResult:
        assert self.started_at is not None
        client = config.new_client_from_config(config_file=str(self.sim.kubeconfig_path))
        try:
            context = GradeContext(
                grade_id=grade_id,
                session_started_at=self.started_at,
                grade_requested_at=self.plane.clock.now(),
                clock=self.plane.clock,
                hint_policy="always",
                # Live waits run the cluster instead of sleeping.
                monotonic=lambda: self.plane.elapsed,
                sleep=self.plane.advance,
            )
            return grade(
                self.lab.checks,
                ClusterReader(client),
                SimulatorNodeAccess(self.plane.nodes),
                context,
                self.lab.policy,
            )
        finally:
            client.close()


def apply_fault(plane: ControlPlane, fault: dict[str, Any]) -> None:
    """One setup fault through the node library, as the providers' `apply_faults` does
    through node access."""
    import re

    kind = fault["kind"]
    if kind == "node_file_edit":
        text = plane.nodes.read_file(fault["node"], fault["path"])
        edited, count = re.subn(fault["find"], fault["replace"], text, count=fault["count"])
        assert count, f"fault {fault} found nothing to replace"
        plane.nodes.write_file(fault["node"], fault["path"], edited)
    elif kind == "node_file_write":
        plane.nodes.write_file(fault["node"], fault["path"], fault["content"])
    elif kind == "node_service":
        verb = {"running": "start", "stopped": "stop", "disabled": "disable --now"}[fault["state"]]
        code, _, err = plane.run(fault["node"], f"systemctl {verb} {fault['service']}")
        assert code == 0, err
    elif kind == "image_bad":
        plane.nodes.bad_images.add(fault["image"])
    else:
        raise AssertionError(f"unknown fault kind {kind}")


@pytest.fixture
def lab_run(sim_cluster_factory: Any, tmp_path: Path) -> Iterator[Callable[[str], LabRun]]:
    servers: list[NodeExecServer] = []

    def make(slug: str) -> LabRun:
        lab = LABS[slug]
        shape = lab.data["cluster"]["nodes"]
        sim = sim_cluster_factory(nodes=len(shape), clock=ManualClock())
        names = sorted(n["metadata"]["name"] for n in sim.store.list("", "nodes")[0])
        assert names == sorted(n["name"] for n in shape)
        # The test steps the control plane itself; a server-side one would race it.
        sim.cluster.loops.clear()
        bad = {f["image"] for f in lab.data["setup"]["faults"] if f["kind"] == "image_bad"}
        plane = ControlPlane(sim.cluster, bad)
        servers.append(NodeExecServer(plane, sim.workdir))
        run = LabRun(lab, sim, plane, servers[-1])
        # A cluster that has been up for a while: components lead their Leases and
        # every node has posted its status before the lab breaks something.
        plane.advance(BOOT_SECONDS)
        run.apply_setup()
        run.start_session()
        return run

    yield make
    for server in servers:
        server.close()


@pytest.mark.parametrize(("slug", "selftest"), CASES)
def test_selftest_scores_within_its_bounds(
    lab_run: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    run = lab_run(slug)
    if selftest.get("script"):
        run.script(selftest["script"])
    run.plane.advance(AFTER_SCRIPT_SECONDS)
    result = run.grade(f"selftest-{selftest['name']}")
    summary = [(c.id, c.passed, c.earned, c.detail) for c in result.checks]
    assert verdict(selftest, result) is None, (result.percentage, summary)
    if selftest["name"] == "untouched":
        assert result.earned == 0, summary
    if selftest["name"] == "solution":
        assert all(c.passed and not c.error for c in result.checks), summary


@pytest.mark.parametrize("slug", SLUGS)
def test_every_lab_declares_untouched_solution_and_a_cheat(slug: str) -> None:
    lab = LABS[slug]
    names = [t["name"] for t in lab.data["selftests"]]
    assert names[:2] == ["untouched", "solution"]
    cheats = [t for t in lab.data["selftests"] if t["name"].startswith("cheat-")]
    assert cheats, "every lab has at least one cheat"
    for test in cheats:
        assert test["max_percent"] <= lab.policy.cheat_cap_percent
        assert lab.script_path(test["script"]).is_file()
    assert (lab.folder / "solution.md").is_file()


def test_regrading_a_solved_scheduler_lab_gives_the_same_result(
    lab_run: Callable[[str], LabRun],
) -> None:
    run = lab_run("scheduler-misspelled-flag")
    run.script("solution")
    run.plane.advance(AFTER_SCRIPT_SECONDS)
    first, second = run.grade("g-1"), run.grade("g-1")
    # The probe pod is a new object each time; everything graded from it is the same.
    assert [(c.id, c.passed, c.earned) for c in first.checks] == [
        (c.id, c.passed, c.earned) for c in second.checks
    ]
    assert first.percentage == second.percentage == 100
