"""Authentication: who is making a request.

The first stage of the request flow. A request carries a bearer token (the cluster's
admin token, a token issued to a lab user, or a service-account token from
`kubectl create token`) or a client certificate (CN = user, O = groups) signed by
the cluster CA; a request with neither is `system:anonymous`, as upstream's
anonymous authentication (enabled by default) makes it. Bad credentials get 401.
Impersonation headers (`kubectl --as`) are honoured when RBAC allows `impersonate`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from app.sim.machinery.errors import ApiError
from app.sim.machinery.tls import key_id, sign_rs256

if TYPE_CHECKING:
    from app.sim.machinery.cluster import ClusterAuth

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
# The issuer and audience kubeadm clusters put in service-account tokens.
TOKEN_ISSUER = "https://kubernetes.default.svc.cluster.local"
# TokenRequest default: one hour (authentication/v1 TokenRequestSpec.expirationSeconds);
# the API server refuses less than ten minutes.
DEFAULT_TOKEN_SECONDS = 3600
MIN_TOKEN_SECONDS = 600


@dataclass(frozen=True)
class UserInfo:
    """The authenticated user of a request."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The `UserInfo` shape of TokenReview and SelfSubjectReview status."""
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


ANONYMOUS_USER = UserInfo(ANONYMOUS, (UNAUTHENTICATED,))
# (namespace, name, uid) -> whether that service account still exists.
AccountCheck = Callable[[str, str, str], bool]


def unauthorized() -> ApiError:
    """The 401 Status of a request whose credentials do not authenticate."""
    # Upstream answers every failed authentication with this bare Status.
    return ApiError(401, "Unauthorized")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return [v for k in {name, name.lower()} for v in getall(k, [])]
    return [v for k, v in headers.items() if k.lower() == name.lower()]


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The user a service account's token authenticates as."""
    return UserInfo(
        f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", AUTHENTICATED),
        uid,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def issue_service_account_token(
    auth: ClusterAuth,
    namespace: str,
    name: str,
    sa_uid: str,
    *,
    now: datetime,
    expiration_seconds: int | None = None,
    audiences: list[str] | None = None,
) -> tuple[str, datetime]:
    """Issue a JWT for a service account (TokenRequest, `kubectl create token`) and
    register it with the cluster's credentials. Returns the token and its expiry.

    The claims are upstream's (iss, sub, aud, exp, iat, nbf, jti and the
    `kubernetes.io` claim), so a learner can decode it; it is signed RS256 with the
    cluster's service-account key (`sa.key`; verify it with `sa.pub`), its `kid` in the
    header. Raises ApiError 422 below ten minutes.
    """
    seconds = DEFAULT_TOKEN_SECONDS if expiration_seconds is None else int(expiration_seconds)
    if seconds < MIN_TOKEN_SECONDS:
        raise ApiError(
            422,
            f'TokenRequest.authentication.k8s.io "{name}" is invalid: spec.expirationSeconds: '
            f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
        )
    issued = now.astimezone(UTC).replace(microsecond=0)
    expires = issued + timedelta(seconds=seconds)
    jti = str(uuid.uuid4())
    claims = {
        "aud": audiences or [TOKEN_ISSUER],
        "exp": int(expires.timestamp()),
        "iat": int(issued.timestamp()),
        "iss": TOKEN_ISSUER,
        "jti": jti,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa_uid}},
        "nbf": int(issued.timestamp()),
        "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
    }
    key = auth.service_account_key()
    # kube-apiserver's JWT header: RS256 and the signing key's id (serviceaccount/jwt.go).
    header = _b64(json.dumps({"alg": "RS256", "kid": key_id(key)}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    token = f"{header}.{body}.{_b64(sign_rs256(key, f'{header}.{body}'.encode()))}"
    from app.sim.machinery.cluster import TokenUser  # the cluster owns the credential table

    user = service_account_user(namespace, name, sa_uid)
    auth.tokens[token] = TokenUser(
        user.name,
        user.groups,
        sa_uid,
        {"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]},
    )
    return token, expires


def _token_user(
    auth: ClusterAuth,
    token: str,
    now: datetime | None,
    account_exists: AccountCheck | None = None,
) -> UserInfo | None:
    known = auth.tokens.get(token)
    if known is None:
        return None
    claims = _jwt_claims(token)
    expiry = claims.get("exp") if claims is not None else None
    if now is not None and isinstance(expiry, int) and now.timestamp() >= expiry:
        return None
    bound = (claims or {}).get("kubernetes.io")
    if account_exists is not None and isinstance(bound, dict):
        account = bound.get("serviceaccount") or {}
        # A deleted (or deleted and re-created) account's tokens stop working.
        if not account_exists(
            str(bound.get("namespace", "")),
            str(account.get("name", "")),
            str(account.get("uid", "")),
        ):
            return None
    groups = tuple(known.groups)
    if known.name != ANONYMOUS and AUTHENTICATED not in groups:
        groups = (*groups, AUTHENTICATED)
    return UserInfo(known.name, groups, known.uid, dict(known.extra))


def _verify_issuer(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    key = ca.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            assert cert.signature_hash_algorithm is not None
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                ec.ECDSA(cert.signature_hash_algorithm),
            )
        elif isinstance(key, rsa.RSAPublicKey):
            assert cert.signature_hash_algorithm is not None
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                cert.signature_hash_algorithm,
            )
        else:
            return False
    except Exception:
        return False
    return True


def _cert_user(
    auth: ClusterAuth, peer_cert: x509.Certificate | bytes, now: datetime | None
) -> UserInfo | None:
    try:
        cert = (
            peer_cert
            if isinstance(peer_cert, x509.Certificate)
            else x509.load_der_x509_certificate(peer_cert)
        )
    except ValueError:
        return None
    if auth.ca is None or not _verify_issuer(cert, auth.ca.certificate):
        return None
    # Every cluster of a server shares the server CA: only certificates issued for this
    # cluster authenticate here.
    if cert.serial_number not in auth.client_cert_serials:
        return None
    moment = now or datetime.now(UTC)
    if not (cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc):
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    groups = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return UserInfo(str(names[0].value), (*dict.fromkeys(groups), AUTHENTICATED))


def authenticate(
    headers: Mapping[str, str],
    peer_cert: x509.Certificate | bytes | None,
    cluster_auth: ClusterAuth,
    *,
    now: datetime | None = None,
    allow_anonymous: bool = True,
    service_account_exists: AccountCheck | None = None,
) -> UserInfo:
    """Identify the caller from the Authorization header or the TLS client certificate.

    A bearer token must be one the cluster issued (service-account JWTs also must
    not be expired, and with `service_account_exists(namespace, name, uid)` their
    account must still exist); a client certificate must be signed by the cluster CA
    and valid now. Without credentials the caller is `system:anonymous` (group
    `system:unauthenticated`). Raises ApiError 401 for credentials that do not
    authenticate, or for no credentials when `allow_anonymous` is false.
    """
    authorization = _header(headers, "Authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        user = _token_user(cluster_auth, token.strip(), now, service_account_exists)
        if user is None:
            raise unauthorized()
        return user
    if peer_cert:
        user = _cert_user(cluster_auth, peer_cert, now)
        if user is None:
            raise unauthorized()
        return user
    if not allow_anonymous:
        raise unauthorized()
    return ANONYMOUS_USER


class _Authorizer(Protocol):
    def authorize(self, user: UserInfo, attrs: Any) -> Any: ...


def impersonate(user: UserInfo, headers: Mapping[str, str], authorizer: _Authorizer) -> UserInfo:
    """Apply `Impersonate-User` / `Impersonate-Group` / `Impersonate-Uid` headers
    (`kubectl --as`, `--as-group`). Raises ApiError 403 unless RBAC lets `user`
    impersonate each requested user, service account and group, and 400 for groups
    without a user."""
    from app.sim.apiserver.rbac import RequestAttributes, forbidden_error

    target = _header(headers, "Impersonate-User")
    groups = _header_values(headers, "Impersonate-Group")
    uid = _header(headers, "Impersonate-Uid") or ""
    if not target:
        if groups or uid:
            raise ApiError(400, "requested impersonation of groups without impersonating a user")
        return user
    checks: list[RequestAttributes] = []
    if target.startswith(SERVICE_ACCOUNT_PREFIX) and target.count(":") == 3:
        _, _, ns, name = target.split(":")
        checks.append(
            RequestAttributes("impersonate", "", "serviceaccounts", namespace=ns, name=name)
        )
        impersonated = service_account_user(ns, name, uid)
        base_groups = list(impersonated.groups)
    else:
        checks.append(RequestAttributes("impersonate", "", "users", name=target))
        base_groups = []
    checks += [RequestAttributes("impersonate", "", "groups", name=g) for g in groups]
    if uid:
        checks.append(RequestAttributes("impersonate", "authentication.k8s.io", "uids", name=uid))
    for attrs in checks:
        if not authorizer.authorize(user, attrs).allowed:
            raise forbidden_error(user, attrs)
    all_groups = list(dict.fromkeys([*base_groups, *groups]))
    if target != ANONYMOUS and AUTHENTICATED not in all_groups:
        all_groups.append(AUTHENTICATED)
    return UserInfo(target, tuple(all_groups), uid)


def token_review(
    cluster_auth: ClusterAuth, review: dict[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Answer a TokenReview (authentication.k8s.io/v1): the review with `status`
    filled in. Never raises for a bad token: it reports `authenticated: false`."""
    token = str(((review.get("spec") or {}).get("token")) or "")
    out = {**review, "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
    user = _token_user(cluster_auth, token, now) if token else None
    if user is None:
        out["status"] = {"authenticated": False, "error": "invalid bearer token", "user": {}}
    else:
        audiences = (review.get("spec") or {}).get("audiences") or [TOKEN_ISSUER]
        out["status"] = {"authenticated": True, "user": user.as_dict(), "audiences": audiences}
    return out


def self_subject_review(user: UserInfo, now: str = "") -> dict[str, Any]:
    """Answer a SelfSubjectReview (`kubectl auth whoami`): who the caller is."""
    metadata: dict[str, Any] = {"creationTimestamp": now or None}
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": metadata,
        "status": {"userInfo": user.as_dict()},
    }
