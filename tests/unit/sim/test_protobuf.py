"""Decoding of protobuf request bodies: hand-built messages, malformed input, and the
bytes the real kubectl sends (captured by a small local server in this module)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sim.apiserver import discovery, openapi, protobuf
from app.sim.apiserver.proto_fields import MESSAGES
from app.sim.machinery.errors import ApiError
from app.sim.machinery.resources import builtin_registry

# --- a minimal protobuf writer for building test messages ------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def map_entry(number: int, key: str, value: bytes | str) -> bytes:
    return field_bytes(number, field_bytes(1, key) + field_bytes(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field_bytes(1, api_version) + field_bytes(2, kind)
    return protobuf.MAGIC + field_bytes(1, type_meta) + field_bytes(2, raw)


def object_meta(name: str, **labels: str) -> bytes:
    body = field_bytes(1, name)
    for key, value in labels.items():
        body += map_entry(11, key, value)
    return body


# --- decoding ---------------------------------------------------------------------------


def test_field_table_is_well_formed() -> None:
    outside = set()
    for name in MESSAGES:
        fields = protobuf.message_fields(name)
        for _number, (_json_name, type_, _repeated) in fields.items():
            target = type_[4:] if type_.startswith("map:") else type_
            if target not in protobuf._SCALARS and target not in MESSAGES:
                outside.add(target)
    # Only alpha types of groups the simulator does not serve fall outside the table.
    assert all(".v1alpha" in t for t in outside), outside
    assert protobuf.message_for("apps/v1", "Deployment") == "apps.v1.Deployment"
    assert protobuf.message_for("v1", "Namespace") == "core.v1.Namespace"
    assert protobuf.message_for("example.com/v1", "Widget") is None
    assert protobuf.message_for("apps/v1", "DeleteOptions") == "meta.v1.DeleteOptions"


def test_configmap_with_maps_and_bytes() -> None:
    raw = (
        field_bytes(1, object_meta("cm", app="web"))
        + map_entry(2, "a", "1")
        + map_entry(3, "bin", b"\x00\xff")
    )
    obj = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert obj == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cm", "labels": {"app": "web"}},
        "data": {"a": "1"},
        "binaryData": {"bin": "AP8="},
    }


def test_zero_values_follow_json_omitempty() -> None:
    # gogo-protobuf writes non-pointer zero fields; JSON leaves them out. A pointer
    # field set to zero (replicas: 0) is the user's choice and stays.
    spec = field_varint(1, 0) + field_bytes(3, b"") + field_varint(7, 0)  # replicas, template
    raw = field_bytes(1, object_meta("d")) + field_bytes(2, spec)
    obj = protobuf.decode(envelope("apps/v1", "Deployment", raw))
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["template"] == {}
    assert "paused" not in obj["spec"]  # field 7 is `paused bool` with no pointer
    # Time with zero seconds is an unset timestamp.
    meta = field_bytes(1, "n") + field_bytes(8, field_varint(1, 0))
    obj = protobuf.decode(envelope("v1", "Namespace", field_bytes(1, meta)))
    assert obj["metadata"] == {"name": "n"}


def test_negative_ints_times_and_int_or_string() -> None:
    # PriorityClass value -5 (int32 encoded as a 10-byte varint).
    raw = field_bytes(1, object_meta("low")) + field_varint(2, -5)
    obj = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))
    assert obj["value"] == -5
    created = field_bytes(8, field_varint(1, 1_700_000_000))
    obj = protobuf.decode(
        envelope("v1", "Namespace", field_bytes(1, field_bytes(1, "n") + created))
    )
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    by_name = field_bytes(4, field_varint(1, 1) + field_bytes(3, "http"))  # targetPort
    by_number = field_bytes(4, field_varint(1, 0) + field_varint(2, 8080))
    port_a = field_bytes(1, field_bytes(1, "a") + field_varint(3, 80) + by_name)
    port_b = field_bytes(1, field_bytes(1, "b") + field_varint(3, 81) + by_number)
    obj = protobuf.decode(envelope("v1", "Service", field_bytes(2, port_a + port_b)))
    assert obj["spec"]["ports"] == [
        {"name": "a", "port": 80, "targetPort": "http"},
        {"name": "b", "port": 81, "targetPort": 8080},
    ]


def test_inline_structs_spread_into_their_parent() -> None:
    # Volume{name, VolumeSource{configMap{LocalObjectReference{name}}}}: JSON has
    # volumes[0].configMap.name with no volumeSource/localObjectReference level.
    config_map = field_bytes(1, field_bytes(1, "settings"))
    volume_source = field_bytes(19, config_map)
    volume = field_bytes(1, "cfg") + field_bytes(2, volume_source)
    container = field_bytes(1, "app") + field_bytes(2, "nginx")
    pod_spec = field_bytes(1, volume) + field_bytes(2, container)
    obj = protobuf.decode(envelope("v1", "Pod", field_bytes(2, pod_spec)))
    assert obj["spec"]["volumes"] == [{"name": "cfg", "configMap": {"name": "settings"}}]
    assert obj["spec"]["containers"] == [{"name": "app", "image": "nginx"}]


def test_packed_repeated_scalars_are_accepted() -> None:
    # proto2 writers leave repeated ints unpacked, but a packed run must decode too.
    assert protobuf._packed_or_single("int32", 2, varint(1) + varint(2) + varint(300), "x") == [
        1,
        2,
        300,
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        protobuf.MAGIC + b"\x0a\x05ab",  # truncated length-delimited field
        protobuf.MAGIC + b"\x0b",  # group wire type
        protobuf.MAGIC + b"\x08" + b"\xff" * 11,  # endless varint
        protobuf.MAGIC,  # no kind
        envelope("v1", "ConfigMap", b"\x12\x03\x0a"),  # map entry cut short
        envelope("v1", "ConfigMap", b"\x08\x01"),  # metadata as a varint
        envelope("v1", "ConfigMap", field_bytes(1, field_bytes(1, b"\xff\xfe"))),  # bad UTF-8
    ],
)
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        protobuf.decode(body)
    assert err.value.code == 400
    assert err.value.status()["reason"] == "BadRequest"


def test_unknown_kind_is_unsupported_media() -> None:
    with pytest.raises(ApiError) as err:
        protobuf.decode(envelope("example.com/v1", "Widget", b""))
    assert err.value.code == 415


def test_truncated_nested_message_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as err:
        protobuf.decode_message("core.v1.Pod", b"\x12" + b"\xff" * 3)
    assert err.value.code == 400


def test_unknown_fields_are_skipped() -> None:
    raw = field_bytes(1, object_meta("n")) + field_bytes(99, "future") + field_varint(98, 7)
    obj = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "n"}}


def test_go_duration_strings() -> None:
    assert protobuf._go_duration(0) == "0s"
    assert protobuf._go_duration(3_600_000_000_000) == "1h0m0s"
    assert protobuf._go_duration(90_000_000_000) == "1m30s"
    assert protobuf._go_duration(1_500_000_000) == "1.5s"
    assert protobuf._go_duration(2_000_000) == "2ms"


# --- bytes from the real kubectl ---------------------------------------------------------


class _Capture:
    """A plain-http API endpoint that serves discovery and OpenAPI (v3 JSON, v2 gnostic
    protobuf) and records POSTs."""

    def __init__(self) -> None:
        self.registry = builtin_registry()
        self.bodies: list[tuple[str, str, bytes]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                accept = self.headers.get("Accept", "")
                doc: Any = None
                media = "application/json"
                if path == "/version":
                    doc = discovery.version_info()
                elif path in ("/api", "/apis") and discovery.wants_aggregated(accept):
                    doc = discovery.aggregated_discovery(capture.registry, path == "/api")
                    media = discovery.AGGREGATED_MEDIA
                elif path == "/openapi/v2" and openapi.wants_v2_protobuf(accept):
                    raw = openapi.v2_protobuf(capture.registry)
                    self._send(200, raw, openapi.V2_PROTOBUF_CONTENT_TYPE)
                    return
                elif path == "/openapi/v3":
                    doc = openapi.v3_index(capture.registry)
                elif path.startswith("/openapi/v3/"):
                    target = openapi.parse_v3_path(path[len("/openapi/v3/") :])
                    raw = openapi.v3_document(capture.registry, *target) if target else None
                    if raw is not None:
                        self._send(200, raw, media)
                        return
                if doc is None:
                    status = {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "NotFound",
                        "code": 404,
                        "message": "not found",
                    }
                    self._send(404, json.dumps(status).encode(), media)
                    return
                self._send(200, json.dumps(doc).encode(), media)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                content_type = self.headers.get("Content-Type", "")
                capture.bodies.append((self.path.split("?")[0], content_type, body))
                obj = protobuf.decode(body) if body.startswith(protobuf.MAGIC) else json.loads(body)
                obj.setdefault("metadata", {})["creationTimestamp"] = "2026-01-01T00:00:00Z"
                if obj["kind"] == "SelfSubjectAccessReview":
                    obj["status"] = {"allowed": True}
                if obj["kind"] == "TokenRequest":
                    obj["status"] = {
                        "token": "header.payload.signature",
                        "expirationTimestamp": "2026-01-01T01:00:00Z",
                    }
                self._send(201, json.dumps(obj).encode(), "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Capture, Path]]:
    cap = _Capture()
    cap.thread.start()
    home = tmp_path_factory.mktemp("kubectl-capture")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": cap.url}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [
                    {"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "default"}}
                ],
                "current-context": "x",
            }
        )
    )
    yield cap, home
    cap.server.shutdown()
    cap.server.server_close()


def _kubectl_binary() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else (shutil.which("kubectl") or "kubectl")


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KUBECONFIG": str(home / "kubeconfig"),
    }
    return subprocess.run(
        [_kubectl_binary(), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


CREATES: list[tuple[list[str], str, dict[str, Any]]] = [
    (["create", "namespace", "team-a"], "Namespace", {"metadata": {"name": "team-a"}}),
    (
        ["create", "configmap", "cfg", "--from-literal=mode=fast"],
        "ConfigMap",
        {"data": {"mode": "fast"}},
    ),
    (
        ["create", "secret", "generic", "creds", "--from-literal=user=admin"],
        "Secret",
        {"data": {"user": "YWRtaW4="}},
    ),
    (
        ["create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30080"],
        "Service",
        {
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [
                    {
                        "name": "80-8080",
                        "protocol": "TCP",
                        "port": 80,
                        "targetPort": 8080,
                        "nodePort": 30080,
                    }
                ],
            }
        },
    ),
    (["create", "serviceaccount", "bot"], "ServiceAccount", {"metadata": {"name": "bot"}}),
    (
        ["create", "role", "reader", "--verb=get,list", "--resource=pods"],
        "Role",
        {"rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]},
    ),
    (
        ["create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz"],
        "ClusterRole",
        {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]},
    ),
    (
        ["create", "rolebinding", "rb", "--role=reader", "--serviceaccount=default:bot"],
        "RoleBinding",
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}],
        },
    ),
    (
        ["create", "clusterrolebinding", "crb", "--clusterrole=view", "--group=devs"],
        "ClusterRoleBinding",
        {"subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]},
    ),
    (
        ["create", "deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=80"],
        "Deployment",
        {
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80}],
                                "resources": {},
                            }
                        ]
                    },
                },
            }
        },
    ),
    (
        ["create", "job", "once", "--image=busybox", "--", "echo", "hi"],
        "Job",
        {
            "spec": {
                "template": {
                    "metadata": {},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "once",
                                "image": "busybox",
                                "command": ["echo", "hi"],
                                "resources": {},
                            }
                        ],
                    },
                }
            }
        },
    ),
    (
        ["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
        "CronJob",
        {"spec": {"schedule": "*/5 * * * *"}},
    ),
    (
        ["create", "quota", "q", "--hard=pods=10,limits.memory=2Gi"],
        "ResourceQuota",
        {"spec": {"hard": {"pods": "10", "limits.memory": "2Gi"}}},
    ),
    (
        ["create", "priorityclass", "high", "--value=1000", "--description=important"],
        "PriorityClass",
        {"value": 1000, "description": "important"},
    ),
    (
        ["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=50%"],
        "PodDisruptionBudget",
        {"spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}},
    ),
    (
        ["create", "ingress", "ing", "--class=nginx", "--rule=a.com/api*=api:8080"],
        "Ingress",
        {
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": "a.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/api",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "api", "port": {"number": 8080}}
                                    },
                                }
                            ]
                        },
                    }
                ],
            }
        },
    ),
    (
        ["create", "token", "bot", "--duration=1h", "--audience=api"],
        "TokenRequest",
        {"spec": {"audiences": ["api"], "expirationSeconds": 3600}},
    ),
    (
        ["auth", "can-i", "create", "deployments.apps", "--subresource=scale"],
        "SelfSubjectAccessReview",
        {
            "spec": {
                "resourceAttributes": {
                    "namespace": "default",
                    "verb": "create",
                    "group": "apps",
                    "resource": "deployments",
                    "subresource": "scale",
                }
            }
        },
    ),
]


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual == expected


@pytest.mark.kubectl
@pytest.mark.parametrize(("args", "kind", "expected"), CREATES, ids=[c[1] for c in CREATES])
def test_kubectl_protobuf_bodies_decode(
    capture: tuple[_Capture, Path], args: list[str], kind: str, expected: dict[str, Any]
) -> None:
    cap, home = capture
    before = len(cap.bodies)
    result = _run(home, *args)
    assert result.returncode == 0, result.stderr
    _path, content_type, body = cap.bodies[before]
    assert content_type == protobuf.MEDIA_TYPE
    assert body.startswith(protobuf.MAGIC)
    obj = protobuf.decode(body)
    assert obj["kind"] == kind
    assert _contains(obj, expected), json.dumps(obj, indent=1)


@given(
    kind=st.sampled_from(
        [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("v1", "Secret"),
            ("batch/v1", "CronJob"),
            ("networking.k8s.io/v1", "Ingress"),
            ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ]
    ),
    raw=st.binary(max_size=200),
)
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash_the_decoder(kind: tuple[str, str], raw: bytes) -> None:
    try:
        obj = protobuf.decode(envelope(kind[0], kind[1], raw))
    except ApiError as err:
        assert err.code == 400
    else:
        assert obj["kind"] == kind[1]
        json.dumps(obj)


@given(raw=st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_random_envelopes_never_crash_the_decoder(raw: bytes) -> None:
    try:
        protobuf.decode(protobuf.MAGIC + raw)
    except ApiError as err:
        assert err.code in (400, 415)


def _sample_pod() -> bytes:
    config_map = field_bytes(1, field_bytes(1, "settings"))
    volume = field_bytes(1, "cfg") + field_bytes(2, field_bytes(19, config_map))
    port = field_bytes(6, field_varint(3, 80) + field_bytes(4, "TCP"))
    limits = map_entry(1, "cpu", field_bytes(1, "500m"))
    container = field_bytes(1, "app") + field_bytes(2, "nginx") + port + field_bytes(8, limits)
    spec = field_bytes(1, volume) + field_bytes(2, container) + field_varint(4, 30)
    meta = object_meta("p", app="web") + field_bytes(8, field_varint(1, 1_700_000_000))
    return field_bytes(1, meta) + field_bytes(2, spec)


def test_sample_pod_decodes() -> None:
    obj = protobuf.decode(envelope("v1", "Pod", _sample_pod()))
    container = obj["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["resources"] == {"limits": {"cpu": "500m"}}
    assert obj["spec"]["terminationGracePeriodSeconds"] == 30


@given(data=st.data())
@settings(max_examples=400, deadline=None)
def test_mutated_messages_never_crash_the_decoder(data: st.DataObject) -> None:
    raw = bytearray(_sample_pod())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    try:
        obj = protobuf.decode(envelope("v1", "Pod", bytes(raw)))
    except ApiError as err:
        assert err.code == 400
    else:
        json.dumps(obj)


@pytest.mark.kubectl
def test_kubectl_explain_reads_the_v2_protobuf_document(capture: tuple[_Capture, Path]) -> None:
    _cap, home = capture
    result = _run(home, "explain", "pod.spec.containers.ports", "--output=plaintext-openapiv2")
    assert result.returncode == 0, result.stderr
    assert "RESOURCE: ports <[]Object>" in result.stdout
    assert re.search(r"^\s+containerPort\s+<integer> -required-", result.stdout, re.M)
    assert "ContainerPort represents a network port" in result.stdout


@pytest.mark.kubectl
def test_kubectl_validates_a_list_against_the_v2_protobuf_document(
    capture: tuple[_Capture, Path],
) -> None:
    # A `kind: List` has no fieldValidation support to discover, so kubectl validates
    # it client-side with the /openapi/v2 protobuf schema.
    cap, home = capture
    item = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "listed"},
        "data": {"a": "1"},
    }
    good = {"apiVersion": "v1", "kind": "List", "items": [item]}
    path = home / "list.json"
    path.write_text(json.dumps(good))
    before = len(cap.bodies)
    result = _run(home, "apply", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(cap.bodies[before][2])["metadata"]["name"] == "listed"
    path.write_text(json.dumps({**good, "items": [{**item, "bogus": 1}]}))
    result = _run(home, "apply", "-f", str(path))
    assert result.returncode != 0
    assert 'unknown field "bogus" in io.k8s.api.core.v1.ConfigMap' in result.stderr
