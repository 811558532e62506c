"""`pod_command`: its fields, the probe pod it creates, and how an exec's end and a
refused upgrade are read (the live behaviour is in
tests/integration/grading/test_pod_command.py)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from marshmallow import ValidationError
from websocket import WebSocketBadStatusException

from app.grading.checks.pod_command import (
    PROBE_IMAGE,
    PodCommandSchema,
    argv_of,
    default_container,
    probe_manifest,
)
from app.grading.pod_exec import PodExecError, _finished, _refusal
from app.grading.reader import ClusterReadError, ClusterUnreachableError


def load(**fields: Any) -> dict[str, Any]:
    return PodCommandSchema().load(fields)


def test_defaults_for_a_pod_chosen_by_labels() -> None:
    params = load(label_selector="app=web", command="wget -qO- http://api")
    assert params == {
        "namespace": "default",
        "label_selector": "app=web",
        "command": "wget -qO- http://api",
        "exit_code": 0,
        "timeout_seconds": 30,
    }


def test_from_pod_defaults_and_an_argv_command() -> None:
    params = load(
        namespace="shop",
        from_pod={"labels": {"app": "frontend"}},
        command=["nc", "-z", "api", "80"],
    )
    assert params["from_pod"] == {
        "labels": {"app": "frontend"},
        "image": PROBE_IMAGE,
        "budget_seconds": 60,
        "poll_seconds": 0.5,
    }
    assert params["command"] == ["nc", "-z", "api", "80"]
    assert load(from_pod={}, command="true")["from_pod"]["labels"] == {}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"command": "true"}, "needs exactly one of pod, label_selector, from_pod; found 0"),
        (
            {"pod": "a", "label_selector": "app=a", "command": "true"},
            "needs exactly one of pod, label_selector, from_pod; found 2",
        ),
        ({"from_pod": {}, "container": "c", "command": "true"}, "leave out container"),
        ({"pod": "a", "command": ""}, "a non-empty command line"),
        ({"pod": "a", "command": []}, "a non-empty command line"),
        ({"pod": "a", "command": ["wget", ""]}, "a non-empty command line"),
        ({"pod": "a", "command": 7}, "a non-empty command line"),
        ({"pod": "a", "command": "true", "stdout_regex": "("}, "invalid regular expression"),
        ({"pod": "a", "command": "true", "timeout_seconds": 0}, "greater than or equal to 1"),
        ({"pod": "a", "command": "true", "exit_code": "1"}, "Not a valid integer"),
        ({"from_pod": {"labels": {"app": 3}}, "command": "true"}, "Not a valid string"),
        ({"from_pod": {"budget_seconds": 900}, "command": "true"}, "less than or equal to 300"),
        ({"from_pod": {"name": "x"}, "command": "true"}, "Unknown field"),
        ({"pod": "a", "command": "true", "node": "node01"}, "Unknown field"),
    ],
)
def test_field_errors(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PodCommandSchema().load(fields)
    assert error in str(raised.value.messages)


def test_a_command_line_runs_through_sh_and_a_list_as_is() -> None:
    assert argv_of("wget -qO- http://api:8080 && echo ok") == [
        "sh",
        "-c",
        "wget -qO- http://api:8080 && echo ok",
    ]
    assert argv_of(["nslookup", "api"]) == ["nslookup", "api"]


def test_default_container_follows_kubectl() -> None:
    pod = {"spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}}
    assert default_container(pod) == "app"
    pod["metadata"] = {"annotations": {"kubectl.kubernetes.io/default-container": "sidecar"}}
    assert default_container(pod) == "sidecar"
    pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] = "gone"
    assert default_container(pod) == "app"


def test_probe_pod_carries_only_the_labels_asked_for() -> None:
    spec = {"labels": {"app": "frontend"}, "image": "busybox:1.36"}
    pod = probe_manifest("certprep-probe-0123456789ab", "shop", spec, "grade-7")
    assert pod["metadata"]["labels"] == {"app": "frontend"}
    assert pod["metadata"]["annotations"] == {
        "certprep.io/probe": "true",
        "certprep.io/grade-id": "grade-7",
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["sleep", "3600"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # The manifest's labels are a copy: editing the probe never edits the lab file.
    pod["metadata"]["labels"]["x"] = "y"
    assert spec["labels"] == {"app": "frontend"}


def test_exit_status_channel() -> None:
    assert _finished('{"metadata":{},"status":"Success"}', "out", "").exit_code == 0
    failure = (
        '{"status":"Failure","reason":"NonZeroExitCode",'
        '"details":{"causes":[{"reason":"ExitCode","message":"28"}]}}'
    )
    assert _finished(failure, "", "curl: (28)").exit_code == 28
    missing = _finished(
        '{"status":"Failure","reason":"InternalError","message":"exec: \\"wget\\": executable'
        ' file not found in $PATH"}',
        "",
        "",
    )
    assert missing.exit_code is None and "executable file not found" in str(missing.failure)
    closed = _finished("", "", "")
    assert (
        closed.exit_code is None
        and closed.failure == "the connection closed without an exit status"
    )


def test_refused_upgrades() -> None:
    body = b'{"kind":"Status","message":"pods \\"web-0\\" not found","code":404}'
    bad = WebSocketBadStatusException("Handshake status 404 Not Found", 404, "Not Found", {}, body)
    wrapped = ApiException(status=0, reason=str(bad))
    wrapped.__context__ = bad
    gone = _refusal(wrapped, "shop", "web-0")
    assert isinstance(gone, PodExecError) and str(gone) == 'pods "web-0" not found'

    forbidden = ApiException(status=0, reason="Handshake status 403 Forbidden -+-+- {}")
    assert type(_refusal(forbidden, "shop", "web-0")) is ClusterReadError
    busy = ApiException(status=0, reason="Handshake status 503 Service Unavailable")
    assert isinstance(_refusal(busy, "shop", "web-0"), ClusterUnreachableError)

    refused = ApiException(status=0, reason="[Errno 111] Connection refused")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    down = _refusal(refused, "shop", "web-0")
    assert isinstance(down, ClusterUnreachableError)
    assert "exec in pod shop/web-0" in str(down)
