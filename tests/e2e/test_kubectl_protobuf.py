"""What the real kubectl sends and reads as protobuf: kubectl's request bodies decode,
and it reads and validates with the simulator's /openapi/v2 protobuf document (served by
a small local capture server in this module)."""

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

from app.sim.apiserver import discovery, openapi, protobuf
from app.sim.machinery.resources import builtin_registry

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
