"""Authentication: bearer tokens, service-account JWTs, client certificates, anonymous
requests, impersonation and the authentication reviews."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from app.sim.apiserver import authn, rbac
from app.sim.machinery.cluster import ClusterAuth
from app.sim.machinery.errors import ApiError
from app.sim.machinery.store import ObjectStore
from app.sim.machinery.tls import generate_ca, issue_client_cert

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca():
    return generate_ca("test-ca")


@pytest.fixture
def auth(ca) -> ClusterAuth:
    return ClusterAuth("admin-token", ca=ca)


@pytest.fixture
def authorizer() -> rbac.Authorizer:
    store = ObjectStore()
    for role in rbac.bootstrap_cluster_roles():
        store.create("rbac.authorization.k8s.io", "clusterroles", role)
    for binding in rbac.bootstrap_cluster_role_bindings():
        store.create("rbac.authorization.k8s.io", "clusterrolebindings", binding)
    return rbac.Authorizer(store)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_token_is_kubernetes_admin_in_system_masters(auth):
    user = authn.authenticate(bearer("admin-token"), None, auth)
    assert user.name == "kubernetes-admin"
    assert "system:masters" in user.groups
    assert "system:authenticated" in user.groups


def test_issued_user_token(auth):
    token = auth.add_token("jane", ("devs",))
    user = authn.authenticate({"authorization": f"bearer {token}"}, None, auth)
    assert user.name == "jane"
    assert user.groups == ("devs", "system:authenticated")


@pytest.mark.parametrize(
    "headers",
    [bearer("nope"), {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer "}],
)
def test_bad_credentials_are_401(auth, headers):
    with pytest.raises(ApiError) as err:
        authn.authenticate(headers, None, auth)
    assert err.value.code == 401
    assert err.value.status()["message"] == "Unauthorized"


def test_no_credentials_is_anonymous_unless_disabled(auth):
    user = authn.authenticate({}, None, auth)
    assert user.name == "system:anonymous"
    assert user.groups == ("system:unauthenticated",)
    with pytest.raises(ApiError) as err:
        authn.authenticate({}, None, auth, allow_anonymous=False)
    assert err.value.code == 401


def test_service_account_token_is_a_jwt_that_expires(auth):
    token, expiry = authn.issue_service_account_token(
        auth, "team", "robot", "uid-1", now=NOW, expiration_seconds=3600
    )
    assert expiry == NOW + timedelta(hours=1)
    _, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "system:serviceaccount:team:robot"
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "robot", "uid": "uid-1"}
    assert claims["exp"] - claims["iat"] == 3600

    user = authn.authenticate(bearer(token), None, auth, now=NOW + timedelta(minutes=5))
    assert user.name == "system:serviceaccount:team:robot"
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:team",
        "system:authenticated",
    )
    with pytest.raises(ApiError) as err:
        authn.authenticate(bearer(token), None, auth, now=NOW + timedelta(hours=2))
    assert err.value.code == 401


def test_token_request_below_ten_minutes_is_invalid(auth):
    with pytest.raises(ApiError) as err:
        authn.issue_service_account_token(
            auth, "team", "robot", "u", now=NOW, expiration_seconds=60
        )
    assert err.value.code == 422


def test_client_certificate(auth, ca):
    pair = auth.issue_client_cert("alice", ("ops", "auditors"))
    user = authn.authenticate({}, pair.certificate, auth)
    assert user.name == "alice"
    assert user.groups == ("ops", "auditors", "system:authenticated")
    der = pair.certificate.public_bytes(serialization.Encoding.DER)
    assert authn.authenticate({}, der, auth).name == "alice"


def test_client_certificate_from_another_ca_or_cluster_is_401(auth, ca):
    foreign = issue_client_cert(generate_ca("other"), "mallory")
    with pytest.raises(ApiError) as err:
        authn.authenticate({}, foreign.certificate, auth)
    assert err.value.code == 401
    # Same CA, but not issued for this cluster.
    auth.issue_client_cert("alice")
    stray = issue_client_cert(ca, "eve")
    with pytest.raises(ApiError):
        authn.authenticate({}, stray.certificate, auth)


def test_impersonation_needs_rbac(auth, authorizer):
    admin = authn.authenticate(bearer("admin-token"), None, auth)
    as_jane = authn.impersonate(
        admin, {"Impersonate-User": "jane", "Impersonate-Group": "devs"}, authorizer
    )
    assert as_jane.name == "jane"
    assert as_jane.groups == ("devs", "system:authenticated")
    as_robot = authn.impersonate(
        admin, {"Impersonate-User": "system:serviceaccount:team:robot"}, authorizer
    )
    assert "system:serviceaccounts:team" in as_robot.groups

    jane = authn.UserInfo("jane", ("system:authenticated",))
    with pytest.raises(ApiError) as err:
        authn.impersonate(jane, {"Impersonate-User": "kubernetes-admin"}, authorizer)
    assert err.value.code == 403
    assert 'cannot impersonate resource "users"' in err.value.message
    with pytest.raises(ApiError) as err:
        authn.impersonate(admin, {"Impersonate-Group": "devs"}, authorizer)
    assert err.value.code == 400
    assert authn.impersonate(jane, {}, authorizer) is jane


def test_token_review_and_self_subject_review(auth):
    token = auth.add_token("jane")
    ok = authn.token_review(auth, {"spec": {"token": token}})
    assert ok["status"]["authenticated"] is True
    assert ok["status"]["user"]["username"] == "jane"
    bad = authn.token_review(auth, {"spec": {"token": "forged"}})
    assert bad["status"]["authenticated"] is False
    review = authn.self_subject_review(authn.UserInfo("jane", ("a",)), "2026-01-01T00:00:00Z")
    assert review["kind"] == "SelfSubjectReview"
    assert review["status"]["userInfo"] == {"username": "jane", "groups": ["a"]}


def test_tokens_of_a_deleted_service_account_stop_working(auth):
    token, _ = authn.issue_service_account_token(auth, "team", "robot", "uid-1", now=NOW)
    existing = {("team", "robot", "uid-1")}

    def exists(namespace: str, name: str, uid: str) -> bool:
        return (namespace, name, uid) in existing

    user = authn.authenticate(bearer(token), None, auth, now=NOW, service_account_exists=exists)
    assert user.name == "system:serviceaccount:team:robot"
    existing.clear()
    existing.add(("team", "robot", "uid-2"))  # deleted and re-created: a new uid
    with pytest.raises(ApiError) as err:
        authn.authenticate(bearer(token), None, auth, now=NOW, service_account_exists=exists)
    assert err.value.code == 401
    # Plain user tokens are not service-account tokens and are unaffected.
    plain = auth.add_token("jane")
    assert authn.authenticate(bearer(plain), None, auth, service_account_exists=exists).name == (
        "jane"
    )
