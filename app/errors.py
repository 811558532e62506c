"""One JSON error shape for every failure: `{code, status, message, errors}`.

This is the single place where service exceptions (`app.services.errors`) become HTTP
status codes. HTTP errors raised by Flask, werkzeug or flask-smorest's `abort` (unknown
route, wrong method, malformed JSON, validation) get the same shape, and an unexpected
exception becomes a logged JSON 500 that leaks no detail.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from app.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

# Service exception -> HTTP status. Subclasses map through their nearest listed parent.
STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    ValidationFailed: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyRequests: 429,
    Unavailable: 503,
    ServiceError: 400,
}

BEARER_REALM = "certprep"

# Messages for request-parsing failures reported by webargs (details go in `errors`).
_VALIDATION_MESSAGES = {
    400: "The request is malformed; see errors.",
    422: "The request contains invalid data; see errors.",
}


def status_for(error: ServiceError) -> int:
    """The HTTP status for a service exception (walks the class hierarchy)."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def error_response(
    code: int,
    message: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the JSON error response with `code`; `message` defaults to the status phrase."""
    status = HTTP_STATUS_CODES.get(code, "Error")
    response = jsonify(
        {"code": code, "status": status, "message": message or status, "errors": errors or {}}
    )
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def www_authenticate(error: Unauthorized | None = None) -> str:
    """The `WWW-Authenticate` challenge for a 401 (RFC 6750 section 3)."""
    if error is not None and error.invalid_token:
        detail = error.message.replace('"', "'")
        return f'Bearer realm="{BEARER_REALM}", error="invalid_token", error_description="{detail}"'
    return f'Bearer realm="{BEARER_REALM}"'


def handle_service_error(error: ServiceError) -> Response:
    code = status_for(error)
    headers: dict[str, str] = {}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = www_authenticate(error)
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return error_response(code, error.message, error.errors, headers)


def handle_http_exception(error: HTTPException) -> Response:
    code = error.code or 500
    if isinstance(error, InternalServerError) or code >= 500:
        # Flask has already logged the traceback of an unhandled exception; the
        # client gets no internals.
        return error_response(code, "An unexpected error occurred.")
    # Keep the exception's own headers (e.g. `Allow` on 405) but not its content type.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    message = error.description
    errors: dict[str, Any] = {}
    # flask-smorest's (webargs') `abort` stores extra information in `data`.
    data = getattr(error, "data", None) or {}
    if "message" in data:
        message = data["message"]
    if "errors" in data:
        errors = data["errors"]
    elif "messages" in data:
        errors = data["messages"]
        message = _VALIDATION_MESSAGES.get(code, message)
    headers.update(data.get("headers") or {})
    if code == 401:
        headers.setdefault("WWW-Authenticate", www_authenticate())
    return error_response(code, message, errors, headers)


def reject_oversized_body() -> None:
    """Answer 413 for a declared body over `MAX_CONTENT_LENGTH` before anything else
    (authentication, parsing) runs. A body without Content-Length is cut off by
    werkzeug with the same 413 once it reads past the limit."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"The request body is larger than {limit} bytes.")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on `app` (after flask-smorest, so ours win), and the early
    request-size check."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ServiceError, handle_service_error)
    app.before_request(reject_oversized_body)
