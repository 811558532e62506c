"""Run a command in a container through the API server's `pods/exec` subresource, as
`kubectl exec` does, and collect its exit code and output.

The official client's `kubernetes.stream.stream` speaks the WebSocket remote-command
protocol (`v5.channel.k8s.io`/`v4.channel.k8s.io`: stdout on channel 1, stderr on 2,
the exit Status on 3), which the simulator and real API servers both serve. `stream`
swaps the transport of the `ApiClient` it is given for the length of the call, so each
exec gets an `ApiClient` of its own over the reader's configuration (host, bearer token
or client certificate, CA): a client shared with concurrent grades is never touched.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

from app.grading.reader import UNAVAILABLE_STATUSES, ClusterReadError, ClusterUnreachableError

_HANDSHAKE_STATUS = re.compile(r"Handshake status (\d{3})")


class PodExecError(Exception):
    """The API server refused to start the exec (the pod or container is gone or not
    running): what a learner's cluster state explains, not a grader failure."""


@dataclass
class ExecResult:
    """A finished (or abandoned) exec. `exit_code` is None when the command did not
    finish within the timeout (`timed_out`) or could not be started in the container
    (`failure` holds the runtime's message, e.g. an executable not found)."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    failure: str | None = None


def exec_in_pod(
    api_client: ApiClient,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    timeout: float,
) -> ExecResult:
    """Run `argv` in `container` of `namespace/pod` and wait up to `timeout` seconds.

    Raises `PodExecError` when the upgrade is refused with 400/404,
    `ClusterUnreachableError` when the server cannot be reached or answers 502/503/504,
    and `ClusterReadError` for other refusals (401/403: the grader may not exec).
    """
    own = ApiClient(configuration=api_client.configuration)
    try:
        core = CoreV1Api(own)
        try:
            client = stream(
                core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=argv,
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
        except ApiException as exc:
            raise _refusal(exc, namespace, pod) from exc
        try:
            client.run_forever(timeout=timeout)
            # Non-blocking reads: the output buffered so far (a running command may add more).
            stdout, stderr = client.read_stdout(timeout=0), client.read_stderr(timeout=0)
            if client.is_open():
                return ExecResult(None, stdout, stderr, timed_out=True)
            return _finished(client.read_channel(ERROR_CHANNEL), stdout, stderr)
        finally:
            with contextlib.suppress(Exception):
                client.close()
    finally:
        with contextlib.suppress(Exception):
            own.close()


def _finished(status_text: str, stdout: str, stderr: str) -> ExecResult:
    """The result from the Status the server wrote on the error channel (kubelet's
    remotecommand: `Success`, or `Failure` with reason `NonZeroExitCode` and the code
    as the `ExitCode` cause; another Failure means the command never ran)."""
    try:
        status: Any = json.loads(status_text) if status_text.strip() else None
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return ExecResult(
            None, stdout, stderr, failure="the connection closed without an exit status"
        )
    if status.get("status") == "Success":
        return ExecResult(0, stdout, stderr)
    causes = (status.get("details") or {}).get("causes") or []
    if status.get("reason") == "NonZeroExitCode":
        for cause in causes:
            if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
                return ExecResult(int(cause["message"]), stdout, stderr)
    return ExecResult(None, stdout, stderr, failure=str(status.get("message") or status))


def _refusal(exc: ApiException, namespace: str, pod: str) -> Exception:
    """The error to raise for a refused or failed WebSocket upgrade. The client wraps
    the transport's exception (kept as `__context__`): a bad handshake status carries
    `status_code` and the API's Status body; anything else is a socket or TLS error."""
    cause = exc.__context__
    code = getattr(cause, "status_code", None)
    if code is None:
        found = _HANDSHAKE_STATUS.search(str(exc.reason or ""))
        code = int(found.group(1)) if found else None
    where = f"exec in pod {namespace}/{pod}"
    if code is None:
        if isinstance(cause, OSError):
            return ClusterUnreachableError(f"{where}: {cause}")
        return ClusterReadError(f"{where}: {exc.reason}")
    message = _status_message(getattr(cause, "resp_body", None)) or str(exc.reason)
    if code in UNAVAILABLE_STATUSES:
        return ClusterUnreachableError(f"{where}: HTTP {code}: {message}")
    if code in (400, 404):
        return PodExecError(message)
    return ClusterReadError(f"{where}: HTTP {code}: {message}")


def _status_message(body: Any) -> str | None:
    """The `message` of a Status body, if the body is one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:200] or None
    return data.get("message") if isinstance(data, dict) else None
