"""`pod_command` checks through the real grading path: a lab session on the simulator
provider, the grade requested through the REST API and computed by a Celery worker
from the session's kubeconfig (its cached API client), with an exec into the lab's own
pod and a probe pod the worker creates, waits for and deletes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.labs.test_lab_sessions import grade, kubectl, start

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SETUP = """apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  containers: [{name: client, image: "busybox:1.36", command: [sleep, "3600"]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-friends, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{podSelector: {matchLabels: {role: friend}}}]
"""

LAB = """spec: certprep/lab/v1
slug: pod-command-worker
version: 1
title: Who reaches web
source: https://kubernetes.io/docs/concepts/services-networking/network-policies/
section: networking
domain: Services & Networking
difficulty: easy
time_limit_minutes: 10
backends: [simulator]
cluster:
  nodes:
    - {name: controlplane, role: control-plane}
    - {name: node01, role: worker}
setup:
  manifests: [00-setup.yaml]
tasks:
  - Nothing to do in the namespace `shop`.
hint_policy: always
checks:
  - id: client-refused
    kind: pod_command
    points: 1
    message: the client pod cannot connect to web
    hint: see the policies
    namespace: shop
    pod: client
    command: wget -q -O- -T 2 http://web/ 2>&1
    exit_code: 1
    stdout_contains: download timed out
  - id: friend-admitted
    kind: pod_command
    points: 1
    message: a new pod labelled role=friend reaches web
    hint: see the policies
    namespace: shop
    from_pod: {labels: {role: friend}}
    command: [wget, -q, -O-, -T, "2", "http://web/"]
    stdout_contains: Welcome to nginx!
"""


def drive(lab_stack: Any, session_id: int) -> None:
    """Step the session cluster's control plane from the server's loop, as a server
    with `drive_wall_clock` does for every wall-clock cluster (the test server steps
    none by itself): the probe pod must be scheduled and started while it is graded."""
    from app.models import LabSession

    with lab_stack.app.app_context():
        from app.extensions import db

        cluster_id = db.session.get(LabSession, session_id).cluster["cluster_id"]
    cluster = lab_stack.sim.clusters[cluster_id]
    cluster.graceful_pod_deletion = True
    cluster.loops.append(cluster.control_plane.tick)


def test_a_worker_grades_pod_commands_in_own_and_probe_pods(
    lab_stack, make_user, tmp_path: Path
) -> None:
    from app.services.labs import import_labs

    folder = tmp_path / "labs" / "pod-command-worker"
    (folder / "manifests").mkdir(parents=True)
    (folder / "manifests" / "00-setup.yaml").write_text(SETUP)
    (folder / "lab.yaml").write_text(LAB)
    (folder / "solution.md").write_text("Nothing to do.\n")
    import_labs(tmp_path / "labs")
    _, token = make_user()
    session_id = start(lab_stack, token, "pod-command-worker")["id"]
    lab_stack.wait_status(session_id, token, "ready")
    drive(lab_stack, session_id)

    result = grade(lab_stack, token, session_id)
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["client-refused"]["passed"], checks
    assert checks["friend-admitted"]["passed"], checks
    assert result["percentage"] == 100
    # The probe is gone: only the lab's own pods are left.
    config = lab_stack.kubeconfig_file(session_id, token)
    listed = kubectl(config, "-n", "shop", "get", "pods", "-o", "name", home=tmp_path)
    assert listed.stdout.split() == ["pod/client", "pod/web"], listed.stderr
