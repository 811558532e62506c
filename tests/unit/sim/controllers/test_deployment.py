"""Deployment controller: ReplicaSets per template, rolling updates, undo, status."""

from __future__ import annotations

import copy
import re

from app.sim.controllers.deployment import HASH_LABEL, REVISION, REVISION_HISTORY, template_hash
from tests.builders import deployment
from tests.fixtures.controllers import Lab


def replicasets(lab: Lab, name: str = "web") -> list[dict]:
    items = lab.store.list("apps", "replicasets", "default")[0]
    return sorted(
        (rs for rs in items if rs["metadata"]["name"].startswith(f"{name}-")),
        key=lambda rs: rs["metadata"]["annotations"][REVISION],
    )


def set_image(lab: Lab, image: str, name: str = "web") -> None:
    d = lab.get("apps", "deployments", name)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    lab.store.update("apps", "deployments", d)


def test_new_deployment_creates_a_hashed_replicaset_and_pods(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment())
    lab.sync()
    [rs] = replicasets(lab)
    pod_hash = rs["metadata"]["labels"][HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{6,10}", pod_hash)
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: pod_hash}
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    pods = lab.pods(prefix="web-")
    assert len(pods) == 3
    assert all(
        re.fullmatch(rf"web-{pod_hash}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", p["metadata"]["name"])
        for p in pods
    )
    d = lab.get("apps", "deployments", "web")
    assert d["metadata"]["annotations"][REVISION] == "1"
    [scaled] = lab.events("ScalingReplicaSet")
    assert scaled["message"] == f"Scaled up replica set {rs['metadata']['name']} to 3"
    assert scaled["source"]["component"] == "deployment-controller"
    assert len(lab.events("SuccessfulCreate")) == 3


def test_status_and_conditions_follow_pod_readiness(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment())
    lab.sync()
    status = lab.get("apps", "deployments", "web")["status"]
    assert status["replicas"] == 3 and status.get("availableReplicas", 0) == 0
    available = {c["type"]: c for c in status["conditions"]}["Available"]
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    lab.run_all()
    lab.sync()
    status = lab.get("apps", "deployments", "web")["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == status["updatedReplicas"] == 3
    assert status["observedGeneration"] == 1
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Available"]["message"] == "Deployment has minimum availability."
    rs = replicasets(lab)[0]["metadata"]["name"]
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conditions["Progressing"]["message"] == f'ReplicaSet "{rs}" has successfully progressed.'


def test_rolling_update_respects_max_surge_and_max_unavailable(lab: Lab) -> None:
    body = deployment(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    )
    lab.create("apps", "deployments", body)
    lab.sync()
    lab.run_all()
    lab.sync()
    set_image(lab, "nginx:1.26")
    seen_two = False
    for _ in range(10):
        lab.sync()
        rss = replicasets(lab)
        seen_two = seen_two or len([rs for rs in rss if rs["spec"]["replicas"] > 0]) == 2
        live = [p for p in lab.pods(prefix="web-") if not p["metadata"].get("deletionTimestamp")]
        assert len(live) <= 4  # replicas + maxSurge
        ready = [
            p
            for p in live
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]
        assert len(ready) >= 3  # replicas - maxUnavailable
        pending = [p for p in live if p["status"].get("phase") == "Pending"]
        if not pending:
            break
        lab.run_pod(pending[0])  # one new pod becomes ready per round
    lab.sync()
    old, new = replicasets(lab)
    assert seen_two
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in lab.pods(prefix="web-"))
    messages = [e["message"] for e in lab.events("ScalingReplicaSet")]
    assert f"Scaled down replica set {old['metadata']['name']} to 2 from 3" in messages
    assert f"Scaled up replica set {new['metadata']['name']} to 1" in messages
    d = lab.get("apps", "deployments", "web")
    assert d["metadata"]["annotations"][REVISION] == "2"
    assert d["status"]["updatedReplicas"] == 3 and d["status"]["replicas"] == 3


def test_default_rolling_update_keeps_three_of_four_available(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=4))  # 25%/25%: surge 1, unavailable 1
    lab.sync()
    lab.run_all()
    lab.sync()
    set_image(lab, "nginx:1.26")
    for _ in range(12):
        lab.sync()
        live = [p for p in lab.pods(prefix="web-")]
        assert len(live) <= 5
        ready = [p for p in live if p["status"].get("phase") == "Running"]
        assert len(ready) >= 3
        if not any(p["status"].get("phase") == "Pending" for p in live):
            break
        lab.run_all()
    lab.sync()
    assert [rs["spec"]["replicas"] for rs in replicasets(lab)] == [0, 4]


def test_rollout_undo_adopts_the_old_replicaset(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment())
    lab.sync()
    lab.run_all()
    lab.sync()
    set_image(lab, "nginx:bad")
    for _ in range(4):
        lab.sync()
        lab.run_all()
    lab.sync()
    first, second = replicasets(lab)
    # kubectl rollout undo: copy revision 1's template (without the hash label) back.
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"][HASH_LABEL]
    d = lab.get("apps", "deployments", "web")
    d["spec"]["template"] = template
    lab.store.update("apps", "deployments", d)
    for _ in range(4):
        lab.sync()
        lab.run_all()
    lab.sync()
    rss = replicasets(lab)
    assert len(rss) == 2  # no third ReplicaSet: the old one is the new one again
    by_name = {rs["metadata"]["name"]: rs for rs in rss}
    restored = by_name[first["metadata"]["name"]]
    assert restored["metadata"]["annotations"][REVISION] == "3"
    assert restored["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert restored["spec"]["replicas"] == 3
    assert by_name[second["metadata"]["name"]]["spec"]["replicas"] == 0
    assert lab.get("apps", "deployments", "web")["metadata"]["annotations"][REVISION] == "3"


def test_recreate_scales_old_to_zero_before_creating_new(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(strategy={"type": "Recreate"}))
    lab.sync()
    lab.run_all()
    lab.sync()
    set_image(lab, "nginx:1.26")
    lab.manager.step()
    rss = replicasets(lab)
    assert len(rss) == 1 and rss[0]["spec"]["replicas"] == 0
    lab.sync()
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.26" for p in lab.pods(prefix="web-"))
    assert [rs["spec"]["replicas"] for rs in replicasets(lab)] == [0, 3]


def test_progress_deadline_exceeded(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(progressDeadlineSeconds=60))
    lab.sync()
    lab.advance(30)
    lab.sync()
    cond = {c["type"]: c for c in lab.get("apps", "deployments", "web")["status"]["conditions"]}
    assert cond["Progressing"]["status"] == "True"
    lab.advance(31)
    lab.sync()
    cond = {c["type"]: c for c in lab.get("apps", "deployments", "web")["status"]["conditions"]}
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == (
        "False",
        "ProgressDeadlineExceeded",
    )
    assert cond["Progressing"]["message"].endswith("has timed out progressing.")


def test_paused_deployment_does_not_roll_out(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment())
    lab.sync()
    d = lab.get("apps", "deployments", "web")
    d["spec"]["paused"] = True
    lab.store.update("apps", "deployments", d)
    set_image(lab, "nginx:1.26")
    lab.sync()
    assert len(replicasets(lab)) == 1
    cond = {c["type"]: c for c in lab.get("apps", "deployments", "web")["status"]["conditions"]}
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == (
        "Unknown",
        "DeploymentPaused",
    )
    d = lab.get("apps", "deployments", "web")
    d["spec"]["paused"] = False
    lab.store.update("apps", "deployments", d)
    lab.sync()
    assert len(replicasets(lab)) == 2


def test_scale_and_revision_history_limit(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=1, revisionHistoryLimit=1))
    for image in ("nginx:1", "nginx:2", "nginx:3"):
        lab.sync()
        lab.run_all()
        lab.sync()
        set_image(lab, image)
    lab.sync()
    lab.run_all()
    lab.sync()
    revisions = [rs["metadata"]["annotations"][REVISION] for rs in replicasets(lab)]
    assert revisions == ["3", "4"]  # one old ReplicaSet kept besides the current one
    d = lab.get("apps", "deployments", "web")
    d["spec"]["replicas"] = 5
    lab.store.update("apps", "deployments", d)
    lab.sync()
    assert replicasets(lab)[-1]["spec"]["replicas"] == 5
    assert len(lab.pods(prefix="web-")) == 5


def test_template_hash_is_stable_and_changes_with_the_template() -> None:
    template = deployment()["spec"]["template"]
    assert template_hash(template) == template_hash(copy.deepcopy(template))
    other = copy.deepcopy(template)
    other["spec"]["containers"][0]["image"] = "nginx:2"
    assert template_hash(other) != template_hash(template)
    assert template_hash(template, 1) != template_hash(template)


def test_scaling_mid_rollout_is_proportional(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=10))  # surge 3, unavailable 2
    lab.sync()
    lab.run_all()
    lab.sync()
    set_image(lab, "nginx:broken")
    lab.sync()  # the new pods never become ready: the rollout stalls
    old, new = replicasets(lab)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (8, 5)
    d = lab.get("apps", "deployments", "web")
    d["spec"]["replicas"] = 20  # max total 20 + 5 = 25, 12 more than the 13 there are
    lab.store.update("apps", "deployments", d)
    lab.manager.step()
    old, new = replicasets(lab)
    assert old["spec"]["replicas"] + new["spec"]["replicas"] == 25
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (15, 10)
    messages = [e["message"] for e in lab.events("ScalingReplicaSet")]
    assert f"Scaled up replica set {old['metadata']['name']} to 15 from 8" in messages


def test_paused_deployment_still_scales(lab: Lab) -> None:
    lab.create("apps", "deployments", deployment(replicas=2, paused=True))
    lab.sync()
    assert replicasets(lab) == []  # paused before the first rollout: nothing created
    d = lab.get("apps", "deployments", "web")
    d["spec"]["paused"] = False
    lab.store.update("apps", "deployments", d)
    lab.sync()
    d = lab.get("apps", "deployments", "web")
    d["spec"]["paused"] = True
    d["spec"]["replicas"] = 4
    lab.store.update("apps", "deployments", d)
    lab.sync()
    [rs] = replicasets(lab)
    assert rs["spec"]["replicas"] == 4
