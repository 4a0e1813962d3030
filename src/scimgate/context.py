"""The request being served: one ``RequestContext`` per HTTP request, reachable from anywhere it runs.

The outermost middleware (``provisioning.request_log.RequestLog``) creates it and sets ``current_request``; the
layers below fill it in as they learn things — authentication the directory, token and mode, the SCIM endpoints the
resource, the error handler the exception that ended the request — and the provisioning log, the server log's
request ids and the events' audit fields read it. Starlette copies the context into the thread pool, so an
operation running there sees the same object.
"""

import logging
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestContext:
    id: str
    """The request id: ``X-Request-Id``, the provisioning log's id, on every log line and event of the request."""
    directory_id: str | None = None
    token_id: str | None = None
    """The credential that authenticated the request (None until authentication accepted one)."""
    presented_prefix: str | None = None
    """On a refused credential: the first characters of what was presented (never the secret), for the log."""
    strict: bool = False
    """The directory is in strict RFC mode: IdP deviations that tolerant mode accepts are refused."""
    resource_type: str | None = None
    """What the SCIM endpoint serves: "User", "Group", "Bulk" or "Search" (None for discovery and unknown paths)."""
    resource_id: str | None = None
    error: BaseException | None = None
    """The exception that ended the request, as the error handler turned it into the response."""
    ignored: list[str] = field(default_factory=list)
    """What tolerant mode accepted the request without (unknown attributes, PATCH paths naming nothing): names only,
    for the provisioning log's warning."""
    unverified_domains: list[str] = field(default_factory=list)
    """Domains of a user this request wrote that are outside the directory's verified email domains (policy
    ``flag``), for the provisioning log's warning."""
    body_read: bool = False
    """The SCIM handler read the request body as JSON, every object's keys unique (``scim.http.read_json``): the
    provisioning log can parse it again without checking."""
    unexpected: BaseException | None = None
    """An exception no handler expected (a bug), once it is logged: each layer it crosses logs it only once."""


current_request: ContextVar[RequestContext | None] = ContextVar("scimgate_request", default=None)


def note_ignored(names: Iterable[str]) -> None:
    """Record on the current request what tolerant mode accepted it without (the provisioning log shows it)."""
    found = list(names)
    if found:
        # Names only, never values: they are the IdP's data.
        logging.getLogger("scimgate.scim").info("accepted without unknown attributes: %s", ", ".join(found))
    context = current_request.get()
    if context is not None:
        context.ignored.extend(name for name in found if name not in context.ignored)
