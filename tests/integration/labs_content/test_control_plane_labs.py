"""Self-tests of the control-plane and node labs on the simulator, with the real kubectl.

For every lab of this share and every self-test it declares (untouched, solution, each
cheat): a fresh manual-clock cluster of the lab's shape on the simulator server, set up
by the simulator provider (`apply_setup`: manifests through the API, faults through the
node-access routes), the script run with the real kubectl and `lab-node NODE COMMAND`
reaching the same node routes, then a grade whose bounds are the lab's own.

Simulated time is the test's: the server's control plane (kubelets and static pods,
kube-scheduler, kube-controller-manager) only moves when the test advances it. The
cluster runs `BOOT_SECONDS` before the setup, `SETTLE_SECONDS` after it (the faults
show) before the session starts, `AFTER_SCRIPT_SECONDS` after the script, and a
grade's live waits (probe pods) advance the same clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config

from app.clusters.base import ClusterHandle, LabSetup, ProviderNodeAccess
from app.clusters.simulator import SimulatorProvider, _SnapshotCache
from app.grading.context import GradeContext
from app.grading.engine import grade
from app.grading.labfile import Lab, load_lab
from app.grading.reader import ClusterReader
from app.grading.result import GradeResult
from app.grading.selftest import run_script, verdict

pytestmark = pytest.mark.kubectl

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"
SLUGS = (
    "pending-pods-control-plane-1",
    "pending-pods-control-plane-2",
    "pending-pods-control-plane-3",
    "deployment-without-pods",
    "node-notready-1",
    "node-notready-2",
    "static-pod-create",
    "etcd-snapshot",
    "etcd-snapshot-restore",
    "leader-election-leases",
)
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
# Long enough for pods on a NotReady node to be evicted: DefaultTolerationSeconds' 300 s
# not-ready/unreachable tolerations, plus the time the session has already run.
EVICTION_WAIT_SECONDS = 360

CASES = [
    pytest.param(slug, test, id=f"{slug}-{test['name']}")
    for slug, lab in LABS.items()
    for test in lab.data["selftests"]
]


class NodeCommand:
    """`lab-node NODE COMMAND...` for scripts: a small client of the simulator's
    node-access route (`POST /admin/clusters/{id}/nodes/{node}/exec`, the route
    `certprep lab ssh` reaches through the REST API), written into the test's folder."""

    def __init__(self, exec_base: str, admin_token: str, ca_file: Path, folder: Path) -> None:
        self.client = folder / "lab_node.py"
        self.client.write_text(CLIENT_PROGRAM)
        self.command = [sys.executable, str(self.client), exec_base, admin_token, str(ca_file)]


CLIENT_PROGRAM = """\
import json, ssl, sys, urllib.parse, urllib.request
base, token, ca, node, words = *sys.argv[1:4], sys.argv[4], sys.argv[5:]
# Like ssh: the remaining words form one command line for the node's shell.
body = json.dumps({"command": " ".join(words)}).encode()
request = urllib.request.Request(
    f"{base}/{urllib.parse.quote(node)}/exec", data=body, method="POST",
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
)
context = ssl.create_default_context(cafile=ca)
with urllib.request.urlopen(request, context=context) as response:
    answer = json.load(response)
sys.stdout.write(answer["stdout"])
sys.stderr.write(answer["stderr"])
sys.exit(answer["exit_code"])
"""


def lab_setup(lab: Lab) -> LabSetup:
    """What the provider applies: the lab's shape, manifests (in order) and faults."""
    return LabSetup(
        slug=lab.slug,
        # Only keys this test's private snapshot cache.
        content_hash=hashlib.sha256((lab.folder / "lab.yaml").read_bytes()).hexdigest(),
        shape=lab.data["cluster"],
        manifests=[{"name": p.name, "content": p.read_text()} for p in lab.manifest_paths()],
        faults=list(lab.data["setup"]["faults"]),
    )


class LabRun:
    """One lab on a fresh manual-clock cluster of the simulator server, provisioned and
    set up through the simulator provider, with its control plane stepped by the test."""

    def __init__(self, lab: Lab, server: Any, folder: Path) -> None:
        self.lab = lab
        self.server = server
        self.folder = folder
        ca_file = folder / "sim-ca.pem"
        ca_file.write_bytes(server.ca.cert_pem)
        # A cache of its own: every test provisions from the manifests, not a snapshot.
        self.provider = SimulatorProvider(
            [server.base_url], server.admin_token, ca_file=str(ca_file), snapshots=_SnapshotCache()
        )
        shape = lab.data["cluster"]
        response = self.provider.session.post(
            f"{server.base_url}/admin/clusters",
            json={"nodes": len(shape["nodes"]), "clock": "manual", "shape": shape},
            verify=str(ca_file),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        doc = response.json()
        self.handle = ClusterHandle(
            "simulator",
            doc["id"],
            {"url": server.base_url, "server": doc["server"], "nodes": shape["nodes"]},
        )
        self.cluster = server.clusters[doc["id"]]
        self.plane = self.cluster.control_plane
        assert self.plane is not None, "the simulator server attaches a control plane"
        names = sorted(n["metadata"]["name"] for n in self.cluster.store.list("", "nodes")[0])
        # A spare machine has no Node until it joins.
        assert names == sorted(n["name"] for n in shape["nodes"] if n["role"] != "spare")
        self.kubeconfig_path = folder / "kubeconfig"
        self.kubeconfig_path.write_text(self.provider.kubeconfig(self.handle))
        exec_base = self.provider._cluster_url(self.handle, "nodes")
        self.lab_node = NodeCommand(exec_base, server.admin_token, ca_file, folder)
        self.elapsed = 0.0
        self.started_at: datetime | None = None

    def advance(self, seconds: float) -> None:
        """Run the cluster for `seconds` of simulated time (what the tick route does)."""
        self.plane.advance(seconds)
        self.elapsed += seconds

    def provision(self) -> None:
        """A cluster that has been up a while, the lab's setup applied by the provider
        (manifests through the API, then faults through node access), then time for
        the faults to show before the session starts."""
        self.advance(BOOT_SECONDS)
        self.provider.apply_setup(self.handle, lab_setup(self.lab))
        self.advance(SETTLE_SECONDS)
        self.started_at = self.cluster.clock.now()

    def script(self, name: str) -> subprocess.CompletedProcess[str]:
        done = run_script(
            self.lab,
            name,
            self.kubeconfig_path,
            node_command=self.lab_node.command,
            extra_env={"HOME": str(self.folder)},
        )
        assert done.returncode == 0, f"{name} exited {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    def grade(self, grade_id: str) -> GradeResult:
        assert self.started_at is not None
        client = config.new_client_from_config(config_file=str(self.kubeconfig_path))
        try:
            context = GradeContext(
                grade_id=grade_id,
                session_started_at=self.started_at,
                grade_requested_at=self.cluster.clock.now(),
                clock=self.cluster.clock,
                hint_policy="always",
                # Live waits (probe pods) run the cluster instead of sleeping.
                monotonic=lambda: self.elapsed,
                sleep=self.advance,
            )
            return grade(
                self.lab.checks,
                ClusterReader(client),
                ProviderNodeAccess(self.provider, self.handle),
                context,
                self.lab.policy,
            )
        finally:
            client.close()

    def close(self) -> None:
        self.provider.delete(self.handle)


@pytest.fixture
def lab_run(sim_server: Any, tmp_path: Path) -> Iterator[Callable[[str], LabRun]]:
    runs: list[LabRun] = []

    def make(slug: str) -> LabRun:
        folder = tmp_path / f"run-{len(runs)}"
        folder.mkdir()
        runs.append(LabRun(LABS[slug], sim_server, folder))
        runs[-1].provision()
        return runs[-1]

    yield make
    for run in runs:
        run.close()


@pytest.mark.parametrize(("slug", "selftest"), CASES)
def test_selftest_scores_within_its_bounds(
    lab_run: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    run = lab_run(slug)
    if selftest.get("script"):
        run.script(selftest["script"])
    run.advance(AFTER_SCRIPT_SECONDS)
    result = run.grade(f"selftest-{selftest['name']}")
    summary = [(c.id, c.passed, c.earned, c.detail) for c in result.checks]
    assert verdict(selftest, result) is None, (result.percentage, summary)
    if selftest["name"] == "untouched":
        assert result.earned == 0, summary
    if selftest["name"] == "solution" or selftest["name"].startswith("solution-"):
        assert all(c.passed and not c.error for c in result.checks), summary


@pytest.mark.parametrize("slug", SLUGS)
def test_every_lab_declares_untouched_solution_and_a_cheat(slug: str) -> None:
    lab = LABS[slug]
    names = [t["name"] for t in lab.data["selftests"]]
    assert names[:2] == ["untouched", "solution"]
    cheats = [t for t in lab.data["selftests"] if t["name"].startswith("cheat-")]
    assert cheats, "every lab has at least one cheat"
    alternatives = [t for t in lab.data["selftests"] if t["name"].startswith("solution-")]
    assert alternatives, "every lab proves a second valid fix"
    assert all(t["min_percent"] == 100 for t in alternatives)
    for test in cheats:
        assert test["max_percent"] <= lab.policy.cheat_cap_percent
        assert lab.script_path(test["script"]).is_file()
    assert (lab.folder / "solution.md").is_file()


@pytest.mark.parametrize("slug", SLUGS)
def test_every_check_explains_itself(slug: str) -> None:
    lab = LABS[slug]
    for check in lab.data["checks"]:
        assert check["message"].strip() and (check.get("hint") or "").strip(), check["id"]
    assert any(c.get("guard") for c in lab.data["checks"]), "a guard stops shortcuts"
    # A lab is exam-shaped: it names the node or namespace the learner works on.
    tasks = " ".join(lab.data["tasks"])
    assert any(name in tasks for name in ("controlplane", "node01")), tasks


@pytest.mark.parametrize("slug", ["node-notready-1", "node-notready-2"])
def test_a_late_kubelet_fix_still_scores_full_after_evictions(
    lab_run: Callable[[str], LabRun], slug: str
) -> None:
    run = lab_run(slug)
    before = {p["metadata"]["uid"] for p in tracker_pods(run)}
    # Past the 300 s not-ready/unreachable toleration: the node's pods are evicted and
    # their replacements wait Pending for node01.
    run.advance(EVICTION_WAIT_SECONDS)
    replaced = tracker_pods(run)
    assert before and not before & {p["metadata"]["uid"] for p in replaced}
    assert all(not (p.get("spec") or {}).get("nodeName") for p in replaced)
    run.script("solution")
    run.advance(AFTER_SCRIPT_SECONDS)
    result = run.grade("late-fix")
    assert result.percentage == 100, [(c.id, c.detail) for c in result.checks if not c.passed]


def tracker_pods(run: LabRun) -> list[dict[str, Any]]:
    pods, _ = run.cluster.store.list("", "pods", "logistics")
    return [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "tracker"]


def test_regrading_a_solved_scheduler_lab_gives_the_same_result(
    lab_run: Callable[[str], LabRun],
) -> None:
    run = lab_run("pending-pods-control-plane-1")
    run.script("solution")
    run.advance(AFTER_SCRIPT_SECONDS)
    first, second = run.grade("g-1"), run.grade("g-1")
    # The probe pod is a new object each time; everything graded from it is the same.
    assert [(c.id, c.passed, c.earned) for c in first.checks] == [
        (c.id, c.passed, c.earned) for c in second.checks
    ]
    assert first.percentage == second.percentage == 100


# Cheats whose shortcut visibly works (the first check named passes) and still stay
# under the cap because the guard named second fails: not a script that did nothing.
EFFECTIVE_CHEATS = [
    ("pending-pods-control-plane-1", "cheat-bind-by-hand", "web-available", "probe-scheduled"),
    ("pending-pods-control-plane-1", "cheat-nodename", "web-available", "web-replicas"),
    (
        "pending-pods-control-plane-3",
        "cheat-nodename",
        "thumbnails-available",
        "thumbnails-unchanged",
    ),
    # Any pullable tag starts the scheduler; only the cluster's own version fixes it.
    (
        "pending-pods-control-plane-3",
        "cheat-other-version",
        "thumbnails-available",
        "manifest-fixed",
    ),
    # A second, healthy static default-scheduler runs and binds pods (the probe passes),
    # as on kubeadm; the broken manifest stays, so its guard caps the grade.
    *[
        (f"pending-pods-control-plane-{n}", "cheat-second-static-scheduler", passing, guard)
        for n in (1, 2, 3)
        for passing, guard in (("probe-scheduled", "manifest-fixed"),)
    ],
    ("etcd-snapshot", "cheat-touch-file", "snapshot-file", "snapshot-valid"),
    ("etcd-snapshot-restore", "cheat-recreate-by-hand", "gateway-back", "gateway-is-original"),
    ("leader-election-leases", "cheat-swapped", "controller-manager-leader", "scheduler-leader"),
]


@pytest.mark.parametrize(("slug", "script", "passing", "guard"), EFFECTIVE_CHEATS)
def test_cheat_takes_effect_yet_stays_under_the_cap(
    lab_run: Callable[[str], LabRun], slug: str, script: str, passing: str, guard: str
) -> None:
    run = lab_run(slug)
    run.script(script)
    run.advance(AFTER_SCRIPT_SECONDS)
    result = run.grade(f"cheat-{script}")
    assert result.check(passing).passed, result.check(passing).detail
    assert result.check(guard).guard and not result.check(guard).passed
    assert result.percentage <= LABS[slug].policy.cheat_cap_percent
