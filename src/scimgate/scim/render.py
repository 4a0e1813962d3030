"""A stored User or Group as the SCIM resource a client reads (RFC 7643 §3.1, §4).

What the server owns is added here: ``id``, ``schemas``, ``meta``, ``User.groups`` (derived from memberships) and
``Group.members`` (from the membership table), and the enterprise ``manager`` as the complex value Entra expects
(``{"value", "$ref", "displayName"}``; a bare string makes Entra fail with ServiceIncompatible).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from scimgate.scim.resource_types import GROUPS, USERS, ResourceType
from scimgate.scim.schema import ENTERPRISE_SCHEMA
from scimgate.store.resources import Member, Membership, StoredResource


def format_time(value: datetime) -> str:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def render(
    rtype: ResourceType,
    stored: StoredResource,
    base_url: str,
    *,
    groups: Sequence[Membership] | None = None,
    members: Sequence[Member] | None = None,
    manager_names: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    document = stored.attributes
    extensions = [ext.id for ext in rtype.extensions if ext.id in document]
    resource: dict[str, Any] = {"schemas": [rtype.schema.id, *extensions], "id": stored.id}
    for key, value in document.items():
        if key == ENTERPRISE_SCHEMA:
            value = _enterprise(value, base_url, manager_names or {})
        resource[key] = value
    if rtype is USERS and groups:
        resource["groups"] = [
            {"value": g.group_id, "$ref": f"{base_url}/Groups/{g.group_id}", "display": g.display, "type": "direct"}
            for g in groups
        ]
    if rtype is GROUPS and members:
        resource["members"] = [_member(m, base_url) for m in members]
    resource["meta"] = {
        "resourceType": rtype.name,
        "created": format_time(stored.created),
        "lastModified": format_time(stored.last_modified),
        "location": f"{base_url}{rtype.endpoint}/{stored.id}",
        "version": etag(stored.version),
    }
    return resource


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
