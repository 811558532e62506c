"""Lab sessions through the REST API with a real Celery worker on Redis and a live
simulator server: start -> ready -> kubectl works -> grade with per-check feedback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import PROJECT_ROOT
from app.grading.labfile import load_lab
from app.grading.selftest import run_script
from tests.fixtures.app import assert_json_error, bearer
from tests.fixtures.labs import API

pytestmark = [pytest.mark.redis, pytest.mark.kubectl]

SLUG = "rbac-exact-permissions"
LAB_FILE = load_lab(PROJECT_ROOT / "labs" / SLUG)


def start(stack: Any, token: str, slug: str = SLUG) -> dict[str, Any]:
    response = stack.client.post(f"{API}/labs/{slug}/sessions", headers=bearer(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def kubectl(kubeconfig: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "kubectl"), *args],
        env={"KUBECONFIG": str(kubeconfig), "HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def grade(stack: Any, token: str, session_id: int) -> dict[str, Any]:
    response = stack.client.post(f"{API}/lab-sessions/{session_id}/grades", headers=bearer(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    pending = response.get_json()
    assert pending["status"] in ("pending", "running", "done")
    done = stack.client.get(
        f"{API}/lab-sessions/{session_id}/grades/{pending['id']}?wait=30", headers=bearer(token)
    )
    assert done.status_code == 200
    body = done.get_json()
    assert body["status"] == "done", body
    return body


def test_session_starts_provisioning_then_ready_with_a_working_kubeconfig(
    lab_stack, make_user, tmp_path: Path
) -> None:
    _, token = make_user()
    session = start(lab_stack, token)
    assert session["status"] == "provisioning"
    assert session["lab"] == SLUG and session["nodes"] == ["controlplane", "node01", "node02"]
    ready = lab_stack.wait_status(session["id"], token, "ready", "failed")
    assert ready["status"] == "ready", ready["error"]
    assert ready["expires_at"] and ready["ready_at"]
    assert "cluster" not in ready  # placement is for trainers

    config = lab_stack.kubeconfig_file(session["id"], token)
    role = kubectl(config, "-n", "dev", "get", "role", "pod-reader", "-o", "name", home=tmp_path)
    assert role.returncode == 0, role.stderr
    assert role.stdout.strip() == "role.rbac.authorization.k8s.io/pod-reader"


def test_grade_untouched_then_solution_gives_per_check_feedback(
    lab_stack, make_user, tmp_path: Path
) -> None:
    _, token = make_user()
    session_id = start(lab_stack, token)["id"]
    lab_stack.wait_status(session_id, token, "ready")

    first = grade(lab_stack, token, session_id)
    assert first["percentage"] == 0 and first["number"] == 1
    by_id = {c["id"]: c for c in first["checks"]}
    assert list(by_id) == [c.id for c in LAB_FILE.checks]
    assert by_id["role-exact-rules"]["passed"] is False
    assert by_id["role-exact-rules"]["message"].startswith("Role dev/pod-reader grants")
    # after_first_grade: no hints on the first grade, hints on the second.
    assert all(c["hint"] is None for c in first["checks"])
    second = grade(lab_stack, token, session_id)
    assert (
        "kubectl -n dev edit role pod-reader"
        in {c["id"]: c for c in second["checks"]}["role-exact-rules"]["hint"]
    )

    config = lab_stack.kubeconfig_file(session_id, token)
    done = run_script(LAB_FILE, "solution", config, extra_env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    third = grade(lab_stack, token, session_id)
    assert all(c["passed"] for c in third["checks"])
    # Two hints with a penalty of 1 each were shown before the fix: 8 of 10 points.
    assert (third["earned"], third["possible"], third["percentage"]) == (8, 10, 80)

    session = lab_stack.client.get(f"{API}/lab-sessions/{session_id}", headers=bearer(token))
    body = session.get_json()
    assert body["status"] == "graded"
    assert [g["number"] for g in body["grades"]] == [1, 2, 3]

    # The activity log (trainers' progress and xAPI export) saw the start and each grade.
    from sqlalchemy import select

    from app.extensions import db
    from app.models.activity import ActivityEvent

    with lab_stack.app.app_context():
        events = db.session.scalars(
            select(ActivityEvent)
            .where(ActivityEvent.subject_id == session_id, ActivityEvent.object_kind == "lab")
            .order_by(ActivityEvent.id)
        ).all()
        assert [e.verb.value for e in events] == ["started", "graded", "graded", "graded"]
        assert {e.object_slug for e in events} == {SLUG}
        assert events[-1].percent == 80


def trainer_of(lab_stack, make_user, learner) -> str:
    """A trainer's token whose cohort holds `learner` (trainers reach only their own
    cohorts' learners)."""
    _, trainer = make_user("trainer")
    cohort = lab_stack.client.post(
        f"{API}/cohorts", json={"name": "Lab cohort"}, headers=bearer(trainer)
    ).get_json()
    added = lab_stack.client.post(
        f"{API}/cohorts/{cohort['id']}/members",
        json={"emails": [learner.email]},
        headers=bearer(trainer),
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    return trainer


def test_learners_never_see_expected_values_detail_or_evidence(lab_stack, make_user) -> None:
    learner, token = make_user()
    trainer_token = trainer_of(lab_stack, make_user, learner)
    lab = lab_stack.client.get(f"{API}/labs/{SLUG}", headers=bearer(token)).get_json()
    assert [c["id"] for c in lab["checks"]] == [c.id for c in LAB_FILE.checks]
    for check in lab["checks"]:
        assert set(check) == {"id", "points", "message"}
    text = str(lab)
    assert "assertions" not in text and "hint" not in str(lab["checks"])
    assert "kubectl -n dev create rolebinding" not in text  # a hint
    assert "solution" not in text.lower()

    session_id = start(lab_stack, token)["id"]
    lab_stack.wait_status(session_id, token, "ready")
    result = grade(lab_stack, token, session_id)
    for check in result["checks"]:
        assert set(check) == {"id", "passed", "points", "earned", "message", "hint", "error"}
    assert "expected" not in str(result)

    staff = lab_stack.client.get(
        f"{API}/lab-sessions/{session_id}/grades/{result['id']}", headers=bearer(trainer_token)
    ).get_json()
    rules = {c["id"]: c for c in staff["checks"]}["role-exact-rules"]
    assert "expected" in rules["detail"] and rules["evidence"]


def test_another_learners_session_is_404_and_their_trainer_sees_it(lab_stack, make_user) -> None:
    owner_user, owner = make_user()
    _, other = make_user()
    _, trainer = make_user("trainer")
    _, stranger_trainer = make_user("trainer")
    cohort = lab_stack.client.post(
        f"{API}/cohorts", json={"name": "Lab cohort"}, headers=bearer(trainer)
    ).get_json()
    lab_stack.client.post(
        f"{API}/cohorts/{cohort['id']}/members",
        json={"emails": [owner_user.email]},
        headers=bearer(trainer),
    )
    session_id = start(lab_stack, owner)["id"]
    for path in ("", "/kubeconfig", "/grades", "/nodes"):
        assert_json_error(
            lab_stack.client.get(f"{API}/lab-sessions/{session_id}{path}", headers=bearer(other)),
            404,
        )
    assert_json_error(
        lab_stack.client.post(f"{API}/lab-sessions/{session_id}/grades", headers=bearer(other)),
        404,
    )
    assert_json_error(
        lab_stack.client.delete(f"{API}/lab-sessions/{session_id}", headers=bearer(other)), 404
    )
    assert lab_stack.client.get(f"{API}/lab-sessions", headers=bearer(other)).get_json() == []
    seen = lab_stack.client.get(f"{API}/lab-sessions/{session_id}", headers=bearer(trainer))
    assert seen.status_code == 200 and "user_id" in seen.get_json()
    # A trainer of another cohort cannot tell the session exists.
    for path in ("", "/kubeconfig", "/grades", "/nodes"):
        assert_json_error(
            lab_stack.client.get(
                f"{API}/lab-sessions/{session_id}{path}", headers=bearer(stranger_trainer)
            ),
            404,
        )


def test_concurrent_session_limit_is_409_and_delete_frees_the_cluster(lab_stack, make_user) -> None:
    learner, token = make_user()
    first = start(lab_stack, token)
    second = start(lab_stack, token)
    body = assert_json_error(
        lab_stack.client.post(f"{API}/labs/{SLUG}/sessions", headers=bearer(token)), 409
    )
    assert body["errors"] == {"limit": ["2"]}

    ready = lab_stack.wait_status(first["id"], token, "ready")
    lab_stack.wait_status(second["id"], token, "ready")
    trainer = trainer_of(lab_stack, make_user, learner)
    placed = lab_stack.client.get(f"{API}/lab-sessions/{first['id']}", headers=bearer(trainer))
    cluster_id = placed.get_json()["cluster"]["cluster_id"]
    assert cluster_id in lab_stack.sim.clusters and ready["status"] == "ready"

    ended = lab_stack.client.delete(f"{API}/lab-sessions/{first['id']}", headers=bearer(token))
    assert ended.status_code == 200 and ended.get_json()["status"] == "ended"
    lab_stack.harness.wait_until(
        lambda: cluster_id not in lab_stack.sim.clusters, "the ended session's cluster to go"
    )
    assert_json_error(
        lab_stack.client.get(f"{API}/lab-sessions/{first['id']}/kubeconfig", headers=bearer(token)),
        409,
    )
    # A slot is free again.
    assert start(lab_stack, token)["status"] == "provisioning"


def test_unknown_lab_is_404(lab_stack, make_user) -> None:
    _, token = make_user()
    assert_json_error(
        lab_stack.client.post(f"{API}/labs/nope/sessions", headers=bearer(token)), 404
    )
    assert_json_error(lab_stack.client.get(f"{API}/labs/nope", headers=bearer(token)), 404)
    # Every lab on one page (more labs than the default page size).
    listed = lab_stack.client.get(f"{API}/labs?page_size=100", headers=bearer(token)).get_json()
    assert SLUG in [lab["slug"] for lab in listed]


def test_node_access_reads_writes_and_runs_commands(lab_stack, make_user) -> None:
    _, token = make_user()
    _, other = make_user()
    session_id = start(lab_stack, token)["id"]
    lab_stack.wait_status(session_id, token, "ready")
    base = f"{API}/lab-sessions/{session_id}/nodes"
    nodes = lab_stack.client.get(base, headers=bearer(token)).get_json()
    assert nodes[0] == {"name": "controlplane", "role": "control-plane"}

    manifest = "/etc/kubernetes/manifests/kube-scheduler.yaml"
    read = lab_stack.client.get(f"{base}/controlplane/files?path={manifest}", headers=bearer(token))
    assert read.status_code == 200 and "kube-scheduler" in read.get_json()["content"]
    written = lab_stack.client.put(
        f"{base}/node01/files?path=/root/notes.txt",
        json={"content": "hello\n"},
        headers=bearer(token),
    )
    assert written.status_code == 200 and written.get_json()["size"] == 6
    ran = lab_stack.client.post(
        f"{base}/node01/exec", json={"command": "cat /root/notes.txt"}, headers=bearer(token)
    )
    assert ran.status_code == 200
    assert (ran.get_json()["exit_code"], ran.get_json()["stdout"]) == (0, "hello\n")

    assert_json_error(
        lab_stack.client.get(f"{base}/controlplane/files?path=/etc/none", headers=bearer(token)),
        404,
    )
    assert_json_error(
        lab_stack.client.post(f"{base}/node09/exec", json={"command": "ls"}, headers=bearer(token)),
        404,
    )
    assert_json_error(
        lab_stack.client.post(f"{base}/node01/exec", json={"command": "ls"}, headers=bearer(other)),
        404,
    )


def test_node_access_input_is_validated(lab_stack, make_user) -> None:
    _, token = make_user()
    session_id = start(lab_stack, token)["id"]
    base = f"{API}/lab-sessions/{session_id}/nodes/controlplane"
    assert_json_error(
        lab_stack.client.get(f"{base}/files?path=relative", headers=bearer(token)), 422
    )
    assert_json_error(lab_stack.client.post(f"{base}/exec", json={}, headers=bearer(token)), 422)
    assert_json_error(
        lab_stack.client.post(
            f"{base}/exec", json={"command": "ls", "extra": 1}, headers=bearer(token)
        ),
        422,
    )


FAULT_LAB = """spec: certprep/lab/v1
slug: node-fault-lab
version: 1
title: Fix the note on node01
seed_section: "API Server / Request flow"
section: apiserver
domain: Cluster Architecture
difficulty: easy
time_limit_minutes: 10
backends: [simulator]
cluster:
  nodes:
    - {name: controlplane, role: control-plane}
    - {name: node01, role: worker}
setup:
  faults:
    - kind: node_file_write
      node: node01
      path: /root/note.txt
      content: "status: broken\\n"
tasks:
  - Make /root/note.txt on node01 say fixed.
hint_policy: always
checks:
  - id: note-fixed
    kind: node_file
    points: 2
    message: /root/note.txt on node01 says fixed
    hint: sed -i s/broken/fixed/ /root/note.txt
    node: node01
    path: /root/note.txt
    contains: "status: fixed"
"""


def test_faults_are_applied_on_every_session_and_node_checks_grade_them(
    lab_stack, make_user, tmp_path: Path
) -> None:
    from app.services.labs import import_labs

    folder = tmp_path / "labs" / "node-fault-lab"
    (folder / "manifests").mkdir(parents=True)
    (folder / "manifests" / "00-ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: notes\n"
    )
    (folder / "lab.yaml").write_text(FAULT_LAB)
    (folder / "solution.md").write_text("Edit the file.\n")
    import_labs(tmp_path / "labs")
    _, token = make_user()
    sessions = [start(lab_stack, token, "node-fault-lab")["id"] for _ in range(2)]
    for session_id in sessions:
        lab_stack.wait_status(session_id, token, "ready")
        read = lab_stack.client.get(
            f"{API}/lab-sessions/{session_id}/nodes/node01/files?path=/root/note.txt",
            headers=bearer(token),
        )
        # The second session restored the cached setup snapshot, fault included.
        assert read.get_json()["content"] == "status: broken\n"
    first, second = sessions
    failing = grade(lab_stack, token, first)
    assert failing["percentage"] == 0
    assert failing["checks"][0]["hint"] == "sed -i s/broken/fixed/ /root/note.txt"
    fixed = lab_stack.client.post(
        f"{API}/lab-sessions/{first}/nodes/node01/exec",
        json={"command": "sed -i s/broken/fixed/ /root/note.txt"},
        headers=bearer(token),
    )
    assert fixed.get_json()["exit_code"] == 0
    assert grade(lab_stack, token, first)["percentage"] == 100
    # The other session's node is untouched.
    assert grade(lab_stack, token, second)["percentage"] == 0


def test_a_session_cluster_has_the_labs_shape_and_broken_setup(
    lab_stack, make_user, tmp_path: Path
) -> None:
    import json

    slug = "pending-taint-toleration"
    _, token = make_user()
    session = start(lab_stack, token, slug)
    ready = lab_stack.wait_status(session["id"], token, "ready", "failed")
    assert ready["status"] == "ready", ready["error"]
    assert ready["nodes"] == ["controlplane", "node01", "node02", "node03"]
    config = lab_stack.kubeconfig_file(session["id"], token)
    listed = kubectl(config, "get", "nodes", "-o", "json", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    nodes = {n["metadata"]["name"]: n for n in json.loads(listed.stdout)["items"]}
    assert sorted(nodes) == ["controlplane", "node01", "node02", "node03"]
    for name in ("node01", "node02"):
        assert nodes[name]["metadata"]["labels"]["node-pool"] == "batch"
        assert nodes[name]["spec"]["taints"] == [
            {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}
        ]
    assert "taints" not in nodes["node03"]["spec"]
    # The learner finds what the lab describes: the batch pods Pending, unscheduled.
    pods = kubectl(config, "-n", "jobs", "get", "pods", "-o", "json", home=tmp_path)
    items = json.loads(pods.stdout)["items"]
    assert len(items) == 3
    assert all(p["status"]["phase"] == "Pending" and not p["spec"].get("nodeName") for p in items)


def test_grade_completion_as_server_sent_events(lab_stack, make_user) -> None:
    import json

    _, token = make_user()
    _, other = make_user()
    session_id = start(lab_stack, token)["id"]
    lab_stack.wait_status(session_id, token, "ready")
    pending = lab_stack.client.post(
        f"{API}/lab-sessions/{session_id}/grades", headers=bearer(token)
    ).get_json()
    url = f"{API}/lab-sessions/{session_id}/grades/{pending['id']}/events"
    response = lab_stack.client.get(url, headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = [block for block in response.get_data(as_text=True).split("\n\n") if block]
    name, data = events[-1].split("\n")
    assert name == "event: done"
    final = json.loads(data.removeprefix("data: "))
    assert final["status"] == "done" and len(final["checks"]) == 4
    assert all(e.startswith("event: status") for e in events[:-1])
    assert_json_error(lab_stack.client.get(url, headers=bearer(other)), 404)
