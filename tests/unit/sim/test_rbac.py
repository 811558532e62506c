"""RBAC authorization over a real object store: rules, bindings, bootstrap roles,
aggregation and access reviews."""

from __future__ import annotations

import pytest

from app.sim.apiserver import rbac
from app.sim.apiserver.authn import ANONYMOUS_USER, UserInfo
from app.sim.apiserver.rbac import Authorizer, RequestAttributes
from app.sim.machinery.store import ObjectStore

G = "rbac.authorization.k8s.io"
JANE = UserInfo("jane", ("devs", "system:authenticated"))
ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
ROBOT = UserInfo(
    "system:serviceaccount:team:robot",
    ("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"),
)


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore()
    for role in rbac.bootstrap_cluster_roles():
        store.create(G, "clusterroles", role)
    for binding in rbac.bootstrap_cluster_role_bindings():
        store.create(G, "clusterrolebindings", binding)
    return store


def role(name: str, rules: list[dict], namespace: str | None = "team") -> dict:
    kind = "Role" if namespace else "ClusterRole"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta, "rules": rules}


def binding(name: str, role_kind: str, role_name: str, subjects: list[dict], namespace="team"):
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": f"{G}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": G, "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def can(store, user, verb, resource, namespace="team", group="", name="", sub="") -> bool:
    attrs = RequestAttributes(verb, group, resource, sub, namespace, name)
    return Authorizer(store).authorize(user, attrs).allowed


def test_system_masters_may_do_anything(store):
    assert can(store, ADMIN, "delete", "nodes", namespace="")
    assert (
        Authorizer(store)
        .authorize(ADMIN, RequestAttributes("get", non_resource_path="/metrics"))
        .allowed
    )


def test_role_binding_grants_only_in_its_namespace(store):
    store.create(
        G,
        "roles",
        role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
    )
    store.create(
        G, "rolebindings", binding("jane", "Role", "reader", [{"kind": "User", "name": "jane"}])
    )
    assert can(store, JANE, "list", "pods")
    assert not can(store, JANE, "delete", "pods")
    assert not can(store, JANE, "list", "pods", namespace="other")
    assert not can(store, JANE, "list", "secrets")
    decision = Authorizer(store).authorize(JANE, RequestAttributes("get", "", "pods", "", "team"))
    assert (
        decision.reason
        == 'RBAC: allowed by RoleBinding "jane/team" of Role "reader" to User "jane"'
    )


def test_group_and_service_account_subjects(store):
    store.create(
        G, "roles", role("cm", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}])
    )
    store.create(
        G, "rolebindings", binding("devs", "Role", "cm", [{"kind": "Group", "name": "devs"}])
    )
    store.create(
        G,
        "rolebindings",
        binding("robot", "Role", "cm", [{"kind": "ServiceAccount", "name": "robot"}]),
    )
    assert can(store, JANE, "create", "configmaps")
    assert can(store, ROBOT, "delete", "configmaps")
    stranger = UserInfo("system:serviceaccount:other:robot", ("system:authenticated",))
    assert not can(store, stranger, "delete", "configmaps")


def test_wildcards_resource_names_and_subresources(store):
    rules = [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": ["web"],
            "verbs": ["get", "patch"],
        },
        {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["update"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    store.create(G, "roles", role("mixed", rules))
    store.create(
        G, "rolebindings", binding("jane", "Role", "mixed", [{"kind": "User", "name": "jane"}])
    )
    assert can(store, JANE, "patch", "deployments", group="apps", name="web")
    assert not can(store, JANE, "patch", "deployments", group="apps", name="api")
    assert not can(store, JANE, "list", "deployments", group="apps")
    assert can(store, JANE, "update", "deployments", group="apps", sub="scale")
    assert can(store, JANE, "update", "statefulsets", group="apps", sub="scale")
    assert can(store, JANE, "get", "pods", sub="log")
    assert not can(store, JANE, "get", "pods")


def test_cluster_role_via_role_binding_is_namespaced(store):
    store.create(
        G,
        "rolebindings",
        binding("jane-edit", "ClusterRole", "edit", [{"kind": "User", "name": "jane"}]),
    )
    assert can(store, JANE, "create", "deployments", group="apps")
    assert can(store, JANE, "get", "secrets")
    assert not can(store, JANE, "create", "rolebindings", group=G)
    assert not can(store, JANE, "create", "deployments", group="apps", namespace="kube-system")


def test_bootstrap_view_edit_admin(store):
    store.create(
        G,
        "clusterrolebindings",
        binding("v", "ClusterRole", "view", [{"kind": "User", "name": "jane"}], None),
    )
    assert can(store, JANE, "list", "pods", namespace="kube-system")
    assert can(store, JANE, "watch", "deployments", group="apps")
    assert not can(store, JANE, "get", "secrets")
    assert not can(store, JANE, "delete", "pods")
    admin = {r["metadata"]["name"]: r for r in rbac.bootstrap_cluster_roles()}["admin"]
    assert admin["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"] == {
        "rbac.authorization.k8s.io/aggregate-to-admin": "true"
    }


def test_aggregated_cluster_role_picks_up_new_roles(store):
    store.create(
        G,
        "clusterroles",
        {
            "apiVersion": f"{G}/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "widgets-view",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
        },
    )
    store.create(
        G, "rolebindings", binding("v", "ClusterRole", "view", [{"kind": "User", "name": "jane"}])
    )
    assert can(store, JANE, "get", "widgets", group="example.com")


def test_authenticated_and_anonymous_defaults(store):
    authz = Authorizer(store)
    assert authz.authorize(JANE, RequestAttributes("get", non_resource_path="/apis/apps")).allowed
    assert authz.authorize(
        JANE, RequestAttributes("create", "authorization.k8s.io", "selfsubjectaccessreviews")
    ).allowed
    assert authz.authorize(
        ANONYMOUS_USER, RequestAttributes("get", non_resource_path="/version")
    ).allowed
    assert not authz.authorize(
        ANONYMOUS_USER, RequestAttributes("get", non_resource_path="/api")
    ).allowed
    assert not authz.authorize(
        ANONYMOUS_USER, RequestAttributes("list", "", "pods", "", "default")
    ).allowed


def test_forbidden_messages():
    namespaced = rbac.forbidden_error(JANE, RequestAttributes("list", "", "secrets", "", "team"))
    assert namespaced.code == 403
    assert namespaced.message == (
        'secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" '
        'in the namespace "team"'
    )
    named = rbac.forbidden_error(
        JANE, RequestAttributes("get", "apps", "deployments", "scale", "", "web")
    )
    assert named.message == (
        'deployments.apps "web" is forbidden: User "jane" cannot get resource '
        '"deployments/scale" in API group "apps" at the cluster scope'
    )
    path = rbac.forbidden_error(ANONYMOUS_USER, RequestAttributes("get", non_resource_path="/api"))
    assert path.message == 'forbidden: User "system:anonymous" cannot get path "/api"'


def test_access_reviews(store):
    store.create(
        G, "roles", role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    )
    store.create(
        G, "rolebindings", binding("jane", "Role", "reader", [{"kind": "User", "name": "jane"}])
    )
    authz = Authorizer(store)
    spec = {"resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods"}}
    self_review = rbac.access_review(
        authz,
        JANE,
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec},
    )
    assert self_review["status"]["allowed"] is True
    assert "RBAC: allowed by RoleBinding" in self_review["status"]["reason"]

    review = rbac.access_review(
        authz, ADMIN, {"kind": "SubjectAccessReview", "spec": {**spec, "user": "bob"}}
    )
    assert review["status"] == {"allowed": False}

    local = rbac.access_review(
        authz,
        ADMIN,
        {"kind": "LocalSubjectAccessReview", "spec": {**spec, "user": "jane"}},
        namespace="other",
    )
    assert local["status"]["allowed"] is False

    url = rbac.access_review(
        authz,
        JANE,
        {
            "kind": "SelfSubjectAccessReview",
            "spec": {"nonResourceAttributes": {"verb": "get", "path": "/healthz"}},
        },
    )
    assert url["status"]["allowed"] is True

    with pytest.raises(Exception) as err:
        rbac.access_review(authz, JANE, {"kind": "SelfSubjectAccessReview", "spec": {}})
    assert getattr(err.value, "code", None) == 422


def test_rules_review_lists_bound_rules(store):
    store.create(
        G, "roles", role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    )
    store.create(
        G, "rolebindings", binding("jane", "Role", "reader", [{"kind": "User", "name": "jane"}])
    )
    status = rbac.rules_review(Authorizer(store), JANE, "team")
    resources = [r["resources"] for r in status["resourceRules"]]
    assert ["pods"] in resources
    assert ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] in resources
    assert any("/version" in r["nonResourceURLs"] for r in status["nonResourceRules"])
    assert status["incomplete"] is False


def test_bootstrap_objects_are_labelled_and_bound():
    roles = {r["metadata"]["name"] for r in rbac.bootstrap_cluster_roles()}
    assert {"cluster-admin", "admin", "edit", "view", "system:discovery"} <= roles
    bindings = {b["metadata"]["name"]: b for b in rbac.bootstrap_cluster_role_bindings()}
    assert bindings["cluster-admin"]["subjects"] == [
        {"apiGroup": G, "kind": "Group", "name": "system:masters"}
    ]
    for obj in rbac.bootstrap_cluster_roles():
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


def test_escalation_is_refused_without_escalate_or_bind(store):
    manager_rules = [
        # Explicit verbs: "*" would include `escalate` and `bind`.
        {"apiGroups": [G], "resources": ["roles", "rolebindings"], "verbs": ["create", "update"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    ]
    store.create(G, "roles", role("rbac-manager", manager_rules))
    store.create(
        G,
        "rolebindings",
        binding("jane", "Role", "rbac-manager", [{"kind": "User", "name": "jane"}]),
    )
    authz = Authorizer(store)
    # Granting what jane holds is fine.
    rbac.check_escalation(authz, JANE, "Role", role("pods", [manager_rules[1]]), "team")
    secrets = role("secrets", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])
    with pytest.raises(Exception) as err:
        rbac.check_escalation(authz, JANE, "Role", secrets, "team")
    assert err.value.code == 403
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "secrets" is forbidden: user "jane" '
        '(groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions '
        'not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )
    admin_binding = binding(
        "me-admin", "ClusterRole", "cluster-admin", [{"kind": "User", "name": "jane"}]
    )
    with pytest.raises(Exception) as err:
        rbac.check_escalation(authz, JANE, "RoleBinding", admin_binding, "team")
    assert "attempting to grant RBAC permissions not currently held" in err.value.message
    # With `bind` on that ClusterRole the binding is allowed.
    store.create(
        G,
        "clusterroles",
        role(
            "binder",
            [
                {
                    "apiGroups": [G],
                    "resources": ["clusterroles"],
                    "verbs": ["bind"],
                    "resourceNames": ["cluster-admin"],
                }
            ],
            None,
        ),
    )
    store.create(
        G,
        "rolebindings",
        binding("jane-binder", "ClusterRole", "binder", [{"kind": "User", "name": "jane"}]),
    )
    rbac.check_escalation(authz, JANE, "RoleBinding", admin_binding, "team")
    rbac.check_escalation(authz, ADMIN, "Role", secrets, "team")
