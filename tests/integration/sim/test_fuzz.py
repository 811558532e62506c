"""Property test: random patches and bodies thrown at a live simulator cluster never
get a 5xx and never leave an object that fails validation or cannot be read back."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim.apiserver import validation
from tests.builders import crd

PATCH_TYPES = [
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
]
TARGETS = [
    ("/api/v1/namespaces/default/pods/web", "", "pods"),
    ("/apis/apps/v1/namespaces/default/deployments/web", "apps", "deployments"),
    ("/api/v1/namespaces/default/configmaps/settings", "", "configmaps"),
    ("/api/v1/namespaces/default/services/web", "", "services"),
    ("/apis/example.com/v1/namespaces/default/widgets/w", "example.com", "widgets"),
]
WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}
WIDGET_CRD = crd(schema=WIDGET_SCHEMA)
SEED_OBJECTS = [
    ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD),
    (
        "/apis/example.com/v1/namespaces/default/widgets",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 2, "color": "red"},
        },
    ),
    (
        "/api/v1/namespaces/default/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
        },
    ),
    (
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
                },
            },
        },
    ),
    (
        "/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {}},
    ),
    (
        "/api/v1/namespaces/default/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    ),
]

# Field names the API knows, mixed with noise, so patches hit real code paths.
KEYS = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "labels",
        "annotations",
        "name",
        "namespace",
        "finalizers",
        "containers",
        "image",
        "ports",
        "containerPort",
        "replicas",
        "selector",
        "matchLabels",
        "template",
        "data",
        "type",
        "clusterIP",
        "resources",
        "limits",
        "cpu",
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "$deleteFromPrimitiveList/finalizers",
        "app",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(["", "web", "nginx", "delete", "replace", "100m", "1Gi", "Bad_Name", "ø"]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)
POINTERS = st.lists(
    st.sampled_from(["metadata", "spec", "labels", "containers", "0", "1", "-", "image", "x"]),
    max_size=4,
).map(lambda parts: "/" + "/".join(parts))
JSON_OPS = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
            "path": POINTERS,
        },
        optional={"value": VALUES, "from": POINTERS},
    ),
    max_size=3,
)

LABEL_TEXT = st.text(alphabet="abcXYZ019-_./ ", max_size=10)
# Patches shaped like real ones, so many of them succeed and reach the store.
PLAUSIBLE = st.one_of(
    st.builds(
        lambda labels: {"metadata": {"labels": labels}},
        st.dictionaries(LABEL_TEXT, st.one_of(LABEL_TEXT, st.none()), max_size=3),
    ),
    st.builds(lambda n: {"spec": {"replicas": n}}, st.integers(-2, 5)),
    st.builds(
        lambda image, name: {
            "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}
        },
        LABEL_TEXT,
        st.sampled_from(["app", "side", "Bad"]),
    ),
    st.builds(
        lambda image: {"spec": {"containers": [{"name": "app", "image": image}]}}, LABEL_TEXT
    ),
    st.builds(lambda data: {"data": data}, st.dictionaries(LABEL_TEXT, LABEL_TEXT, max_size=3)),
    st.builds(
        lambda size, color: {"spec": {"size": size, "color": color}},
        st.one_of(st.integers(-1, 3), st.just("2")),
        st.sampled_from(["red", "green", None]),
    ),
    st.builds(lambda port: {"spec": {"ports": [{"port": port}]}}, st.integers(-1, 70000)),
    st.builds(
        lambda cpu: {
            "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]}
        },
        st.sampled_from(["100m", "1", "-1", "1Qi", "", "2Gi"]),
    ),
)


class Client:
    """Plain HTTPS requests to one cluster, with the admin token."""

    def __init__(self, sim_cluster, tmp_path: Path) -> None:
        config = yaml.safe_load(Path(sim_cluster.kubeconfig_path).read_text())
        ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
        self.ca = tmp_path / "ca.crt"
        self.ca.write_bytes(ca)
        self.base = sim_cluster.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sim_cluster.token}"

    def send(self, method: str, path: str, body: bytes, content_type: str, query: str = ""):
        return self.session.request(
            method,
            f"{self.base}{path}{query}",
            data=body,
            headers={"Content-Type": content_type},
            # Per request: a session-wide `verify` loses to REQUESTS_CA_BUNDLE.
            verify=str(self.ca),
            timeout=10,
        )


@pytest.fixture
def client(sim_cluster, tmp_path):
    api = Client(sim_cluster, tmp_path)
    for path, obj in SEED_OBJECTS:
        response = api.send("POST", path, json.dumps(obj).encode(), "application/json")
        assert response.status_code == 201, response.text
    return api


def assert_cluster_sound(sim_cluster, client: Client) -> None:
    """Every object of the fuzzed kinds validates, type-checks and reads back over HTTP."""
    registry = sim_cluster.cluster.registry
    for path, group, plural in TARGETS:
        rt = next(r for r in registry if (r.group, r.plural) == (group, plural))
        items, _ = sim_cluster.store.list(group, plural, "default")
        for obj in items:
            assert validation.validate_object(obj, rt) == [], obj
            validation.check_types(json.loads(json.dumps(obj)), rt, registry)
        collection = path.rsplit("/", 1)[0]
        listed = client.send("GET", collection, b"", "application/json")
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == len(items)
        for obj in items:
            got = client.send("GET", f"{collection}/{obj['metadata']['name']}", b"", "")
            assert got.status_code == 200, got.text


FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    target=st.sampled_from(TARGETS),
    content_type=st.sampled_from(PATCH_TYPES),
    patch=st.one_of(VALUES, PLAUSIBLE, PLAUSIBLE),
    dry_run=st.booleans(),
)
def test_random_patches(sim_cluster, client, target, content_type, patch, dry_run):
    path = target[0]
    body = json.dumps(patch).encode()
    if content_type == "application/apply-patch+yaml" and isinstance(patch, dict):
        # An apply body names its object; merge the identity in so it can succeed.
        kind = {
            "pods": "Pod",
            "deployments": "Deployment",
            "configmaps": "ConfigMap",
            "widgets": "Widget",
        }
        group_version = {"apps": "apps/v1", "example.com": "example.com/v1"}.get(target[1], "v1")
        identity = {
            "apiVersion": group_version,
            "kind": kind.get(target[2], "Service"),
            "metadata": {"name": path.rsplit("/", 1)[1], "namespace": "default"},
        }
        body = json.dumps({**patch, **identity}).encode()
    query = "?fieldManager=fuzz" + ("&dryRun=All" if dry_run else "")
    if content_type == "application/apply-patch+yaml":
        query += "&force=true"
    response = client.send("PATCH", path, body, content_type, query)
    assert response.status_code < 500, response.text
    assert_cluster_sound(sim_cluster, client)


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            "/apis/apps/v1/namespaces/default/deployments/web/status",
            "/api/v1/namespaces/default/pods/web/status",
            "/api/v1/namespaces/default/services/web/status",
        ]
    ),
    content_type=st.sampled_from(PATCH_TYPES[:3]),
    patch=st.one_of(VALUES, PLAUSIBLE),
)
def test_random_subresource_patches(sim_cluster, client, path, content_type, patch):
    response = client.send("PATCH", path, json.dumps(patch).encode(), content_type)
    assert response.status_code < 500, response.text
    assert_cluster_sound(sim_cluster, client)


@FUZZ
@given(target=st.sampled_from(TARGETS), operations=JSON_OPS)
def test_random_json_patches(sim_cluster, client, target, operations):
    body = json.dumps(operations).encode()
    response = client.send("PATCH", target[0], body, "application/json-patch+json")
    assert response.status_code < 500, response.text
    assert_cluster_sound(sim_cluster, client)


@FUZZ
@given(
    target=st.sampled_from(TARGETS),
    body=st.one_of(
        VALUES.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=40),
    ),
    method=st.sampled_from(["POST", "PUT"]),
)
def test_random_bodies(sim_cluster, client, target, body, method):
    path = target[0] if method == "PUT" else target[0].rsplit("/", 1)[0]
    response = client.send(method, path, body, "application/json")
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["kind"] == "Status"
    assert_cluster_sound(sim_cluster, client)


@FUZZ
@given(
    target=st.sampled_from(TARGETS),
    mutation=st.dictionaries(KEYS, VALUES, min_size=1, max_size=3),
)
def test_random_objects_built_from_valid_ones(sim_cluster, client, target, mutation):
    """Start from the stored object, overwrite a few top-level or spec fields, PUT it."""
    path = target[0]
    current = client.send("GET", path, b"", "").json()
    section = "spec" if isinstance(current.get("spec"), dict) else None
    changed = json.loads(json.dumps(current))
    (changed[section] if section else changed).update(mutation)
    response = client.send("PUT", path, json.dumps(changed).encode(), "application/json")
    assert response.status_code < 500, response.text
    assert_cluster_sound(sim_cluster, client)


# Printable ASCII without surrounding spaces: what an HTTP client lets through.
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(
    str.strip
)


@FUZZ
@given(
    authorization=st.one_of(
        st.none(),
        HEADER_TEXT,
        HEADER_TEXT.map(lambda t: f"Bearer {t}"),
        st.just("Bearer"),
    ),
    impersonate=st.dictionaries(
        st.sampled_from(["Impersonate-User", "Impersonate-Group", "Impersonate-Uid"]),
        st.one_of(
            HEADER_TEXT,
            st.sampled_from(["jane", "system:serviceaccount:default:x", "system:masters"]),
        ),
        max_size=3,
    ),
    review=st.dictionaries(KEYS, VALUES, max_size=3),
)
def test_random_credentials_and_reviews(sim_cluster, client, authorization, impersonate, review):
    """Random credentials and impersonation never crash authentication, and a random
    access review never crashes the authorizer."""
    headers = dict(impersonate)
    if authorization is not None:
        headers["Authorization"] = authorization
    response = requests.get(
        f"{client.base}/api/v1/namespaces/default/pods",
        headers=headers,
        verify=str(client.ca),
        timeout=10,
    )
    assert response.status_code in (200, 400, 401, 403), response.text
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", **review}
    answered = client.send(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        json.dumps(body).encode(),
        "application/json",
    )
    assert answered.status_code < 500, answered.text
    assert_cluster_sound(sim_cluster, client)
