"""A simulator killed with SIGKILL under live lab sessions, with a real Celery worker on
Redis and `certprep sim serve` in a child process:

- a grade against a cluster that cannot be reached is retried, then fails with a
  message saying so: never a score;
- a cluster the restarted server no longer holds fails its grades the same way, and
  the sweeper fails the session with a clear message (its kubeconfig is 409);
- a session past its expiry whose cluster is lost expires, its final grade failed;
- a server restarted with its clusters kept grades the session normally.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.clock import CLOCK_CONFIG_KEY
from app.extensions import db
from app.models.lab import Grade, LabSession
from app.services import grades, lab_sessions
from tests.fixtures.app import bearer
from tests.fixtures.labs import API, LabStack
from tests.fixtures.sim import kubectl_binary
from tests.fixtures.sim_process import SimProcess
from tests.fixtures.worker import wait_until

pytestmark = [
    pytest.mark.redis,
    pytest.mark.kubectl,
    pytest.mark.reliability,
    pytest.mark.slow,
]

SLUG = "rbac-exact-permissions"


@pytest.fixture
def crash_stack(
    db_session: Any, celery_worker: Any, sim_process: SimProcess, tmp_path: Any
) -> Iterator[LabStack]:
    """The worker's app pointed at the child-process simulator."""
    from app.config import PROJECT_ROOT
    from app.services.labs import import_labs
    from tests.fixtures.app import RequestScopedClient

    app = celery_worker.app
    app.config.update(
        {
            "CERTPREP_SIM_URLS": sim_process.url,
            "CERTPREP_SIM_ADMIN_TOKEN": sim_process.admin_token,
            "CERTPREP_SIM_CA_FILE": sim_process.ca_file,
            "CERTPREP_LAB_PROVIDER": "simulator",
        }
    )
    app.test_client_class = RequestScopedClient
    import_labs(PROJECT_ROOT / "labs")
    yield LabStack(app, celery_worker, sim_process, app.test_client(), tmp_path)


def ready_session(stack: LabStack, token: str) -> dict[str, Any]:
    response = stack.client.post(f"{API}/labs/{SLUG}/sessions", headers=bearer(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    return stack.wait_status(response.get_json()["id"], token, "ready")


def finished_grade(stack: LabStack, token: str, session_id: int) -> dict[str, Any]:
    """Ask for a grade and wait (through the API) until the worker finished it."""
    response = stack.client.post(f"{API}/lab-sessions/{session_id}/grades", headers=bearer(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    grade_id = response.get_json()["id"]
    box: dict[str, Any] = {}

    def finished() -> bool:
        body = stack.client.get(
            f"{API}/lab-sessions/{session_id}/grades/{grade_id}?wait=5", headers=bearer(token)
        ).get_json()
        box["grade"] = body
        return body["status"] in ("done", "failed")

    wait_until(finished, f"grade {grade_id} to finish", timeout=120)
    return box["grade"]


def _session_row(session_id: int) -> LabSession:
    db.session.rollback()
    return db.session.get(LabSession, session_id, populate_existing=True)


def test_grade_of_a_killed_simulator_is_failed_not_scored(crash_stack, make_user) -> None:
    _, token = make_user()
    session = ready_session(crash_stack, token)
    crash_stack.sim.kill()

    result = finished_grade(crash_stack, token, session["id"])
    assert result["status"] == "failed"
    assert result["percentage"] is None and result["earned"] is None
    assert result["checks"] is None
    assert result["error"].startswith(grades.CLUSTER_UNREACHABLE_MESSAGE)
    db.session.rollback()
    row = db.session.get(Grade, result["id"])
    assert row.runs > 1  # retried before giving up
    # A server that does not answer may be restarting: the session is not failed.
    assert lab_sessions.reconcile_lost_clusters() == []
    assert _session_row(session["id"]).status.value in ("ready", "graded")


def test_cluster_lost_in_a_restart_fails_grade_and_session(crash_stack, make_user) -> None:
    _, token = make_user()
    session = ready_session(crash_stack, token)
    _, other_token = make_user()
    untouched = ready_session(crash_stack, other_token)
    sim = crash_stack.sim
    sim.kill()
    sim.wipe_clusters()
    sim.start()
    assert sim.admin("GET", "/admin/clusters").json()["items"] == []

    result = finished_grade(crash_stack, token, session["id"])
    assert result["status"] == "failed" and result["percentage"] is None
    assert result["error"].startswith(grades.CLUSTER_GONE_MESSAGE)
    # The restarted simulator refuses the lost cluster's token (401: it never says
    # whether an id exists); the grader takes that as a cluster that is gone.
    assert "HTTP 401" in result["error"]

    failed = lab_sessions.sweep_expired_sessions()
    assert sorted(failed) == sorted([session["id"], untouched["id"]])
    for session_id, learner in ((session["id"], token), (untouched["id"], other_token)):
        body = crash_stack.client.get(
            f"{API}/lab-sessions/{session_id}", headers=bearer(learner)
        ).get_json()
        assert body["status"] == "failed"
        assert body["error"] == lab_sessions.CLUSTER_LOST_MESSAGE
        blocked = crash_stack.client.get(
            f"{API}/lab-sessions/{session_id}/kubeconfig", headers=bearer(learner)
        )
        assert blocked.status_code == 409
    # Nothing more to reconcile; the learner may start the lab again.
    assert lab_sessions.sweep_expired_sessions() == []
    again = ready_session(crash_stack, token)
    assert again["id"] != session["id"]


def test_a_live_cluster_is_never_reconciled_away(crash_stack, make_user) -> None:
    _, token = make_user()
    session = ready_session(crash_stack, token)
    assert lab_sessions.sweep_expired_sessions() == []
    # The cluster answers and the lab's objects are simply not fixed yet: a real 0-ish
    # grade, stored as done.
    result = finished_grade(crash_stack, token, session["id"])
    assert result["status"] == "done", result
    assert result["percentage"] is not None and result["percentage"] < 100
    wait_until(
        lambda: _session_row(session["id"]).status.value == "graded", "the session to settle"
    )


def test_after_a_crash_and_restart_the_session_grades_normally(crash_stack, make_user) -> None:
    _, token = make_user()
    session = ready_session(crash_stack, token)
    kubeconfig = crash_stack.kubeconfig_file(session["id"], token)
    crash_stack.sim.kill()
    crash_stack.sim.start()
    # The persisted server reloaded the cluster: nothing to reconcile, and the grade
    # is a real one (the untouched lab fails some checks, but it is scored).
    assert lab_sessions.sweep_expired_sessions() == []
    result = finished_grade(crash_stack, token, session["id"])
    assert result["status"] == "done", result
    assert result["percentage"] is not None
    wait_until(
        lambda: _session_row(session["id"]).status.value == "graded", "the session to settle"
    )
    # The kubeconfig the learner downloaded before the crash (same CA, same token)
    # still works, and the lab's setup is still there.
    home = kubeconfig.parent / "kubectl-home"
    home.mkdir(exist_ok=True)
    proc = subprocess.run(
        [kubectl_binary(), "get", "role", "pod-reader", "-n", "dev", "-o", "name"],
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(home), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "role.rbac.authorization.k8s.io/pod-reader"


class _FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def test_expiry_of_a_session_whose_cluster_is_lost_stores_no_final_score(
    crash_stack, make_user
) -> None:
    _, token = make_user()
    session = ready_session(crash_stack, token)
    sim = crash_stack.sim
    sim.kill()
    sim.wipe_clusters()
    sim.start()
    row = _session_row(session["id"])
    crash_stack.app.config[CLOCK_CONFIG_KEY] = _FixedClock(row.expires_at + timedelta(seconds=1))
    try:
        # Past its expiry the session is the expiry's, not the reconciler's: it expires
        # (whoever closes it first, the sweeper or the worker's expiry job).
        lab_sessions.sweep_expired_sessions()
        wait_until(
            lambda: _session_row(session["id"]).status.value == "expired",
            "the session to expire",
        )
    finally:
        crash_stack.app.config.pop(CLOCK_CONFIG_KEY)
    db.session.rollback()
    final = db.session.scalars(
        select(Grade).where(Grade.session_id == session["id"], Grade.final.is_(True))
    ).one()
    assert final.status.value == "failed"
    assert final.percentage is None and final.result is None
    assert final.error.startswith(grades.CLUSTER_GONE_MESSAGE)
