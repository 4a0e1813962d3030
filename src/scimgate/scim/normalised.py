"""The normalised view of a User and a Group: the few fields an application acts on, whatever the IdP.

IdPs fill SCIM differently (Entra's ``emails[type eq "work"]``, Okta's primary email, Google's ``name`` without a
``displayName``); an application wants "the email, the name, is the person active, which groups". The management
API returns this view beside the raw SCIM resource, and events carry the same shape.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from scimgate.events import roles
from scimgate.scim.render import Related, group_links, manager_ids, render
from scimgate.scim.resource_types import GROUPS, USERS
from scimgate.store import resources as store
from scimgate.store.resources import Membership, StoredResource

View = tuple[dict[str, Any], dict[str, Any]]
"""(normalised, raw): what events, the management API and the admin page show of a resource."""


def primary_email(document: dict[str, Any]) -> str | None:
    """The primary email; else the work email; else the first one. Entra marks none primary by default."""
    emails = [e for e in document.get("emails") or [] if isinstance(e, dict) and isinstance(e.get("value"), str)]
    primary = [e for e in emails if e.get("primary") is True]
    work = [e for e in emails if str(e.get("type", "")).lower() == "work"]
    chosen = primary or work or emails
    return str(chosen[0]["value"]) if chosen else None


def normalised_user(
    resource_id: str, document: dict[str, Any], groups: Sequence[Membership], roles: Sequence[str] = ()
) -> dict[str, Any]:
    """``roles``: the user's application roles (scimgate/events/roles.py), sorted."""
    name: dict[str, Any] = document["name"] if isinstance(document.get("name"), dict) else {}
    given, family = name.get("givenName"), name.get("familyName")
    display = document.get("displayName") or name.get("formatted") or " ".join(p for p in (given, family) if p) or None
    return {
        "id": resource_id,
        "user_name": document.get("userName"),
        "email": primary_email(document),
        "given_name": given,
        "family_name": family,
        "display_name": display,
        # A user whose active the IdP removed is treated as active: SCIM's default, and what Okta means by it.
        "active": document.get("active") is not False,
        "external_id": document.get("externalId"),
        "groups": [{"id": g.group_id, "display_name": g.display} for g in groups],
        "roles": list(roles),
    }


def normalised_group(resource_id: str, document: dict[str, Any], member_count: int | None = None) -> dict[str, Any]:
    """``member_count`` only where it was asked for: counting 100,000 members is not free."""
    group = {"id": resource_id, "display_name": document.get("displayName"), "external_id": document.get("externalId")}
    if member_count is not None:
        group["member_count"] = member_count
    return group


def user_views(
    conn: Connection, directory_id: str, base_url: str, rows: Sequence[StoredResource], with_raw: bool = True
) -> dict[str, View]:
    """(normalised, raw) per user; ``with_raw`` False leaves raw empty (membership events carry no raw user: a
    PATCH of 100 members would otherwise render 100 users)."""
    ids = [row.id for row in rows]
    memberships = store.groups_of(conn, directory_id, ids) if ids else {}
    mapped = roles.mapped_roles(conn, directory_id, ids)
    names = store.display_names(conn, directory_id, manager_ids([row.attributes for row in rows])) if with_raw else {}
    views = {}
    for row in rows:
        member_of = memberships.get(row.id, [])
        raw = {}
        if with_raw:
            raw = render(USERS, row, base_url, Related({row.id: group_links(member_of, base_url)}, names))
        user_roles = roles.all_roles(row.attributes, mapped.get(row.id, ()))
        views[row.id] = (normalised_user(row.id, row.attributes, member_of, user_roles), raw)
    return views


def group_view(row: StoredResource, base_url: str) -> View:
    # No member count and no members: an event about a group of 100,000 must not cost a read of all of them.
    return normalised_group(row.id, row.attributes), render(GROUPS, row, base_url)
