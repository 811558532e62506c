"""Self-tests of the pod-network labs (Ingress, Gateway API, NetworkPolicy, DNS) on the
simulator, with the real kubectl.

The clusters and their control plane are those of the control-plane labs
(`test_control_plane_labs.LabRun`: a manual-clock cluster of the lab's shape, add-ons
included, set up by the simulator provider); the checks of these labs reach the pod
network from a node shell (`curl` through the ingress controller's nodePort), so the
grade runs with node access, as a lab session's does.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.grading.labfile import Lab
from app.grading.selftest import verdict
from tests.fixtures.sim import kubectl_binary
from tests.integration.labs_content.support import cases, check_lab_text, load
from tests.integration.labs_content.test_control_plane_labs import LabRun

pytestmark = pytest.mark.kubectl

SLUGS = (
    "shop-ingress-routes",
    "orders-site-gateway-timeout",
    "service-names-not-found",
    "services-time-out-everywhere",
    "tickets-gateway-route",
    "shop-namespace-lockdown",
)
LABS: dict[str, Lab] = load(SLUGS)
CASES = cases(LABS)
# Cluster seconds after a script: new pods scheduled, started and probed, controllers
# (EndpointSlices, Ingress and Gateway status) caught up.
AFTER_SCRIPT_SECONDS = 60


def lab_runner(labs: dict[str, Lab]) -> Any:
    """A `lab_run` fixture for `labs`: provisions a fresh cluster of a lab per call,
    closes them all at the end (the lifecycle labs' module uses it too)."""

    @pytest.fixture
    def lab_run(sim_server: Any, tmp_path: Path) -> Iterator[Callable[[str], LabRun]]:
        runs: list[LabRun] = []

        def make(slug: str) -> LabRun:
            folder = tmp_path / f"run-{len(runs)}"
            folder.mkdir()
            runs.append(LabRun(labs[slug], sim_server, folder))
            runs[-1].provision()
            return runs[-1]

        yield make
        for run in runs:
            run.close()

    return lab_run


lab_run = lab_runner(LABS)


@pytest.mark.parametrize(("slug", "selftest"), CASES)
def test_selftest_scores_within_its_bounds(
    lab_run: Callable[[str], LabRun], slug: str, selftest: dict[str, Any]
) -> None:
    check_selftest(lab_run(slug), selftest, AFTER_SCRIPT_SECONDS)


@pytest.mark.parametrize("slug", SLUGS)
def test_lab_text_explains_itself(slug: str) -> None:
    check_lab_text(LABS[slug])


def check_selftest(run: LabRun, selftest: dict[str, Any], after_script: int) -> None:
    """Run one self-test on a provisioned lab and check its grade: within the bounds;
    `untouched` earns nothing and explains every failed check with a hint; a solution
    passes every check; a shortcut stays under the cap (by a guard when it scores)."""
    if selftest.get("script"):
        run.script(selftest["script"])
    run.advance(after_script)
    result = run.grade(f"selftest-{selftest['name']}")
    summary = [(c.id, c.passed, c.earned, c.detail or c.error) for c in result.checks]
    assert verdict(selftest, result) is None, (result.percentage, summary)
    if selftest["name"] == "untouched":
        assert result.earned == 0, summary
        assert all(c.hint for c in result.checks if not c.passed), summary
    elif selftest["name"] == "solution" or selftest["name"].startswith("solution-"):
        assert all(c.passed and not c.error for c in result.checks), summary
    else:
        assert result.capped or result.raw_percentage <= selftest["max_percent"], summary


# What the broken setup shows a learner on a node shell, in words each lab's
# solution.md quotes (the fix labs; the build labs start from nothing).
SYMPTOMS = {
    "orders-site-gateway-timeout": (
        "node02",
        "curl -s -I -m 5 -H 'Host: orders.example.com' http://node01:30080/",
        "HTTP/1.1 504 Gateway Time-out",
    ),
    "service-names-not-found": (
        "node02",
        "nslookup invoices.billing.svc.cluster.local 10.96.0.10",
        "server can't find invoices.billing.svc.cluster.local: NXDOMAIN",
    ),
    "services-time-out-everywhere": (
        "node01",
        "crictl logs $(crictl ps -a --name kube-proxy -q | head -n 1)",
        'Invalid value: \\"iptable\\": must be iptables, ipvs, nftables or blank',
    ),
}


def on_node(run: LabRun, node: str, command: str) -> str:
    done = subprocess.run(
        [*run.lab_node.command, node, command],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("slug", sorted(SYMPTOMS))
def test_setup_shows_the_symptom_its_solution_teaches(
    lab_run: Callable[[str], LabRun], slug: str
) -> None:
    node, command, words = SYMPTOMS[slug]
    run = lab_run(slug)
    assert words in on_node(run, node, command)
    assert words in (run.lab.folder / "solution.md").read_text()


def in_pod(run: LabRun, namespace: str, target: str, command: str) -> str:
    """What `kubectl exec` prints (both streams) for a shell command in `target`."""
    done = subprocess.run(
        [kubectl_binary(), "-n", namespace, "exec", target, "--", "sh", "-c", command],
        env={
            "KUBECONFIG": str(run.kubeconfig_path),
            "HOME": str(run.folder),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout + done.stderr


# (namespace, pod, command, what it prints): before the DNS rule, then after the fix.
LOCKDOWN_WITHOUT_DNS = (
    ("shop", "deploy/frontend", "wget -qO- -T 3 http://api:8080/", "wget: bad address 'api:8080'"),
    (
        "shop",
        "deploy/frontend",
        "nslookup api",
        ";; connection timed out; no servers could be reached",
    ),
)
LOCKDOWN_FIXED = (
    (
        "shop",
        "deploy/frontend",
        "wget -qO- -T 3 http://api:8080/",
        '{"service": "api", "status": "ok"}',
    ),
    (
        "marketing",
        "deploy/frontend",
        "wget -qO- -T 2 http://api.shop:8080/",
        "wget: download timed out",
    ),
    (
        "shop",
        "deploy/frontend",
        "wget -qO- -T 2 http://site.marketing/",
        "wget: download timed out",
    ),
    (
        "shop",
        "deploy/api",
        "curl -m 2 http://10.96.110.20/",
        "curl: (28) Connection timed out after",
    ),
)


def test_lockdown_shows_what_its_solution_teaches(lab_run: Callable[[str], LabRun]) -> None:
    """The outputs solution.md quotes: the egress deny without a DNS rule breaks the
    name lookup (`bad address`), the fix lets the frontend in and keeps the rest out."""
    run = lab_run("shop-namespace-lockdown")
    taught = (run.lab.folder / "solution.md").read_text()
    run.script("cheat-without-dns")
    run.advance(5)
    for namespace, target, command, words in LOCKDOWN_WITHOUT_DNS:
        assert words in in_pod(run, namespace, target, command), command
        assert words in taught
    run.script("solution")
    run.advance(5)
    for namespace, target, command, words in LOCKDOWN_FIXED:
        assert words in in_pod(run, namespace, target, command), command
        assert words in taught
