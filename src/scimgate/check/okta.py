"""Okta's provisioning, in its order, for both kinds of integration (../shared/docs/okta-provisioning.md):

* OIN templates PATCH for activation, password sync and group push: ``{"op":"replace","value":{"active":false}}``, the
  group rename ``{"op":"replace","value":{"id":"<the group's id>","displayName":…}}`` sent with every membership
  update, ``remove members[value eq "…"]`` and ``add members`` in one request, ``replace members`` (``[]`` empties
  a group), members in a no-path replace. Source: Okta's SCIM 2.0 reference
  (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20; okta/okta-developer-docs
  docs/reference/scim/scim-20/index.md) and its 2019 "SCIM Protocol" page (docs/reference/scim/index.md).
* App Integration Wizard apps PUT every user update — "activate, deactivate, password sync … are always sent
  through a PUT method request" (the same reference) — echoing what they read (id, meta, ``groups: []``), and PUT
  groups with their members.

Lookups come as ``%20`` and as ``+`` forms, with ``%2B`` for a plus in the userName; a deactivated user must still
be found by its userName (Okta's re-assignment, OIN test plan C9293); custom attributes travel under the
namespace typed in Okta's profile editor (Okta support, "Create a custom app attribute …").
"""

import uuid
from typing import Any
from urllib.parse import quote

from scimgate.check.expect import COMPLIANCE, equal, list_response, resource, scim_error, status
from scimgate.check.runner import ENTERPRISE, GROUP, PATCH_OP, USER, Failed, Session, Step

OKTA = "Okta's job fails the operation and shows it in the app's provisioning errors; it does not retry on its own."
CONFLICT = (
    "Okta reads the 409's Error body to stop the provisioning job for this user (Okta's SCIM 2.0 reference); without "
    "one it shows an unreadable error and the OIN test of the duplicate create (SPEC) fails."
)
NOT_FOUND = (
    "Okta's OIN tests (SPEC: unknown id → 404 with an Error body and a detail) fail the submission, and Okta's "
    "provisioning errors show nothing an admin can act on."
)
PASSWORD = (
    "Okta's password sync fails for this user (OIN test plan C9301/C9302): the task shows in the app's provisioning "
    "errors and the application keeps the old password."
)
PUSH = (
    "Okta marks the whole group push as failed and stops pushing this group's memberships (reported by other "
    "servers' users: Metatavu/keycloak-scim-server#113)."
)
CUSTOM = "urn:ietf:params:scim:schemas:custom:Okta"
AGENT = {"User-Agent": "Okta SCIM Client 1.0.0"}


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def credentials(session: Session) -> None:
    list_response(session.send("GET", "/Users?startIndex=1&count=2", headers=AGENT), consequence=OKTA)
    list_response(session.send("GET", "/Groups?startIndex=1&count=100", headers=AGENT), consequence=OKTA)
    refused = session.send("GET", "/Users?startIndex=1&count=1", headers={"Authorization": "non-token"})
    scim_error(
        refused,
        401,
        detail=True,
        consequence="Okta's OIN tests (SPEC) fail the submission: they expect a 401 with an Error body for a bad "
        "credential, and Okta's error view shows nothing useful without one.",
    )


def precheck(session: Session) -> None:
    session.saved["user_name"] = f"okta+{session.tag}@scimgate-check.example"
    name = session.saved["user_name"]
    spaced = f"/Users?filter=userName%20eq%20%22{quote(name, safe='@')}%22&startIndex=1&count=100"
    plussed = f"/Users?filter=userName+eq+%22{quote(name, safe='@')}%22&startIndex=1&count=100"
    for path in (spaced, plussed):
        list_response(session.send("GET", path, headers=AGENT), total=0, consequence=COMPLIANCE)


def _user(session: Session, given: str, locale: str = "en-US") -> dict[str, Any]:
    return {
        "schemas": [USER, ENTERPRISE, CUSTOM],
        "userName": session.saved["user_name"],
        "name": {"givenName": given, "familyName": "Check"},
        "emails": [{"primary": True, "value": session.saved["user_name"], "type": "work"}],
        "displayName": f"{given} Check",
        "locale": locale,
        "externalId": f"00u{session.tag}",
        "groups": [],
        "password": f"Pw-{uuid.uuid4()}",
        "active": True,
        ENTERPRISE: {"department": "Provisioning"},
        CUSTOM: {"costCenter": "CC-7", "seat": "4F-12"},
    }


def create(session: Session) -> None:
    body = _user(session, "Olivia")
    created = resource(session.send("POST", "/Users", body, headers=AGENT), 201, consequence=OKTA)
    session.saved["user"] = created["id"]
    session.remember(f"/Users/{created['id']}")
    if "password" in created:
        raise Failed(
            "the password came back in the response.",
            "Okta's OIN review fails the integration.",
            "Never return passwords (RFC 7643 §4.1.1: returned never).",
        )
    equal(created.get(ENTERPRISE, {}).get("department"), "Provisioning", "the enterprise department", OKTA)
    equal(created.get(CUSTOM), body[CUSTOM], f"the custom namespace {CUSTOM}", OKTA)
    duplicate = session.send("POST", "/Users", body, headers=AGENT)
    # Okta's SCIM 2.0 reference: the server "needs to respond with an error schema to stop the provisioning job"
    # (409 with the Error URN); RFC 7644 §3.12 makes its status a string and §3.3 names its scimType, uniqueness.
    scim_error(duplicate, 409, scim_type="uniqueness", consequence=CONFLICT)


def lookups(session: Session) -> None:
    """The user by userName in both encodings (a plus as %2B), then by id; an unknown id is a 404 with a body."""
    name, user_id = session.saved["user_name"], session.saved["user"]
    encoded = quote(name, safe="@")  # okta%2B…
    for path in (f"/Users?filter=userName%20eq%20%22{encoded}%22", f"/Users?filter=userName+eq+%22{encoded}%22"):
        found = list_response(session.send("GET", path + "&startIndex=1&count=100", headers=AGENT), total=1)
        equal(found[0].get("id"), user_id, "the user found by userName", OKTA)
    unknown = session.send("GET", f"/Users/{uuid.uuid4()}", headers=AGENT)
    scim_error(unknown, 404, detail=True, consequence=NOT_FOUND)


def put_update(session: Session) -> None:
    """AIW: GET, then PUT of what was read with the change (id, meta and groups: [] echoed, password resent)."""
    path = f"/Users/{session.saved['user']}"
    current = resource(session.send("GET", path, headers=AGENT), 200, consequence=OKTA)
    body = {**_user(session, "Olive", locale="en_US"), "id": current["id"], "meta": current.get("meta", {})}
    updated = resource(session.send("PUT", path, body, headers=AGENT), 200, consequence=OKTA)
    equal(updated.get("name", {}).get("givenName"), "Olive", "name.givenName after PUT", OKTA)
    equal(updated.get("locale"), "en_US", "locale (Okta sends en_US as well as en-US)", OKTA)
    equal(updated.get("active"), True, "active after a PUT", OKTA)


def deactivate_patch(session: Session) -> None:
    """OIN: deactivation and reactivation as no-path replaces; the deactivated user is still found."""
    path = f"/Users/{session.saved['user']}"
    status(session.send("PATCH", path, ops({"op": "replace", "value": {"active": False}}), headers=AGENT), 200, 204)
    equal(
        resource(session.send("GET", path, headers=AGENT), 200, consequence=OKTA).get("active"),
        False,
        "active after Okta's deactivation",
        consequence="Deactivation fails: the person keeps access in the application.",
    )
    encoded = quote(session.saved["user_name"], safe="@")
    again = session.send("GET", f"/Users?filter=userName%20eq%20%22{encoded}%22&startIndex=1&count=100")
    list_response(again, total=1, consequence="Okta POSTs the user again on re-assignment and gets a 409 (C9293).")
    status(session.send("PATCH", path, ops({"op": "replace", "value": {"active": True}}), headers=AGENT), 200, 204)
    equal(
        resource(session.send("GET", path), 200, consequence=OKTA).get("active"),
        True,
        "active after reactivation",
        OKTA,
    )


def password_sync(session: Session) -> None:
    """OIN password sync. Okta's SCIM 2.0 reference ("Update a specific User (PATCH)"): "For new OIN app
    integrations, the following operations update a User object through a PATCH method request: … Syncing the user
    password" (the OIN Wizard's "Change password" operation; test plan C9301/C9302 run it). Okta publishes no body
    for it (okta-provisioning.md, behaviour 16): this is the no-path replace form of its documented deactivation
    PATCH, ``{"op":"replace","value":{"password":"…"}}``. The password is never read back, and nothing else of the
    user changes."""
    path = f"/Users/{session.saved['user']}"
    before = resource(session.send("GET", path, headers=AGENT), 200, consequence=OKTA)
    sync = ops({"op": "replace", "value": {"password": f"Pw-{uuid.uuid4()}"}})
    answer = session.send("PATCH", path, sync, headers=AGENT)
    status(
        answer,
        200,
        204,
        consequence=PASSWORD,
        fix='Accept a PATCH whose only operation is a no-path replace with {"password": "…"} as its value (RFC 7644 '
        "§3.5.2.3: a no-path value names the attributes to replace); store or discard the password, never return "
        "it.",
    )
    after = resource(session.send("GET", path, headers=AGENT), 200, consequence=OKTA)
    if "password" in after or (isinstance(answer.body, dict) and "password" in answer.body):
        raise Failed(
            "the password came back after a password sync.",
            "Okta's OIN review fails the integration.",
            "Never return passwords (RFC 7643 §4.1.1: returned never).",
        )
    kept = ("userName", "name", "emails", "active", "externalId", ENTERPRISE, CUSTOM)
    equal(
        {key: after.get(key) for key in kept},
        {key: before.get(key) for key in kept},
        "the user after a password sync",
        PASSWORD,
        fix="A no-path replace changes only the attributes its value names (RFC 7644 §3.5.2.3): a password sync "
        "leaves the profile as it was.",
    )


def deactivate_put(session: Session) -> None:
    """AIW: deactivation and reactivation by PUT of the whole user."""
    path = f"/Users/{session.saved['user']}"
    for active in (False, True):
        current = resource(session.send("GET", path, headers=AGENT), 200, consequence=OKTA)
        body = {**_user(session, "Olive", locale="en_US"), "id": current["id"], "active": active}
        body.pop("password")
        updated = resource(session.send("PUT", path, body, headers=AGENT), 200, consequence=OKTA)
        equal(updated.get("active"), active, f"active after a PUT with active {active}", OKTA)


def _group_members(session: Session, path: str) -> list[str]:
    group = resource(session.send("GET", path, headers=AGENT), 200, consequence=OKTA)
    return sorted(member.get("value") for member in group.get("members") or [])


def _second_user(session: Session) -> str:
    body = {"schemas": [USER], "userName": f"okta.two.{session.tag}@scimgate-check.example", "active": True}
    created = resource(session.send("POST", "/Users", body, headers=AGENT), 201, consequence=OKTA)
    session.remember(f"/Users/{created['id']}")
    return str(created["id"])


def group_push(session: Session) -> None:
    """OIN group push: create empty, rename with the group's own id, add, remove+add, replace, empty, no-path."""
    one, two = session.saved["user"], _second_user(session)
    name = f"Okta group {session.tag}"
    found = session.send("GET", f"/Groups?filter=displayName%20eq%20%22{quote(name)}%22&startIndex=1&count=100")
    list_response(found, total=0, consequence=OKTA)
    group = resource(
        session.send("POST", "/Groups", {"schemas": [GROUP], "displayName": name, "members": []}), 201, consequence=OKTA
    )
    path = f"/Groups/{group['id']}"
    session.remember(path)
    rename = ops({"op": "replace", "value": {"id": group["id"], "displayName": f"{name} (renamed)"}})
    status(
        session.send("PATCH", path, rename, headers=AGENT),
        200,
        204,
        consequence=PUSH,
        fix="Accept the group's own id inside a no-path replace value (Okta's SCIM 2.0 reference sends it on every "
        "membership update); refuse only a different id.",
    )
    add = ops({"op": "add", "path": "members", "value": [{"value": one, "display": session.saved["user_name"]}]})
    status(session.send("PATCH", path, add, headers=AGENT), 200, 204, consequence=PUSH)
    swap = ops(
        {"op": "remove", "path": f'members[value eq "{one}"]'},
        {"op": "add", "path": "members", "value": [{"value": two}]},
    )
    status(session.send("PATCH", path, swap, headers=AGENT), 200, 204, consequence=PUSH)
    equal(_group_members(session, path), [two], "members after remove and add in one request", PUSH)
    both = sorted([one, two])
    replace = ops({"op": "replace", "path": "members", "value": [{"value": m} for m in both]})
    status(session.send("PATCH", path, replace, headers=AGENT), 200, 204, consequence=PUSH)
    equal(_group_members(session, path), both, "members after a full replace", PUSH)
    removes = ops(*({"op": "remove", "path": f'members[value eq "{m}"]'} for m in both))
    status(session.send("PATCH", path, removes, headers=AGENT), 200, 204, consequence=PUSH)
    equal(_group_members(session, path), [], "members after several removes", PUSH)
    no_path = ops({"op": "replace", "value": {"members": [{"value": one}]}})
    status(session.send("PATCH", path, no_path, headers=AGENT), 200, 204, consequence=PUSH)
    equal(_group_members(session, path), [one], "members after a no-path replace (Metatavu#100)", PUSH)
    empty = ops({"op": "replace", "path": "members", "value": []})
    status(session.send("PATCH", path, empty, headers=AGENT), 200, 204, consequence=PUSH)
    equal(_group_members(session, path), [], "members after 'Push now' of an empty group (replace [])", PUSH)
    renamed = resource(session.send("GET", path), 200, consequence=OKTA)
    equal(renamed.get("displayName"), f"{name} (renamed)", "displayName after Okta's rename", PUSH)


def group_put(session: Session) -> None:
    """AIW group updates: PUT with id and members, a member's display null (jelhub/scimgateway#95)."""
    one = session.saved["user"]
    body = {"schemas": [GROUP], "displayName": f"Okta AIW group {session.tag}", "members": []}
    group = resource(session.send("POST", "/Groups", body, headers=AGENT), 201, consequence=OKTA)
    path = f"/Groups/{group['id']}"
    session.remember(path)
    put = {**body, "id": group["id"], "members": [{"value": one, "display": None}]}
    status(session.send("PUT", path, put, headers=AGENT), 200, consequence=OKTA)
    equal(_group_members(session, path), [one], "members after the AIW group PUT", OKTA)


def paging(session: Session) -> None:
    """Okta imports with count=1 and count=100 pages, numbers not strings, in a stable order."""
    first = session.send("GET", "/Users?startIndex=1&count=1", headers=AGENT)
    list_response(first, consequence=OKTA)
    body = first.body
    if not (isinstance(body.get("startIndex"), int) and isinstance(body.get("itemsPerPage"), int)):
        raise Failed(
            "startIndex and itemsPerPage are not JSON numbers.",
            "Okta's import fails to page (its OIN tests check the types).",
            "Send startIndex, itemsPerPage and totalResults as integers.",
            exchange=first,
        )


STEPS: list[tuple[str, Step]] = [
    ("Test API credentials (startIndex=1&count=2, and a bad token)", credentials),
    ("userName precheck (%20 and + forms)", precheck),
    ("Create with the enterprise extension and a custom namespace", create),
    ("Lookups: %2B in the userName, by id, an unknown id", lookups),
    ("AIW: PUT update echoing what was read", put_update),
    ("OIN: deactivate and reactivate by PATCH", deactivate_patch),
    ("OIN: password sync by PATCH (no path)", password_sync),
    ("AIW: deactivate and reactivate by PUT", deactivate_put),
    ("OIN group push: rename with id, add, remove+add, replace, []", group_push),
    ("AIW group PUT with members", group_put),
    ("Paging", paging),
]
CRITICAL = {"Create with the enterprise extension and a custom namespace"}
