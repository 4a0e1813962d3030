"""Fix text chosen by what a 400 says the server refused: the filter, or the form of a PATCH.

A step knows what the IdP was doing (looking a user up, disabling one); the answer's ``scimType`` (RFC 7644
§3.12) says what the server could not take. A server that refuses Entra's filter needs its filter parser fixed,
not advice about empty results; one that refuses a PATCH path needs to accept that path form, not its values.
"""

from typing import Any
from urllib.parse import parse_qsl

from scimgate.check.runner import Exchange

FILTER = (
    'The server could not parse the filter {filter}: parse what IdPs send, `attribute eq "value"` on userName, '
    'externalId, id, displayName and emails[type eq "work"].value, with attribute names and operators in any '
    "case and double-quoted values that may hold escaped quotes (RFC 7644 §3.4.2.2)."
)
PATCH_FORMS = {
    "invalidPath": (
        "The server refused the PATCH path {paths}: accept every path form the IdP sends, attribute names in any "
        'case, sub-attributes (name.givenName), filtered paths (emails[type eq "work"].value, '
        'members[value eq "…"]) and paths prefixed with an extension\'s URN '
        "(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager)."
    ),
    "invalidValue": (
        "The server refused a PATCH value {paths}: accept the values the IdP sends, op names in any case "
        '(Replace, Add), booleans as the strings "True"/"False" (Entra without aadOptscim062020), a no-path '
        'op whose value holds several attributes, and a manager as {{"value": id}}.'
    ),
    "mutability": (
        "The server refused the PATCH as changing a read-only attribute {paths}: only id and meta are read-only; "
        "userName, externalId, active and members must be replaceable, and an op that sets an attribute to the "
        "value it has (Okta's group push re-sends the group's own id) changes nothing and is no error."
    ),
}


def refused_form(exchange: Exchange) -> str | None:
    """The fix for a 400 whose scimType names the filter or the PATCH's form; None for any other answer."""
    scim_type = exchange.body.get("scimType") if isinstance(exchange.body, dict) else None
    if exchange.status != 400 or not isinstance(scim_type, str):
        return None
    if scim_type == "invalidFilter":
        return FILTER.format(filter=_filter(exchange.path))
    if exchange.method == "PATCH" and scim_type in PATCH_FORMS:
        return PATCH_FORMS[scim_type].format(paths=_paths(exchange.request))
    return None


def _filter(path: str) -> str:
    query = dict(parse_qsl(path.partition("?")[2]))
    return f"({query['filter']})" if "filter" in query else "in the request body"


def _paths(body: Any) -> str:
    """The request's operations, briefly: ``(replace active, add members)``."""
    operations = body.get("Operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        return ""
    shown = [f"{op.get('op')} {op.get('path') or '(no path)'}" for op in operations[:5] if isinstance(op, dict)]
    return f"({', '.join(shown)})" if shown else ""
