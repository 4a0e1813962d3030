"""The normalised view of a User and a Group: the few fields an application acts on, whatever the IdP.

IdPs fill SCIM differently (Entra's ``emails[type eq "work"]``, Okta's primary email, Google's ``name`` without a
``displayName``); an application wants "the email, the name, is the person active, which groups". The management
API returns this view beside the raw SCIM resource, and events carry the same shape.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from scimgate.events import roles
from scimgate.scim.domains import DomainPolicy, policy_of
from scimgate.scim.extensions import catalog_of, declarations
from scimgate.scim.render import Related, group_links, manager_ids, render
from scimgate.scim.resource_types import GROUPS, USERS
from scimgate.store import resources as store
from scimgate.store.resources import Membership, StoredResource

View = tuple[dict[str, Any], dict[str, Any]]
Names = Mapping[str, Mapping[str, str]]
"""(normalised, raw): what events, the management API and the admin page show of a resource."""


def primary_email(document: dict[str, Any]) -> str | None:
    """The primary email; else the work email; else the first one. Entra marks none primary by default."""
    emails = [e for e in document.get("emails") or [] if isinstance(e, dict) and isinstance(e.get("value"), str)]
    primary = [e for e in emails if e.get("primary") is True]
    work = [e for e in emails if str(e.get("type", "")).lower() == "work"]
    chosen = primary or work or emails
    return str(chosen[0]["value"]) if chosen else None


def normalised_user(
    resource_id: str,
    document: dict[str, Any],
    groups: Sequence[Membership],
    roles: Sequence[str] = (),
    names: Names | None = None,
    domain_verified: bool | None = None,
) -> dict[str, Any]:
    """``roles``: the user's application roles (scimgate/events/roles.py), sorted; ``names``: the directory's
    declared extension attributes and the names the application reads them under (``custom``);
    ``domain_verified``: whether the userName and emails are inside the directory's verified domains (None while
    its domain policy is off: nothing was checked)."""
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
        "custom": custom_values(document, names or {}),
        # An application links users to SSO logins by email only when this is not False (scimgate/scim/domains.py).
        "domain_verified": domain_verified,
    }


def custom_values(document: dict[str, Any], names: Names) -> dict[str, Any]:
    """The declared extension attributes a resource holds, under the application's names. URNs and attribute
    names match case-insensitively: a value stored before its extension was declared keeps the IdP's spelling."""
    lowered = {key.lower(): value for key, value in document.items() if isinstance(value, dict)}
    custom: dict[str, Any] = {}
    for urn, attributes in names.items():
        held = {key.lower(): value for key, value in lowered.get(urn.lower(), {}).items()}
        for attribute, name in attributes.items():
            if attribute.lower() in held:
                custom[name] = held[attribute.lower()]
    return custom


def normalised_group(resource_id: str, document: dict[str, Any], member_count: int | None = None) -> dict[str, Any]:
    """``member_count`` only where it was asked for: counting 100,000 members is not free."""
    group = {"id": resource_id, "display_name": document.get("displayName"), "external_id": document.get("externalId")}
    if member_count is not None:
        group["member_count"] = member_count
    return group


class Known(NamedTuple):
    """What a directory declared that a user's normalised view depends on."""

    names: Names
    """Its extension attributes (``scimgate.scim.extensions.Catalog.names``)."""
    domains: DomainPolicy
    """Its email-domain policy (``domain_verified``)."""


def user_views(  # noqa: PLR0913 (one reader for the events', the admin page's and the API's views)
    conn: Connection,
    directory_id: str,
    base_url: str,
    rows: Sequence[StoredResource],
    with_raw: bool = True,
    known: "Known | None" = None,
    created: bool = False,
) -> dict[str, View]:
    """(normalised, raw) per user; ``with_raw`` False leaves raw empty (membership events carry no raw user: a
    PATCH of 100 members would otherwise render 100 users). ``known``: the directory's declared extension
    attributes and domain policy, read here when not given. ``created``: the users were just created, in this
    transaction, so they are members of no group yet (nothing to read)."""
    if known is None:
        known = Known(catalog_of(declarations(conn, directory_id)).names, policy_of(conn, directory_id))
    names, domains = known
    ids = [row.id for row in rows]
    memberships = store.groups_of(conn, directory_id, ids) if ids and not created else {}
    mapped = roles.mapped_roles(conn, directory_id, ids) if not created else {}
    managers = (
        store.display_names(conn, directory_id, manager_ids([row.attributes for row in rows])) if with_raw else {}
    )
    views = {}
    for row in rows:
        member_of = memberships.get(row.id, [])
        raw = {}
        if with_raw:
            raw = render(USERS, row, base_url, Related({row.id: group_links(member_of, base_url)}, managers))
        user_roles = roles.all_roles(row.attributes, mapped.get(row.id, ()))
        views[row.id] = (
            normalised_user(row.id, row.attributes, member_of, user_roles, names, domains.verdict(row.attributes)),
            raw,
        )
    return views


def group_view(row: StoredResource, base_url: str) -> View:
    # No member count and no members: an event about a group of 100,000 must not cost a read of all of them.
    return normalised_group(row.id, row.attributes), render(GROUPS, row, base_url)
