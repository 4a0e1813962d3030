"""A stored User or Group as the SCIM resource a client reads (RFC 7643 §3.1, §4).

What the server owns is added here: ``id``, ``schemas``, ``meta``, ``User.groups`` (derived from memberships) and
``Group.members`` (from the membership table), and the enterprise ``manager`` as the complex value Entra expects
(``{"value", "$ref", "displayName"}``; a bare string makes Entra fail with ServiceIncompatible).

Rendering a page needs rows other than the page's own (memberships, managers' names): ``related`` loads them in one
query each, in the transaction that read or wrote the page, and only when the response returns them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import ResourceType
from scimgate.scim.schema import ENTERPRISE_SCHEMA
from scimgate.store import resources as store
from scimgate.store.resources import Member, Membership, StoredResource


def change_time() -> datetime:
    """The time of a change, at the precision ``meta`` shows it (milliseconds). Stored finer, a value read from
    ``meta.lastModified`` and sent back in a filter would match nothing with ``eq`` and match the resource itself
    with ``gt``: "changed since the last value I saw" would repeat or miss resources."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def format_time(value: datetime) -> str:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


@dataclass(frozen=True)
class Related:
    """What rendering a page needs from other rows."""

    links: dict[str, list[dict[str, Any]]] | None = None
    """Per resource id, its rendered ``members`` (a group) or ``groups`` (a user); None: not returned."""
    manager_names: dict[str, str | None] | None = None


NOTHING_RELATED = Related()


def related(
    conn: Connection,
    target: Target,
    base_url: str,
    rows: Sequence[StoredResource],
    projection: Projection,
    created: bool = False,
) -> Related:
    """The memberships and managers of a page, in one query each, and only when the response returns them.
    ``created``: the rows were just created, so (being members of nothing yet) they have no groups to read."""
    rtype, directory_id = target.rtype, target.directory_id
    ids = [row.id for row in rows]
    links = None
    if ids and projection.includes(rtype.membership):
        links = {} if created and rtype.membership == "groups" else _links(conn, rtype, directory_id, base_url, ids)
    names = None
    if any(ext.id == ENTERPRISE_SCHEMA for ext in rtype.extensions) and projection.includes(ENTERPRISE_SCHEMA):
        names = store.display_names(conn, directory_id, manager_ids([row.attributes for row in rows]))
    return Related(links, names)


def render_page(
    rtype: ResourceType, rows: Sequence[StoredResource], base_url: str, projection: Projection, related: Related
) -> list[dict[str, Any]]:
    """Each row as its resource, as the client asked to see it (``attributes`` / ``excludedAttributes``)."""
    return [projection.apply(render(rtype, row, base_url, related)) for row in rows]


def render(
    rtype: ResourceType, stored: StoredResource, base_url: str, related: Related = NOTHING_RELATED
) -> dict[str, Any]:
    document = stored.attributes
    # Every extension the resource holds, declared or not (Entra does not list its custom URN in the schemas it
    # sends; the response says what the resource is made of).
    extensions = [key for key, value in document.items() if key.lower().startswith("urn:") and isinstance(value, dict)]
    resource: dict[str, Any] = {"schemas": [rtype.schema.id, *extensions], "id": stored.id}
    for key, value in document.items():
        if key == ENTERPRISE_SCHEMA:
            value = _enterprise(value, base_url, related.manager_names or {})
        resource[key] = value
    links = related.links.get(stored.id) if related.links is not None else None
    if links:
        resource[rtype.membership] = links
    resource["meta"] = {
        "resourceType": rtype.name,
        "created": format_time(stored.created),
        "lastModified": format_time(stored.last_modified),
        "location": f"{base_url}{rtype.endpoint}/{stored.id}",
        "version": etag(stored.version),
    }
    return resource


def group_links(memberships: Sequence[Membership], base_url: str) -> list[dict[str, Any]]:
    """``User.groups``: the groups a user is a direct member of."""
    return [
        {"value": m.group_id, "$ref": f"{base_url}/Groups/{m.group_id}", "display": m.display, "type": "direct"}
        for m in memberships
    ]


def member_links(members: Sequence[Member], base_url: str) -> list[dict[str, Any]]:
    """``Group.members``: users and groups, each with its ``$ref`` and display name."""
    return [_member(member, base_url) for member in members]


def _links(
    conn: Connection, rtype: ResourceType, directory_id: str, base_url: str, ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    if rtype.membership == "members":
        members = store.members_of(conn, directory_id, ids)
        return {group_id: member_links(found, base_url) for group_id, found in members.items()}
    memberships = store.groups_of(conn, directory_id, ids)
    return {user_id: group_links(found, base_url) for user_id, found in memberships.items()}


def _member(member: Member, base_url: str) -> dict[str, Any]:
    endpoint = "Users" if member.type == "User" else "Groups"
    out: dict[str, Any] = {"value": member.id, "$ref": f"{base_url}/{endpoint}/{member.id}", "type": member.type}
    if member.display:
        out["display"] = member.display
    return out


def _enterprise(extension: dict[str, Any], base_url: str, manager_names: dict[str, str | None]) -> dict[str, Any]:
    manager = extension.get("manager")
    if not manager or "value" not in manager:
        return extension
    manager_id = manager["value"]
    rendered: dict[str, Any] = {"value": manager_id}
    if manager_id in manager_names:
        rendered["$ref"] = f"{base_url}/Users/{manager_id}"
        if manager_names[manager_id]:
            rendered["displayName"] = manager_names[manager_id]
    return {**extension, "manager": rendered}


def manager_ids(documents: Sequence[dict[str, Any]]) -> set[str]:
    ids = set()
    for document in documents:
        manager = document.get(ENTERPRISE_SCHEMA, {}).get("manager")
        if isinstance(manager, dict) and isinstance(manager.get("value"), str):
            ids.add(manager["value"])
    return ids
