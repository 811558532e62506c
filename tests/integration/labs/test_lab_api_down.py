"""A lab session whose API server the setup broke, end to end: the REST API, a real
Celery worker on Redis and the simulator server.

The session becomes ready (provisioning restores the setup through the admin API, which
answers whatever the cluster's API does), the learner's kubectl cannot connect, node
access works, and a grade is computed (0 %, the API checks failing) instead of being
retried until it fails as "Not graded".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import bearer
from tests.fixtures.labs import API
from tests.integration.labs.test_lab_sessions import grade, kubectl, start

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "kubectl-cannot-reach-the-cluster"


def test_a_session_with_its_api_server_down_is_graded(
    lab_stack: Any, make_user: Any, tmp_path: Path
) -> None:
    _, token = make_user()
    session_id = start(lab_stack, token, SLUG)["id"]
    ready = lab_stack.wait_status(session_id, token, "ready", "failed")
    assert ready["status"] == "ready", ready.get("error")

    config = lab_stack.kubeconfig_file(session_id, token)
    failed = kubectl(config, "get", "nodes", home=tmp_path)
    assert failed.returncode == 1
    assert 'malformed HTTP response "connection-refused"' in failed.stderr, failed.stderr

    listing = lab_stack.client.post(
        f"{API}/lab-sessions/{session_id}/nodes/controlplane/exec",
        json={"command": "crictl ps -a --name kube-apiserver"},
        headers=bearer(token),
    )
    assert listing.status_code == 200, listing.get_data(as_text=True)
    assert "Exited" in listing.get_json()["stdout"]

    result = grade(lab_stack, token, session_id)
    assert result["percentage"] == 0 and result["error"] is None
    by_id = {c["id"]: c for c in result["checks"]}
    assert by_id["api-answers"]["passed"] is False
    assert by_id["manifest-settings-kept"]["passed"] is False
    assert not any(c["error"] for c in result["checks"])
