"""The request being served: one ``RequestContext`` per HTTP request, reachable from anywhere it runs.

The outermost middleware (``provisioning.request_log.RequestLog``) creates it and sets ``current_request``; the
layers below fill it in as they learn things — authentication the directory, token and mode, the SCIM endpoints the
resource, the error handler the exception that ended the request — and the provisioning log, the server log's
request ids and the events' audit fields read it. Starlette copies the context into the thread pool, so an
operation running there sees the same object.
"""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestContext:
    id: str
    """The request id: ``X-Request-Id``, the provisioning log's id, on every log line and event of the request."""
    directory_id: str | None = None
    token_id: str | None = None
    """The credential that authenticated the request (None until authentication accepted one)."""
    strict: bool = False
    """The directory is in strict RFC mode: IdP deviations that tolerant mode accepts are refused."""
    resource_type: str | None = None
    """What the SCIM endpoint serves: "User", "Group", "Bulk" or "Search" (None for discovery and unknown paths)."""
    resource_id: str | None = None
    error: BaseException | None = None
    """The exception that ended the request, as the error handler turned it into the response."""
    unexpected: BaseException | None = None
    """An exception no handler expected (a bug), once it is logged: each layer it crosses logs it only once."""


current_request: ContextVar[RequestContext | None] = ContextVar("scimgate_request", default=None)
