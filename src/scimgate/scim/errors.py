"""SCIM errors: one exception per HTTP status / ``scimType`` pair, rendered in one place.

Every failure the SCIM face produces is one of these, and ``error_response`` is the only code that turns one into
HTTP (RFC 7644 §3.12). The hierarchy::

    ScimError                       status, scim_type, detail
    ├── InvalidFilter               400 invalidFilter   a filter that does not parse or names an unknown attribute
    ├── TooMany                     400 tooMany         a query the server will not run
    ├── Uniqueness                  409 uniqueness      userName / displayName already taken in this directory
    ├── Mutability                  400 mutability      a write to a read-only or immutable attribute
    ├── InvalidSyntax               400 invalidSyntax   a body that is not JSON or not a SCIM request
    ├── InvalidPath                 400 invalidPath
    ├── NoTarget                    400 noTarget
    ├── InvalidValue                400 invalidValue    a wrong type, a missing required attribute, a bad reference
    ├── InvalidCursor               400 invalidCursor   a paging cursor that is forged, foreign or for another query
    ├── ExpiredCursor               400 expiredCursor   RFC 9865
    ├── InvalidCount                400 invalidCount    RFC 9865: a cursor page needs a count of at least 1
    ├── InvalidVersion              400 invalidVers
    ├── Sensitive                   403 sensitive
    ├── Unauthorized                401                 with ``WWW-Authenticate: Bearer``
    ├── NotFound                    404
    ├── MethodNotAllowed            405
    ├── PreconditionFailed          412                 If-Match names another version (RFC 7644 §3.14)
    ├── NotModified                 304                 (not an error) If-None-Match names the current version
    ├── RequestTimeout              408                 a body that did not arrive within body_read_timeout_seconds
    ├── PayloadTooLarge             413
    ├── UriTooLong                  414                 a query string over 2 KB
    ├── UnsupportedMediaType        415
    ├── TooManyRequests             429                 over a rate limit, with ``Retry-After``
    ├── InternalError               500                 a bug; the transaction was rolled back
    └── ServiceUnavailable          503                 with ``Retry-After``

Microsoft Entra shows ``detail`` to the IT admin in its provisioning logs, so each one says what was wrong and, where
it can, what to change. A ``detail`` never echoes a secret and never carries more than a short excerpt of input.

Each error also carries a ``reason``: the provisioning log's name for why the request failed, which picks the advice
the admin page shows (``scimgate.provisioning.explain``). A class has a default reason; a raise that knows more says
so (``Uniqueness(..., reason=Reason.DISPLAY_NAME_TAKEN)``). Nothing ever reads a reason out of ``detail``: rewording a
message cannot change what the log reports.
"""

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from starlette.responses import Response

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_MEDIA_TYPE = "application/scim+json"


class Reason(StrEnum):
    """Why a SCIM request failed, as the provisioning log names it (stable: stored, filtered on, documented)."""

    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED_FILTER = "unsupported_filter"
    READ_ONLY_ATTRIBUTE = "read_only_attribute"
    UNKNOWN_MEMBER = "unknown_member"
    STRICT_MODE = "strict_mode_rejected_patch"
    USER_NAME_TAKEN = "user_name_taken"
    DISPLAY_NAME_TAKEN = "display_name_taken"
    RESOURCE_NOT_FOUND = "resource_not_found"
    WRONG_URL = "wrong_url"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    VERSION_CONFLICT = "version_conflict"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    DATABASE_UNAVAILABLE = "database_unavailable"
    FAILED = "failed"
    DOMAIN_NOT_VERIFIED = "domain_not_verified"
    # Why a credential was refused (401): told apart in the log only, never in the response.
    MISSING_TOKEN = "missing_token"
    MALFORMED_TOKEN = "malformed_token"
    TOKEN_OF_ANOTHER_DIRECTORY = "token_of_another_directory"
    UNKNOWN_TOKEN = "unknown_token"
    REVOKED_TOKEN = "revoked_token"
    EXPIRED_TOKEN = "expired_token"
    DIRECTORY_DISABLED = "directory_disabled"
    UNKNOWN_DIRECTORY = "unknown_directory"


class ScimError(Exception):
    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None
    reason: Reason = Reason.INVALID_REQUEST

    def __init__(self, detail: str, headers: dict[str, str] | None = None, *, reason: Reason | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        if reason is not None:
            self.reason = reason


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"
    reason = Reason.UNSUPPORTED_FILTER


class TooMany(ScimError):
    scim_type = "tooMany"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"
    reason = Reason.USER_NAME_TAKEN


class Mutability(ScimError):
    scim_type = "mutability"
    reason = Reason.READ_ONLY_ATTRIBUTE


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidCursor(ScimError):
    scim_type = "invalidCursor"


class ExpiredCursor(ScimError):
    scim_type = "expiredCursor"


class InvalidCount(ScimError):
    scim_type = "invalidCount"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class Sensitive(ScimError):
    status = 403
    scim_type = "sensitive"
    reason = Reason.FAILED


@dataclass(frozen=True)
class AuthFailure:
    """Why authentication refused a credential, for the provisioning log only: the IdP always gets the same 401, so
    a response never tells which directories or tokens exist. ``detail`` fills in the advice (a token id…)."""

    reason: Reason
    detail: dict[str, Any] = field(default_factory=dict)


class Unauthorized(ScimError):
    status = 401
    reason = Reason.FAILED

    def __init__(self, detail: str, failure: AuthFailure | None = None) -> None:
        # RFC 7644 §2 and RFC 6750 §3: the challenge names the scheme we accept.
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="scimgate"'})
        self.failure = failure
        if failure is not None:
            self.reason = failure.reason


class NotFound(ScimError):
    """No such endpoint (``wrong_url``); a missing resource says ``reason=Reason.RESOURCE_NOT_FOUND``."""

    status = 404
    reason = Reason.WRONG_URL


class MethodNotAllowed(ScimError):
    status = 405
    reason = Reason.METHOD_NOT_ALLOWED


class PreconditionFailed(ScimError):
    status = 412
    reason = Reason.VERSION_CONFLICT


class NotModified(ScimError):
    """Not an error: GET with a matching If-None-Match. Rendered as an empty 304."""

    status = 304


class RequestTimeout(ScimError):
    status = 408
    reason = Reason.FAILED


class PayloadTooLarge(ScimError):
    status = 413
    reason = Reason.TOO_LARGE


class UriTooLong(ScimError):
    """A query string over the server's limit (scimgate.gate), refused before anything reads it."""

    status = 414
    reason = Reason.TOO_LARGE


class UnsupportedMediaType(ScimError):
    status = 415
    reason = Reason.UNSUPPORTED_MEDIA_TYPE


class InternalError(ScimError):
    status = 500
    reason = Reason.INTERNAL_ERROR


class TooManyRequests(ScimError):
    status = 429
    reason = Reason.RATE_LIMITED

    def __init__(self, detail: str, retry_after: str) -> None:
        super().__init__(detail, headers={"Retry-After": retry_after})


class ServiceUnavailable(ScimError):
    status = 503
    reason = Reason.DATABASE_UNAVAILABLE

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def excerpt(value: object, limit: int = 64) -> str:
    """Quote a piece of client input for a ``detail``, cut short so an error never echoes a large payload."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text[:limit] + ("…" if len(text) > limit else ""), ensure_ascii=False)


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"schemas": [ERROR_SCHEMA], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return body


def error_response(error: ScimError, status: int | None = None) -> Response:
    code = status or error.status
    if code == 304:
        return Response(status_code=304, headers=error.headers)
    body = error_body(code, error.detail, error.scim_type)
    return Response(json.dumps(body), status_code=code, headers=error.headers, media_type=SCIM_MEDIA_TYPE)
