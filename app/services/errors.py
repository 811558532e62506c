"""Named failures raised by services. They know nothing of HTTP: `app.errors` maps each
class to a status code, once, and renders the one JSON error shape.

Raise the most specific class; subclass one of these for a new domain failure (for
example `class DeadlinePassed(Conflict)`) and it maps to the parent's status.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every service failure.

    `message` is for people; `errors` is a machine-readable mapping (field -> messages),
    rendered as the `errors` member of the JSON error body.
    """

    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, errors: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.errors = errors or {}
        super().__init__(self.message)


class ValidationFailed(ServiceError):
    """Input is well-formed but breaks a domain rule (HTTP 422)."""

    default_message = "The input is not valid."


class Unauthorized(ServiceError):
    """No credentials, or credentials that do not identify an active account (HTTP 401)."""

    default_message = "Authentication required."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        invalid_token: bool = False,
    ):
        super().__init__(message, errors=errors)
        # A presented-but-unusable token gets `error="invalid_token"` (RFC 6750 section 3.1).
        self.invalid_token = invalid_token


class Forbidden(ServiceError):
    """The caller is known but may not do this (HTTP 403)."""

    default_message = "You do not have permission to do this."


class NotFound(ServiceError):
    """The named object does not exist or is invisible to the caller (HTTP 404)."""

    default_message = "Not found."


class Conflict(ServiceError):
    """The request clashes with the current state, e.g. a duplicate (HTTP 409)."""

    default_message = "The request conflicts with the current state."


class TooManyRequests(ServiceError):
    """The caller must wait `retry_after` seconds (HTTP 429 with `Retry-After`)."""

    default_message = "Too many requests; try again later."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int,
        errors: dict[str, Any] | None = None,
    ):
        super().__init__(message, errors=errors)
        self.retry_after = max(1, int(retry_after))


class Unavailable(ServiceError):
    """A dependency (database, broker, simulator) cannot serve the request (HTTP 503)."""

    default_message = "A required service is unavailable."
