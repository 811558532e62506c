"""Errors of the simulated Kubernetes API, rendered as `Status` objects like upstream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# HTTP status -> Status.reason, as the upstream API server names them.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class FieldCause:
    """One invalid field: `reason` is FieldValueInvalid, FieldValueRequired, ..."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    """An error the API answers with a `Status` object.

    `reason` defaults from `code`; 409 on an existing object uses reason
    `AlreadyExists`, a stale resourceVersion keeps `Conflict`.
    """

    code: int
    message: str
    reason: str | None = None
    details: dict[str, Any] | None = None
    causes: list[FieldCause] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)
        if self.reason is None:
            self.reason = REASONS.get(self.code, "Unknown")

    def status(self) -> dict[str, Any]:
        # metav1.Status field order (kind, apiVersion, metadata, status, message,
        # reason, details, code); empty omitempty fields (a core group) left out.
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
        }
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        details = {k: v for k, v in (self.details or {}).items() if v not in ("", None)}
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if details or self.details is not None:
            body["details"] = details  # `{}` when given empty, as for an unknown path
        body["code"] = self.code
        return body


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        404,
        f'{qualified} "{name}" not found',
        details={"name": name, "group": group, "kind": resource},
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        f'{qualified} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "group": group, "kind": resource},
    )


def conflict(resource: str, name: str, group: str = "") -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details={"name": name, "group": group, "kind": resource},
    )


def invalid(kind: str, name: str, causes: list[FieldCause], group: str = "") -> ApiError:
    qualified = f"{kind}.{group}" if group else kind
    summary = ", ".join(f"{c.field}: {c.message}" for c in causes)
    if len(causes) > 1:
        summary = f"[{summary}]"
    return ApiError(
        422,
        f'{qualified} "{name}" is invalid: {summary}',
        details={"name": name, "group": group, "kind": kind},
        causes=causes,
    )


def forbidden(
    user: str,
    verb: str,
    resource: str,
    group: str,
    namespace: str | None,
    name: str | None = None,
    reason: str = "",
) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    named = f' "{name}"' if name else ""
    msg = (
        f'{qualified}{named} is forbidden: User "{user}" cannot {verb} resource '
        f'"{resource}" in API group "{group}"{where}'
    )
    if reason:
        msg += f": {reason}"
    return ApiError(403, msg, details={"name": name or "", "group": group, "kind": resource})


class LogError(Exception):
    """A container log request that cannot be answered (upstream's 400 message in
    `str()`). The node agents raise it; the request pipeline answers 400 with it, so
    neither needs to import the other."""
