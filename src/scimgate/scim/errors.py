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
    ├── UnsupportedMediaType        415
    ├── TooManyRequests             429                 over a rate limit, with ``Retry-After``
    ├── InternalError               500                 a bug; the transaction was rolled back
    └── ServiceUnavailable          503                 with ``Retry-After``

Microsoft Entra shows ``detail`` to the IT admin in its provisioning logs, so each one says what was wrong and, where
it can, what to change. A ``detail`` never echoes a secret and never carries more than a short excerpt of input.
"""

import json
from typing import ClassVar

from starlette.responses import Response

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_MEDIA_TYPE = "application/scim+json"


class ScimError(Exception):
    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class TooMany(ScimError):
    scim_type = "tooMany"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    scim_type = "mutability"


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


class Unauthorized(ScimError):
    status = 401

    def __init__(self, detail: str) -> None:
        # RFC 7644 §2 and RFC 6750 §3: the challenge names the scheme we accept.
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="scimgate"'})


class NotFound(ScimError):
    status = 404


class MethodNotAllowed(ScimError):
    status = 405


class PreconditionFailed(ScimError):
    status = 412


class NotModified(ScimError):
    """Not an error: GET with a matching If-None-Match. Rendered as an empty 304."""

    status = 304


class RequestTimeout(ScimError):
    status = 408


class PayloadTooLarge(ScimError):
    status = 413


class UnsupportedMediaType(ScimError):
    status = 415


class InternalError(ScimError):
    status = 500


class TooManyRequests(ScimError):
    status = 429

    def __init__(self, detail: str, retry_after: str) -> None:
        super().__init__(detail, headers={"Retry-After": retry_after})


class ServiceUnavailable(ScimError):
    status = 503

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
