"""What an IdP needs of each answer, as checks that fail with the IdP's reaction and the fix."""

from typing import Any

from scimgate.check.causes import refused_form
from scimgate.check.runner import ERROR, LIST, SCIM_JSON, Exchange, Failed

ESCROW = (
    "Entra logs the operation as failed and retries it on later cycles (6 h, 12 h, 24 h…); when more than 40 % of "
    "operations fail, the job is quarantined (EncounteredEscrowProportionThreshold)."
)
COMPLIANCE = (
    "Entra reports a SCIM compliance issue: Test Connection fails, and during a run the job is quarantined "
    "(EncounteredQuarantineException)."
)
INCOMPATIBLE = (
    "Entra cannot read the resource (SystemForCrossDomainIdentityManagementServiceIncompatible) and the operation "
    "fails on every cycle."
)


def status(
    exchange: Exchange, *wanted: int, consequence: str = ESCROW, fix: str = "", quarantine: bool = False
) -> None:
    if exchange.status in wanted:
        return
    detail = exchange.body.get("detail") if isinstance(exchange.body, dict) else None
    said = f" ({detail})" if detail else ""
    cause = _cause(exchange)
    # A refusal of the filter or of the PATCH's form keeps the step's consequence (the step knows what the IdP was
    # doing) but its fix says what the server refused. A PATCH step's own advice (the forms it sent) follows; a
    # list step's is about empty results, which a refused filter is not.
    form = refused_form(exchange)
    if form is not None:
        fix = f"{form} {fix}" if fix and exchange.method == "PATCH" else form
    raise Failed(
        f"{exchange.method} {exchange.path} answered {exchange.status}{said}; the IdP needs "
        f"{' or '.join(map(str, wanted))}.",
        cause[0] if cause else consequence,
        cause[1] if cause else fix or "Answer as RFC 7644 and Microsoft's SCIM guidance say for this request.",
        quarantine and cause is None,
        exchange,
    )


def _cause(exchange: Exchange) -> tuple[str, str] | None:
    """The IdP's reaction and the fix when the answer's status says what went wrong, whatever the step checked:
    a refused token is no filter problem, and a missing directory id is no PATCH problem."""
    detail = exchange.body.get("detail", "") if isinstance(exchange.body, dict) else ""
    if exchange.status in (401, 403):
        return (
            "The IdP's Test Connection fails with an authorization error, and no provisioning runs.",
            "The token is wrong or revoked, or belongs to another directory: paste a current token of this "
            "directory as the IdP's secret token (Bearer), exactly as it was shown.",
        )
    if exchange.status == 404 and ("directory id" in str(detail) or _collection(exchange.path)):
        return (
            "The IdP finds no SCIM endpoint at this URL: Test Connection fails.",
            "The URL lacks the directory id or is not the SCIM base URL: it looks like "
            "https://<host>/scim/v2/dir_… (scimgate directory list shows it).",
        )
    if exchange.status == 415:
        return (
            "The IdP's requests are refused whatever they carry.",
            "Accept Content-Type application/scim+json and application/json on every request.",
        )
    if exchange.status in (429, 503):
        return (
            "The IdP backs off and retries later; sustained refusals stall provisioning (Entra may quarantine).",
            "Give the directory room: raise the rate limit, or check the database's health (/readyz).",
        )
    return None


def _collection(path: str) -> bool:
    """A list or discovery endpoint without a filter, which exists on every SCIM server: a 404 there means the URL
    is wrong (a 404 for a filter is the other classic bug: no match answered as "not found")."""
    endpoint, _, query = path.partition("?")
    listed = endpoint.rstrip("/") in ("/Users", "/Groups", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes")
    return listed and "filter" not in query


def scim_json(exchange: Exchange) -> None:
    if exchange.body is None or exchange.content_type.split(";")[0].strip().lower() == SCIM_JSON:
        return
    raise Failed(
        f"{exchange.method} {exchange.path} answered with Content-Type {exchange.content_type or '(none)'}.",
        "Microsoft's SCIM guidance and gallery validation require application/scim+json responses; Okta's OIN "
        "tests check it too.",
        "Send Content-Type: application/scim+json on every SCIM response, errors included.",
        exchange=exchange,
    )


RFC_ERROR = (
    "Clients that follow RFC 7644 §3.12 read status as a string and tell a conflict from other failures by scimType; "
    "Okta's own reference samples send a number and no scimType, so Okta may accept this, but its OIN review and "
    "other IdPs hold the server to the RFC."
)


def scim_error(
    exchange: Exchange, code: int, scim_type: str | None = None, detail: bool = False, consequence: str = ESCROW
) -> None:
    """A ``code`` answer whose body is a SCIM Error document (RFC 7644 §3.12): the Error URN in ``schemas``, the
    HTTP status repeated as a string in ``status``, ``scimType`` when given (409: ``uniqueness``, §3.3) and, when
    ``detail``, a detail text. IdPs read the body, not only the status: Okta stops a job on a 409 only with an
    Error body, and its OIN tests check the 401's and the 404's. A body that is no Error document at all gets the
    step's consequence; one that is, but says its status as a number or lacks the scimType, gets RFC_ERROR."""
    status(exchange, code, consequence=consequence)
    scim_json(exchange)
    body = exchange.body if isinstance(exchange.body, dict) else {}
    schemas = body.get("schemas")
    missing = [] if isinstance(schemas, list) and ERROR in schemas else [f"schemas does not list {ERROR}"]
    if detail and not (isinstance(body.get("detail"), str) and body["detail"]):
        missing.append("it has no detail")
    unlike_rfc = []
    if body.get("status") != str(code):
        unlike_rfc.append(f'status is {body.get("status")!r}, not "{code}" (a string)')
    if scim_type is not None and body.get("scimType") != scim_type:
        unlike_rfc.append(f'scimType is {body.get("scimType")!r}, not "{scim_type}"')
    if not missing and not unlike_rfc:
        return
    wanted = f'"status": "{code}", ' + (f'"scimType": "{scim_type}", ' if scim_type else "")
    raise Failed(
        f"{exchange.method} {exchange.path} answered {code} without a SCIM Error body: "
        f"{'; '.join(missing + unlike_rfc)}.",
        consequence if missing else RFC_ERROR,
        f'Answer {code} with a SCIM Error document (RFC 7644 §3.12): {{"schemas": ["{ERROR}"], {wanted}'
        '"detail": "what was wrong"}, the status a string, as application/scim+json.',
        exchange=exchange,
    )


def list_response(exchange: Exchange, total: int | None = None, consequence: str = COMPLIANCE) -> list[Any]:
    """The Resources of a 200 ListResponse (and ``total`` of them, when given)."""
    status(
        exchange,
        200,
        consequence=consequence,
        quarantine=consequence is COMPLIANCE,
        fix="A filter that matches nothing answers 200 with an empty ListResponse, never 404 or 400.",
    )
    scim_json(exchange)
    body = exchange.body
    if not isinstance(body, dict) or LIST not in body.get("schemas", []) or "totalResults" not in body:
        raise Failed(
            f"{exchange.method} {exchange.path} did not answer a ListResponse.",
            consequence,
            "Answer queries with {schemas: [ListResponse URN], totalResults, startIndex, itemsPerPage, Resources}.",
            consequence is COMPLIANCE,
            exchange,
        )
    resources: list[Any] = body.get("Resources") or []
    if total is not None and (body["totalResults"] != total or len(resources) != total):
        too_many = total == 1 and len(resources) > 1
        raise Failed(
            f"{exchange.method} {exchange.path} found {body['totalResults']} resources; the IdP expects {total}.",
            "Entra finds several matches (SystemForCrossDomainIdentityManagementMultipleEntriesInResponse) and "
            "skips the user."
            if too_many
            else consequence,
            "Filter exactly: userName eq is case-insensitive and exact, externalId eq is exact.",
            exchange=exchange,
        )
    return resources


def resource(exchange: Exchange, *wanted: int, consequence: str = ESCROW) -> dict[str, Any]:
    status(exchange, *wanted, consequence=consequence)
    scim_json(exchange)
    if not isinstance(exchange.body, dict) or not isinstance(exchange.body.get("id"), str):
        raise Failed(
            f"{exchange.method} {exchange.path} answered without the resource's id.",
            "Entra caches the id as the user's anchor; without it the user cannot be updated later (InvalidAnchor).",
            "Return the whole resource, with its server-assigned id, on create, read and (preferably) update.",
            exchange=exchange,
        )
    return exchange.body


def equal(actual: Any, expected: Any, what: str, consequence: str = ESCROW, fix: str = "") -> None:
    if actual == expected:
        return
    raise Failed(
        f"{what}: read back {actual!r}, expected {expected!r}.",
        consequence
        if consequence is not ESCROW
        else "Entra sees a difference on every cycle and sends the same change again (a perpetual PATCH).",
        fix or "Store values exactly as sent and return them as stored.",
    )
