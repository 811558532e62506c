"""CronJob controller: Jobs at schedule times on the cluster clock."""

from __future__ import annotations

from tests.fixtures.controllers import Lab


def cronjob(name: str = "tick", schedule: str = "*/5 * * * *", **spec) -> dict:
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"labels": {"cron": name}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def jobs(lab: Lab) -> list[dict]:
    return sorted(
        lab.store.list("batch", "jobs", "default")[0], key=lambda j: j["metadata"]["name"]
    )


def finish_job(lab: Lab, job: dict) -> None:
    for pod in lab.pods(prefix=job["metadata"]["name"]):
        lab.finish_pod(pod)
    lab.sync()


def test_jobs_are_created_at_schedule_times(lab: Lab) -> None:
    lab.create("batch", "cronjobs", cronjob())
    lab.sync()
    assert jobs(lab) == []
    lab.advance(299)
    lab.sync()
    assert jobs(lab) == []
    lab.advance(1)  # 00:05
    lab.sync()
    [job] = jobs(lab)
    minutes = int(lab.clock.now().timestamp()) // 60
    assert job["metadata"]["name"] == f"tick-{minutes}"
    assert job["metadata"]["labels"]["cron"] == "tick"
    assert (
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        == "2026-01-01T00:05:00Z"
    )
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    status = lab.get("batch", "cronjobs", "tick")["status"]
    assert status["lastScheduleTime"] == "2026-01-01T00:05:00Z"
    assert [a["name"] for a in status["active"]] == [job["metadata"]["name"]]
    assert [
        e["message"]
        for e in lab.events("SuccessfulCreate")
        if e["involvedObject"]["kind"] == "CronJob"
    ] == [f"Created job {job['metadata']['name']}"]
    finish_job(lab, job)
    status = lab.get("batch", "cronjobs", "tick")["status"]
    assert "active" not in status and status["lastSuccessfulTime"]
    [saw] = lab.events("SawCompletedJob")
    assert saw["message"] == f"Saw completed job: {job['metadata']['name']}, condition: Complete"


def test_history_limit_keeps_the_newest_successful_jobs(lab: Lab) -> None:
    lab.create("batch", "cronjobs", cronjob(successfulJobsHistoryLimit=2))
    for _ in range(4):
        lab.advance(300)
        lab.sync()
        finish_job(lab, jobs(lab)[-1])
    lab.sync()
    names = [j["metadata"]["name"] for j in jobs(lab)]
    assert len(names) == 2
    now = int(lab.clock.now().timestamp()) // 60
    assert names == [f"tick-{now - 5}", f"tick-{now}"]


def test_suspend_and_forbid(lab: Lab) -> None:
    lab.create("batch", "cronjobs", cronjob(concurrencyPolicy="Forbid"))
    lab.advance(300)
    lab.sync()
    assert len(jobs(lab)) == 1
    lab.advance(300)  # the first job still runs
    lab.sync()
    assert len(jobs(lab)) == 1
    lab.advance(5)
    lab.sync()
    [skipped] = lab.events("JobAlreadyActive")
    assert skipped["count"] == 1
    cj = lab.get("batch", "cronjobs", "tick")
    cj["spec"]["suspend"] = True
    lab.store.update("batch", "cronjobs", cj)
    finish_job(lab, jobs(lab)[0])
    lab.advance(600)
    lab.sync()
    assert len(jobs(lab)) == 1


def test_replace_deletes_the_running_job(lab: Lab) -> None:
    lab.create("batch", "cronjobs", cronjob(concurrencyPolicy="Replace"))
    lab.advance(300)
    lab.sync()
    [first] = jobs(lab)
    lab.advance(300)
    lab.sync()
    [second] = jobs(lab)
    assert second["metadata"]["name"] != first["metadata"]["name"]
