"""A refused creation or rename (409 uniqueness) beside the resource that holds the name.

The IdP believes it is provisioning someone new; the directory already has someone by that userName (or a group by
that displayName). Most often it is the same person under another externalId (re-created in the IdP, or matched on
another attribute), and the fix depends on which values differ: so the log entry links the holder and lists the
fields that differ between what the request sent and what is stored now.
"""

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.tables import groups, users
from scimgate.text import comparison_key

_NOT_COMPARED = {"schemas", "meta", "id", "password", "members"}
"""Not the IdP's data (schemas, meta, id), never shown (password, redacted in the log anyway), or a list that
may hold 100,000 entries (members)."""
_KINDS = {"user_name_taken": (users, "userName", "user"), "display_name_taken": (groups, "displayName", "group")}


@dataclass(frozen=True)
class Difference:
    field: str
    sent: str | None
    stored: str | None


@dataclass(frozen=True)
class Conflict:
    kind: str  # "user" or "group": the admin page that shows the holder
    resource_id: str
    name: str
    differences: list[Difference]


def conflict(conn: Connection, entry: Any) -> Conflict | None:
    """The holder of the name a 409 entry asked for, and what differs; None when it is gone or not readable."""
    if entry.status != 409 or entry.reason not in _KINDS or not entry.directory_id:
        return None
    table, attribute, kind = _KINDS[entry.reason]
    sent = _document(entry.request_body)
    name = _name(sent, attribute) if sent is not None else None
    if sent is None or name is None:
        return None
    key = users.c.user_name_key if table is users else groups.c.display_name_key
    holder = conn.execute(
        sa.select(table.c.id, table.c.attributes).where(
            table.c.directory_id == entry.directory_id, key == comparison_key(name)
        )
    ).first()
    if holder is None:
        return None
    stored = dict(holder.attributes)
    wanted = sent if entry.method in ("POST", "PUT") else {attribute: name}
    return Conflict(kind, holder.id, str(stored.get(attribute, name)), differences(wanted, stored))


def _document(body: str | None) -> dict[str, Any] | None:
    try:
        found = json.loads(body) if body else None
    except ValueError:  # cut short at the log's body limit
        return None
    return found if isinstance(found, dict) else None


def _name(sent: dict[str, Any], attribute: str) -> str | None:
    """The name asked for: the body's (POST, PUT) or a PATCH operation's (``path: userName``, or no path and a
    value holding it)."""
    if isinstance(sent.get(attribute), str):
        return str(sent[attribute])
    for operation in sent.get("Operations") or []:
        if not isinstance(operation, dict):
            continue
        path, value = str(operation.get("path") or ""), operation.get("value")
        if path.lower() == attribute.lower() and isinstance(value, str):
            return value
        if not path and isinstance(value, dict) and isinstance(value.get(attribute), str):
            return str(value[attribute])
    return None


def differences(sent: dict[str, Any], stored: dict[str, Any]) -> list[Difference]:
    """Every field the request sent (dotted, as ``name.givenName``) whose stored value differs or is absent. Fields
    it did not send are left out: the server's defaults (``active``) are no difference the IdP made. Attribute
    names compare case-insensitively (RFC 7643 §2.1); a list compares whole."""
    left, right = _leaves(sent), _leaves(stored)
    found = []
    for key in sorted(left):
        (shown, value), held = left[key], right.get(key, (None, None))[1]
        if value != held:
            found.append(Difference(shown, value, held))
    return found


def _leaves(document: dict[str, Any], prefix: str = "") -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for name, value in document.items():
        if name.lower() in _NOT_COMPARED and not prefix:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            found.update(_leaves(value, path + "."))
        else:
            found[path.lower()] = (path, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return found
