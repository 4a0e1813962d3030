"""Reading SCIM requests and writing SCIM responses: content types, body limits, JSON, query parameters."""

import asyncio
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scimgate.context import current_request
from scimgate.jsonio import dumps
from scimgate.scim.errors import (
    SCIM_MEDIA_TYPE,
    InvalidSyntax,
    InvalidValue,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    excerpt,
)
from scimgate.scim.query import SearchParams
from scimgate.scim.validation import casefold_keys
from scimgate.text import storable

_JSON_TYPES = ("application/scim+json", "application/json")


def scim_response(body: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = dumps(body) if body is not None else None
    return Response(content, status_code=status, headers=headers, media_type=SCIM_MEDIA_TYPE)


async def read_json(request: Request, max_bytes: int, timeout: float = 30.0) -> Any:
    """The request body as JSON, refused with 415, 413 or 400 before anything is written."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    # A missing Content-Type is read as JSON: some clients omit it, and the body is parsed strictly anyway.
    if media_type and media_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {excerpt(media_type)} is not accepted; send application/scim+json or application/json."
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    # Counted while streaming, so a chunked body without Content-Length cannot grow past the limit either; and
    # timed, so a client trickling its body a byte a second cannot hold a worker's request for ever.
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {timeout:g} seconds; nothing was changed. Send it again."
        ) from None
    if not body:
        raise InvalidSyntax("The request body is empty; send the resource as a JSON object.")
    try:
        parsed = json.loads(body, parse_constant=_reject_constant, parse_float=_finite, object_pairs_hook=_unique_keys)
        _check_strings(parsed)
    except RecursionError:
        raise InvalidSyntax("The request body nests JSON too deeply.") from None
    except ValueError as error:
        raise InvalidSyntax(f"The request body is not valid JSON: {error}.") from None
    if (context := current_request.get()) is not None:
        context.body_read = True
    return parsed


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with {"userName": "a", "userName": "admin"}, parsers disagree on
    which wins (the first, the last), so such a body is refused rather than read one way here and another there."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {excerpt(key, 40)} appears twice in one object")
        found[key] = value
    return found


def _check_strings(value: Any) -> None:
    """Refuse strings no database can store (``\\u0000``, unpaired surrogates) before anything is written."""
    if isinstance(value, str):
        if not storable(value):
            raise InvalidValue("The request body contains a NUL character or an unpaired UTF-16 surrogate escape.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent; ``1e400`` is infinite as a float, which no JSON can hold back (it
    would be stored and returned as null): refused, as NaN is."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {max_bytes} bytes, the limit of this server.")


def query_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidValue(f"{name} must be an integer, not {excerpt(raw)}.") from None


SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def search_params(request: Request) -> SearchParams:
    """A search in a URL's query string (GET on /Users or /Groups)."""
    params = request.query_params
    return SearchParams(
        filter=params.get("filter"),
        start_index=query_int(request, "startIndex"),
        count=query_int(request, "count"),
        attributes=params.get("attributes"),
        excluded_attributes=params.get("excludedAttributes"),
        sort_by=params.get("sortBy"),
        sort_order=params.get("sortOrder"),
        cursor=params.get("cursor"),
    )


def parse_search_request(body: Any) -> SearchParams:
    """A SearchRequest body (RFC 7644 §3.4.3); keys are matched case-insensitively like attribute names."""
    if not isinstance(body, dict):
        raise InvalidSyntax(f"A search is a JSON object with the schema {SEARCH_REQUEST}.")
    fields = casefold_keys(body, "The SearchRequest")
    return SearchParams(
        filter=_optional(fields, "filter", str),
        start_index=_optional(fields, "startindex", int),
        count=_optional(fields, "count", int),
        attributes=_names(fields, "attributes"),
        excluded_attributes=_names(fields, "excludedattributes"),
        sort_by=_optional(fields, "sortby", str),
        sort_order=_optional(fields, "sortorder", str),
        cursor=_optional(fields, "cursor", str),
    )


def _optional(fields: dict[str, Any], name: str, kind: type) -> Any:
    value = fields.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise InvalidValue(f"{name} in a SearchRequest must be a {kind.__name__}, not {excerpt(value)}.")
    return value


def _names(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidValue(f"{name} in a SearchRequest must be an array of attribute names.")
    return ",".join(value)
