"""Shared parts of the kubectl-only lab self-test modules (one module per CKA domain).

Each module lists its labs in `SLUGS`, builds a `provision` fixture with `provisioner`
and runs every self-test with `check_selftest`: a manual-clock cluster of the lab's
shape, the setup applied by the simulator provider from a snapshot built once per test
run (`setup_snapshots`), the control plane stepped until the setup has settled, the
script with the real kubectl, more control-plane time, and a grade that must lie within
the self-test's bounds. The pieces are those of `test_scheduling_labs`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.clusters.simulator import _SnapshotCache
from app.grading.labfile import Lab, load_lab
from app.grading.selftest import verdict
from app.sim.machinery.clock import ManualClock
from app.sim.server import SimServer
from tests.fixtures.sim import SimCluster, kubectl_binary
from tests.integration.labs_content.test_scheduling_labs import (
    BOOT_SECONDS,
    SETTLE_SECONDS,
    SETUP_SECONDS,
    LabControlPlane,
    LabRun,
    apply_setup,
    create_cluster,
    fix_checks,
    kubectl_env,
)

LABS_ROOT = Path(__file__).resolve().parents[3] / "labs"


def standard_tests(slugs: tuple[str, ...]) -> tuple[dict[str, Lab], Any, Any, Any]:
    """What every lab self-test module runs, for its labs: (the loaded labs, the
    `provision` fixture, the self-test bounds test, the lab-text test). A module binds
    them to module names so pytest collects them:

        LABS, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself = (
            support.standard_tests(SLUGS)
        )
    """
    labs = load(slugs)

    @pytest.fixture
    def provision(
        sim_server: SimServer, tmp_path: Path, setup_snapshots: _SnapshotCache
    ) -> Iterator[Callable[[str], LabRun]]:
        make, close = provisioner(labs, sim_server, tmp_path, setup_snapshots)
        yield make
        close()

    @pytest.mark.parametrize(("slug", "selftest"), cases(labs))
    def test_selftest_scores_within_its_bounds(
        provision: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
    ) -> None:
        check_selftest(provision(slug), selftest)

    @pytest.mark.parametrize("slug", slugs)
    def test_lab_text_explains_itself(slug: str) -> None:
        check_lab_text(labs[slug])

    return labs, provision, test_selftest_scores_within_its_bounds, test_lab_text_explains_itself


def load(slugs: tuple[str, ...]) -> dict[str, Lab]:
    return {slug: load_lab(LABS_ROOT / slug) for slug in slugs}


def cases(labs: dict[str, Lab]) -> list[Any]:
    """(slug, self-test) for every self-test of every lab, with readable ids."""
    return [
        pytest.param(slug, selftest, id=f"{slug}-{selftest['name']}")
        for slug, lab in labs.items()
        for selftest in lab.data["selftests"]
    ]


def provisioner(
    labs: dict[str, Lab], server: SimServer, tmp_path: Path, snapshots: _SnapshotCache
) -> tuple[Callable[[str], LabRun], Callable[[], None]]:
    """`(make, close)`: `make(slug)` gives a cluster of the lab's shape with its setup
    applied and settled (the session starts one second later); `close()` deletes them."""
    planes: list[LabControlPlane] = []
    made: list[SimCluster] = []

    def make(slug: str) -> LabRun:
        lab = labs[slug]
        home = tmp_path / f"home-{len(made)}"
        home.mkdir()
        sim = create_cluster(server, lab, home)
        made.append(sim)
        clock = sim.cluster.clock
        assert isinstance(clock, ManualClock)
        control = LabControlPlane(sim.cluster, clock)
        planes.append(control)
        control.run(BOOT_SECONDS)
        apply_setup(sim, lab, home, snapshots)
        control.run(SETUP_SECONDS)
        return LabRun(lab, sim, control, home, clock.advance(1))

    def close() -> None:
        for control in planes:
            control.close()
        for sim in made:
            if sim.id in server.clusters:
                server.delete_cluster(sim.id)

    return make, close


def report(result: Any) -> str:
    return "\n".join(
        f"{'PASS' if c.passed else 'FAIL'} {c.id}: {c.detail or c.error or ''}"
        for c in result.checks
    )


def check_selftest(run: LabRun, selftest: dict[str, Any]) -> None:
    """Run one self-test on a provisioned lab and assert what it promises: within its
    bounds; untouched passes no fix check and explains each failure with a hint; a
    solution passes every check; a cheat is held down by a guard, not by luck."""
    output = run.script(selftest["script"]) if selftest.get("script") else ""
    run.control.run(SETTLE_SECONDS)
    result = run.grade(f"selftest-{selftest['name']}")
    text = report(result)
    assert verdict(selftest, result) is None, f"{result.percentage}\n{text}\n{output}"
    name = selftest["name"]
    if name == "untouched":
        assert [c for c in fix_checks(run.lab) if result.check(c).passed] == [], text
        assert all(c.hint for c in result.checks if not c.passed), text
    elif name == "solution" or name.startswith("solution-"):
        assert all(c.passed and not c.error for c in result.checks), text
    else:
        assert result.capped or result.raw_percentage <= selftest["max_percent"], text
        assert not any(c.error for c in result.checks), text


def check_lab_text(lab: Lab) -> None:
    """What the learner reads before the session: every check has a message and a hint,
    a guard stops shortcuts, the lab cites its source, and the tasks name a namespace."""
    for check in lab.data["checks"]:
        assert check["message"].strip() and (check.get("hint") or "").strip(), check["id"]
    assert any(c.get("guard") for c in lab.data["checks"]), "a guard stops shortcuts"
    assert lab.data.get("source", "").startswith("https://kubernetes.io/docs/"), lab.slug
    assert re.search(r"namespace\s+`[a-z0-9-]+`", " ".join(lab.data["tasks"])), lab.slug
    assert "seed" not in (lab.folder / "solution.md").read_text().lower()
    visible = " ".join([lab.data["title"], lab.data.get("description", "")])
    visible += " ".join(c["message"] for c in lab.data["checks"])
    assert "seed" not in visible.lower()


def prose(markdown: str) -> str:
    """Markdown with comment markers and line breaks folded, so a message wrapped over
    several `#` lines reads as one sentence."""
    lines = [re.sub(r"^\s*#?\s*", "", line) for line in markdown.splitlines()]
    return " ".join(line for line in lines if line)


def check_symptom(run: LabRun, namespace: str, reason: str, words: str) -> None:
    """The broken setup shows an event with `reason` (any, when empty) whose message
    holds `words`, and the lab's solution.md quotes them."""
    # An empty reason: any event (the reason of some simulated events may still change).
    select = [f"--field-selector=reason={reason}"] if reason else []
    messages = run.kubectl(
        "-n",
        namespace,
        "get",
        "events",
        *select,
        "-o",
        "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
    ).splitlines()
    assert any(words in message for message in messages), messages
    assert words in prose((run.lab.folder / "solution.md").read_text())


def check_effective_cheat(run: LabRun, script: str, passing: str, guard: str) -> None:
    """A shortcut that visibly works (`passing` passes) is still capped because the
    guard `guard` fails: not a script that did nothing."""
    run.script(script)
    run.control.run(SETTLE_SECONDS)
    result = run.grade(f"cheat-{script}")
    assert result.check(passing).passed, report(result)
    assert result.check(guard).guard and not result.check(guard).passed, report(result)
    assert result.percentage <= run.lab.policy.cheat_cap_percent


def kubectl_any(run: LabRun, *args: str) -> str:
    """kubectl's standard output whatever its exit code (`auth can-i` exits 1 on no)."""
    return _kubectl(run, *args).stdout


def kubectl_any_err(run: LabRun, *args: str) -> str:
    """kubectl's standard error whatever its exit code."""
    return _kubectl(run, *args).stderr


def _kubectl(run: LabRun, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_binary(), *args],
        env=kubectl_env(run.sim, run.home),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
