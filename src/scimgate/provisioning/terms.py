"""What a provisioning log entry can be found by, and what it was about.

An admin searches by what they know: a userName, a group's name, an externalId, an email, an id, a value the IdP
filtered on. Each entry's terms are read from its request (body and filter) and its answer when it was written:
only values under those attributes, never anything else of the body, so a password or a token is never a term.
Terms are comparison keys (``scimgate.text``), so a search ignores case; a value of several words is also a term
per word, so "vance" finds "Adele Vance". A prefix of a term finds it too (the index serves a range).
"""

import re
from typing import Any
from urllib.parse import parse_qsl

from scimgate.provisioning.redact import redact_shaped
from scimgate.text import comparison_key

MAX_TERMS = 60
TERM_CHARS = 200
_VALUES = {"username", "displayname", "externalid", "id", "value"}
"""Attributes whose value is a term; "value" only inside emails and members (see _walk)."""
_LISTS = {"emails", "members"}
_FILTER_VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"|\b(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+([^\s")]+)', re.IGNORECASE)
_TARGET_KEYS = ("userName", "displayName")


def _walk(value: Any, found: list[str], depth: int = 0, in_list: bool = False) -> None:
    """Values of userName, displayName, externalId, id, and of emails' and members' "value", at any depth (a Bulk
    operation's data, a list response's resources, a PATCH operation's value); PATCH operations by their path."""
    if depth > 8 or len(found) >= MAX_TERMS:
        return
    if isinstance(value, list):
        for item in value[:MAX_TERMS]:
            _walk(item, found, depth + 1, in_list)
        return
    if not isinstance(value, dict):
        return
    path = next((item for key, item in value.items() if key.lower() == "path"), None)
    if isinstance(path, str) and "[" in path:  # members[value eq "usr_…"]: the value filtered on
        found.extend(quoted or bare for quoted, bare in _FILTER_VALUE.findall(path[:500]))
    for key, item in value.items():
        lowered = key.lower()
        if lowered == "value" and isinstance(path, str):
            _operation(path, item, found, depth)
        elif lowered in _VALUES and isinstance(item, str) and (lowered != "value" or in_list):
            found.append(item)
        elif lowered in _LISTS:
            _walk(item, found, depth + 1, in_list=True)
        elif isinstance(item, dict | list) and lowered not in ("meta", "schemas"):
            _walk(item, found, depth + 1)


def _operation(path: str, value: Any, found: list[str], depth: int) -> None:
    """A PATCH operation's value, when its path names a searched attribute (``userName``, ``members``,
    ``emails[type eq "work"].value``)."""
    attribute = re.split(r"[.\[]", path.split(":")[-1], maxsplit=1)[0].lower()
    if attribute in _LISTS:
        if isinstance(value, str):
            found.append(value)
        else:
            _walk(value, found, depth + 1, in_list=True)
    elif attribute in _VALUES and isinstance(value, str):
        found.append(value)


def filter_of(query: str | None) -> str | None:
    """The ``filter`` parameter of a query string, decoded."""
    for key, value in parse_qsl(query or "", keep_blank_values=True):
        if key.lower() == "filter":
            return value
    return None


def entry_terms(query: str | None, request: Any, response: Any, resource_id: str | None) -> tuple[set[str], str | None]:
    """The terms an entry is found by, and its target (the userName or group name it carried or got back, else
    its filter). ``query`` is as stored (redacted); the bodies as received and sent, parsed (anything that is not a
    list or an object is skipped; only the attributes above are read from them)."""
    found: list[str] = [resource_id] if resource_id else []
    _walk(request, found)
    # A list answer names what it found; more than a few means the request was not about them.
    if isinstance(response, dict) and isinstance(response.get("Resources"), list):
        _walk(response["Resources"][:3], found)
    else:
        _walk(response, found)
    filtered = filter_of(query)
    if filtered:
        found += [quoted or bare for quoted, bare in _FILTER_VALUE.findall(filtered[:2000])]
    terms: set[str] = set()
    for value in found:
        key = comparison_key(redact_shaped(value))
        words = key.split()
        for term in [key, *words] if len(words) > 1 else [key]:
            if term and len(terms) < MAX_TERMS:
                terms.add(term[:TERM_CHARS])
    return terms, _target(request, response, filtered)


def _target(request: Any, response: Any, filtered: str | None) -> str | None:
    for document in (request, response):
        if isinstance(document, dict):
            for key in _TARGET_KEYS:
                if isinstance(document.get(key), str):
                    return redact_shaped(str(document[key]))[:TERM_CHARS]
    if filtered:
        return redact_shaped(filtered)[:TERM_CHARS]
    return None
