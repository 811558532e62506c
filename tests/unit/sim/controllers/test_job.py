"""Job controller: parallelism, completions, backoffLimit, TTL."""

from __future__ import annotations

from tests.fixtures.controllers import Lab


def job(name: str = "pi", **spec) -> dict:
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}
            },
        },
    }
    body["spec"].update(spec)
    return body


def conditions(lab: Lab, name: str = "pi") -> dict[str, dict]:
    return {c["type"]: c for c in lab.get("batch", "jobs", name)["status"].get("conditions", [])}


def active_pods(lab: Lab, prefix: str = "pi-") -> list[dict]:
    return [
        p
        for p in lab.pods(prefix=prefix)
        if p["status"].get("phase") in (None, "Pending", "Running")
    ]


def test_job_runs_to_completion(lab: Lab) -> None:
    lab.create("batch", "jobs", job(completions=3, parallelism=2))
    lab.sync()
    pods = active_pods(lab)
    assert len(pods) == 2
    assert all(p["metadata"]["labels"]["job-name"] == "pi" for p in pods)
    status = lab.get("batch", "jobs", "pi")["status"]
    assert status["active"] == 2 and status["startTime"]
    lab.finish_pod(pods[0])
    lab.sync()
    assert len(active_pods(lab)) == 2
    for pod in active_pods(lab):
        lab.finish_pod(pod)
    lab.sync()
    status = lab.get("batch", "jobs", "pi")["status"]
    assert status["succeeded"] == 3 and "active" not in status
    cond = conditions(lab)
    assert cond["Complete"]["status"] == "True"
    assert cond["Complete"]["reason"] == "CompletionsReached"
    assert cond["SuccessCriteriaMet"]["status"] == "True"
    assert status["completionTime"]
    assert [e["message"] for e in lab.events("Completed")] == ["Job completed"]


def test_failed_pods_are_replaced_after_backoff_until_the_limit(lab: Lab) -> None:
    lab.create("batch", "jobs", job(backoffLimit=1))
    lab.sync()
    [pod] = active_pods(lab)
    lab.finish_pod(pod, "Failed")
    lab.sync()
    assert active_pods(lab) == []  # 10 s back-off after the first failure
    lab.advance(10)
    lab.sync()
    [pod] = active_pods(lab)
    lab.finish_pod(pod, "Failed")
    lab.sync()
    cond = conditions(lab)
    assert (cond["Failed"]["status"], cond["Failed"]["reason"]) == ("True", "BackoffLimitExceeded")
    assert cond["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert cond["FailureTarget"]["status"] == "True"
    assert lab.get("batch", "jobs", "pi")["status"]["failed"] == 2
    assert active_pods(lab) == []


def test_suspended_job_creates_nothing_and_ttl_deletes_finished_jobs(lab: Lab) -> None:
    lab.create("batch", "jobs", job(suspend=True, ttlSecondsAfterFinished=30))
    lab.sync()
    assert active_pods(lab) == []
    assert conditions(lab)["Suspended"]["status"] == "True"
    j = lab.get("batch", "jobs", "pi")
    j["spec"]["suspend"] = False
    lab.store.update("batch", "jobs", j)
    lab.sync()
    [pod] = active_pods(lab)
    lab.finish_pod(pod)
    lab.sync()
    assert conditions(lab)["Complete"]["status"] == "True"
    lab.advance(29)
    lab.sync()
    assert lab.get("batch", "jobs", "pi") is not None
    lab.advance(2)
    lab.sync()
    assert lab.get("batch", "jobs", "pi") is None
    assert lab.pods(prefix="pi-") == []
