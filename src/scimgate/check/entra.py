"""Microsoft Entra ID's provisioning cycle, in its order (docs of Entra's provisioning service; the shapes come
from what the service really sends, with and without the ``aadOptscim062020`` flag)."""

import time
import uuid
from typing import Any

from scimgate.check.expect import COMPLIANCE, ESCROW, INCOMPATIBLE, equal, list_response, resource, scim_json, status
from scimgate.check.runner import ENTERPRISE, GROUP, PATCH_OP, USER, Failed, Session, Step

WITHOUT_FLAG = "Entra without aadOptscim062020 (the default, and every on-demand run)"


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _user_body(session: Session, name: str) -> dict[str, Any]:
    user_name = f"{name}.{session.tag}@scimgate-check.example"
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": f"{name}-{session.tag}",
        "userName": user_name,
        "active": True,
        "displayName": f"{name.title()} Check",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{name.title()} Check", "familyName": "Check", "givenName": name.title()},
        "roles": [],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Provisioning"},
    }


def _read_user(session: Session) -> dict[str, Any]:
    return resource(session.send("GET", f"/Users/{session.saved['user']}"), 200)


def test_connection(session: Session) -> None:
    found = session.send("GET", f'/Users?filter=userName eq "{uuid.uuid4()}"')
    list_response(found, total=0)
    groups = session.send("GET", f'/Groups?excludedAttributes=members&filter=displayName eq "{uuid.uuid4()}"')
    list_response(groups, total=0)


def create_users(session: Session) -> None:
    for key in ("manager", "user"):
        body = _user_body(session, key)
        created = resource(session.send("POST", "/Users", body), 201)
        session.saved[key] = created["id"]
        session.saved[f"{key}_name"] = body["userName"]
        session.remember(f"/Users/{created['id']}")
        equal(created.get("userName"), body["userName"], "userName after create")
        equal(created.get(ENTERPRISE, {}).get("department"), "Provisioning", "the enterprise department after create")


def match(session: Session) -> None:
    user_name, user_id = session.saved["user_name"], session.saved["user"]
    for query in (
        f'userName eq "{user_name}"',
        f'userName eq "{user_name.upper()}"',  # userName is case-insensitive (caseExact false)
        f'externalId eq "user-{session.tag}"',
    ):
        found = list_response(session.send("GET", f"/Users?filter={query}"), total=1)
        equal(found[0].get("id"), user_id, f"the user found by {query}", consequence=COMPLIANCE)


def duplicate(session: Session) -> None:
    again = session.send("POST", "/Users", _user_body(session, "user"))
    if again.status in (200, 201) and isinstance(again.body, dict) and again.body.get("id"):
        session.remember(f"/Users/{again.body['id']}")
    status(
        again,
        409,
        consequence="Entra expects 409 (EntryConflict) for a userName that exists, then matches the existing user; a "
        "second account for the same person is created otherwise.",
        fix="Enforce userName uniqueness (case-insensitively) and answer 409 with scimType uniqueness.",
    )
    scim_json(again)


def _patch_user(session: Session, body: dict[str, Any]) -> None:
    status(
        session.send("PATCH", f"/Users/{session.saved['user']}", body),
        200,
        204,
        fix="Accept every PATCH form Entra sends: ops in any case, string booleans, filtered paths, "
        "no-path values with dotted keys, enterprise attributes with a colon path.",
    )


def patch_default(session: Session) -> None:
    """The PATCH forms of Entra without the flag: capitalised ops, one op per path, filtered paths."""
    work = f"work.{session.tag}@scimgate-check.example"
    _patch_user(
        session,
        ops(
            {"op": "Replace", "path": "displayName", "value": "Renamed Check"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": work},
            {"op": "Replace", "path": "name.givenName", "value": "Renamed"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Identity"},
            {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
        ),
    )
    _patch_user(session, ops({"op": "Add", "path": "nickName", "value": "Babs"}))  # P2: a previously empty one
    role = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"Reader","displayName":"Reader"}'
    _patch_user(session, ops({"op": "Add", "path": "roles", "value": [{"value": role}]}))  # P11: JSON in a string
    user = _read_user(session)
    equal(user.get("displayName"), "Renamed Check", f"displayName after Replace ({WITHOUT_FLAG})")
    equal(user.get("nickName"), "Babs", "nickName added where there was none")
    equal([e.get("value") for e in user.get("emails", []) if e.get("type") == "work"], [work], "the work email")
    equal(user.get(ENTERPRISE, {}).get("department"), "Identity", "the enterprise department")
    equal(
        [p.get("value") for p in user.get("phoneNumbers", [])],
        ["+1 555 0100"],
        "a phone created by a filter",
        fix='Add/Replace on phoneNumbers[type eq "mobile"].value with no mobile phone creates it (Entra and its '
        "validator expect this where RFC 7644 says noTarget).",
    )


def patch_flag(session: Session) -> None:
    """The PATCH forms of Entra with aadOptscim062020: lower-case ops, one no-path op with dotted keys."""
    _patch_user(
        session,
        ops(
            {
                "op": "replace",
                "value": {
                    "displayName": "Flag Check",
                    "name.familyName": "Flagged",
                    f"{ENTERPRISE}:employeeNumber": "42",
                },
            }
        ),
    )
    user = _read_user(session)
    equal(user.get("name", {}).get("familyName"), "Flagged", "name.familyName from a no-path op with dotted keys")
    equal(user.get(ENTERPRISE, {}).get("employeeNumber"), "42", "employeeNumber from a URN key")


def manager(session: Session) -> None:
    """Set, change and remove the manager, as Microsoft's own validation does; read it back as a complex value."""
    path = f"{ENTERPRISE}:manager"
    _patch_user(session, ops({"op": "Add", "path": path, "value": session.saved["manager"]}))
    got = _read_user(session).get(ENTERPRISE, {}).get("manager")
    if not isinstance(got, dict) or got.get("value") != session.saved["manager"]:
        raise Failed(
            f"the manager reads back as {got!r}, not an object with value = the manager's id.",
            INCOMPATIBLE,
            'Return manager as {"value": id, "$ref": …, "displayName": …}, never a string.',
        )
    _patch_user(session, ops({"op": "Replace", "path": "manager", "value": [{"value": session.saved["user"]}]}))
    changed = _read_user(session).get(ENTERPRISE, {}).get("manager") or {}
    equal(changed.get("value"), session.saved["user"], "the manager after a change (array form, unqualified path)")
    _patch_user(session, ops({"op": "Replace", "path": path, "value": ""}))
    equal(_read_user(session).get(ENTERPRISE, {}).get("manager"), None, "the manager after removal (empty value)")


def disable_enable(session: Session) -> None:
    leavers = "Disabling fails: people who left keep access, and each failure counts toward quarantine."
    fix = 'Accept "True"/"False" strings for booleans (Entra without the flag) as well as booleans.'
    for value, expected in (("False", False), ("True", True), (False, False), (True, True)):
        form = "a string" if isinstance(value, str) else "a boolean"
        body = ops({"op": "Replace" if isinstance(value, str) else "replace", "path": "active", "value": value})
        answer = session.send("PATCH", f"/Users/{session.saved['user']}", body)
        status(answer, 200, 204, consequence=leavers if not expected else ESCROW, fix=fix)
        equal(
            _read_user(session).get("active"),
            expected,
            f"active after {value!r} ({form})",
            consequence=leavers if not expected else ESCROW,
            fix=fix,
        )


def groups(session: Session) -> None:
    name = f"Check group {session.tag}"
    found = session.send("GET", f'/Groups?excludedAttributes=members&filter=displayName eq "{name}"')
    list_response(found, total=0)
    body = {
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": f"group-{session.tag}",
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }
    group = resource(session.send("POST", "/Groups", body), 201)
    session.saved["group"] = group["id"]
    session.remember(f"/Groups/{group['id']}")
    _members_without_members(session, name)


def _members_without_members(session: Session, name: str) -> None:
    group_id = session.saved["group"]
    for path in (
        f'/Groups?excludedAttributes=members&filter=displayName eq "{name}"',
        f"/Groups/{group_id}?excludedAttributes=members",
    ):
        answer = session.send("GET", path)
        found = list_response(answer, total=1) if "filter" in path else [resource(answer, 200)]
        if found[0].get("members"):
            raise Failed(
                f"GET {path} returned members despite excludedAttributes=members.",
                "Entra reads every group without its members; answering with them makes large groups slow "
                "and fails with SystemForCrossDomainIdentityManagementMultipleEntriesInResponse.",
                "Honour excludedAttributes=members on /Groups?filter=… and /Groups/{id}.",
            )


def _members(session: Session) -> list[str]:
    got = resource(session.send("GET", f"/Groups/{session.saved['group']}"), 200)
    return sorted(member.get("value") for member in got.get("members") or [])


def memberships(session: Session) -> None:
    group = f"/Groups/{session.saved['group']}"
    user, manager_id = session.saved["user"], session.saved["manager"]
    add_one = ops({"op": "Add", "path": "members", "value": [{"$ref": None, "value": user}]})
    status(session.send("PATCH", group, add_one), 200, 204)
    status(
        session.send("PATCH", group, add_one),
        200,
        204,
        fix="Adding a member that is already there changes nothing and succeeds.",
    )
    both = ops({"op": "Add", "path": "members", "value": [{"value": user}, {"value": manager_id}]})
    status(session.send("PATCH", group, both), 200, 204)
    equal(_members(session), sorted([user, manager_id]), "members after adding one, the same again, then two")
    remove = ops({"op": "Remove", "path": "members", "value": [{"value": manager_id}]})
    status(session.send("PATCH", group, remove), 200, 204)
    equal(
        _members(session),
        [user],
        f"members after removing one by a value array ({WITHOUT_FLAG})",
        consequence="Removing one member removed others: every membership removal Entra sends this way empties "
        "the group, and its other members lose access.",
        fix="A remove of members with a value array removes only those members.",
    )
    flagged = ops({"op": "remove", "path": f'members[value eq "{user}"]'})
    status(session.send("PATCH", group, flagged), 200, 204)
    equal(_members(session), [], "members after a remove by filter (aadOptscim062020)")
    status(session.send("PATCH", group, both), 200, 204)
    remove_both = ops({"op": "Remove", "path": "members", "value": [{"value": user}, {"value": manager_id}]})
    status(session.send("PATCH", group, remove_both), 200, 204)
    equal(_members(session), [], "members after removing two at once")
    rename = ops({"op": "Replace", "path": "displayName", "value": f"Renamed group {session.tag}"})
    status(session.send("PATCH", group, rename), 200, 204)
    equal(
        resource(session.send("GET", group), 200).get("displayName"), f"Renamed group {session.tag}", "the group name"
    )


def pagination(session: Session) -> None:
    pages = [list_response(session.send("GET", f"/Users?startIndex={i}&count=1"), consequence=ESCROW) for i in (1, 2)]
    first, second = (session.exchanges[-2].body, session.exchanges[-1].body)
    equal((first.get("startIndex"), second.get("startIndex")), (1, 2), "startIndex of pages 1 and 2")
    equal([len(page) for page in pages], [1, 1], "resources per page with count=1")
    if pages[0][0].get("id") == pages[1][0].get("id"):
        raise Failed("pages 1 and 2 returned the same user.", ESCROW, "Page by startIndex (1-based) and count.")


def content_types(session: Session) -> None:
    """Requests in application/json are accepted too; answers are application/scim+json."""
    body = ops({"op": "replace", "path": "title", "value": "Checked"})
    answer = session.send("PATCH", f"/Users/{session.saved['user']}", body, content_type="application/json")
    status(answer, 200, 204, fix="Accept application/json request bodies as well as application/scim+json.")
    scim_json(session.send("GET", f"/Users/{session.saved['user']}"))


def burst(session: Session) -> None:
    """A few seconds at Entra's gallery requirement: 25 requests a second, every one answered."""
    slow = []
    for second in range(2):
        started = time.monotonic()
        for _ in range(25):
            sent = time.monotonic()
            answer = session.send("GET", f'/Users?filter=userName eq "{session.saved["user_name"]}"')
            if answer.status != 200:
                status(
                    answer,
                    200,
                    consequence="Entra retries 429s and 5xx on its next cycle; sustained 429s have "
                    "put jobs in quarantine.",
                    fix="Serve at least 25 requests a second per directory.",
                )
            slow.append(time.monotonic() - sent)
        time.sleep(max(0.0, 1 - (time.monotonic() - started)))
        del second
    session.exchanges = session.exchanges[-2:]  # keep the report short
    if sorted(slow)[int(len(slow) * 0.95)] > 2.0:
        raise Failed(
            "the 95th percentile of 50 lookups took over 2 s.",
            "Entra logs slow answers as Timeout and retries them next cycle.",
            "Make userName lookups fast (an index on the key).",
        )


def delete(session: Session) -> None:
    user = f"/Users/{session.saved['user']}"
    status(session.send("DELETE", user), 204, 200)
    status(
        session.send("GET", user),
        404,
        fix="After DELETE, the user is gone: GET answers 404 and filters find nothing (RFC 7644 §3.6).",
    )
    list_response(session.send("GET", f'/Users?filter=userName eq "{session.saved["user_name"]}"'), total=0)


STEPS: list[tuple[str, Step]] = [
    ("Test Connection: userName lookup of a random id, and a group lookup", test_connection),
    ("Create users with the enterprise extension", create_users),
    ("Match by userName (any case) and externalId", match),
    ("Duplicate create is a 409", duplicate),
    ("PATCH without aadOptscim062020 (Replace, Add, filtered paths, create-on-absent, roles, P13)", patch_default),
    ("PATCH with aadOptscim062020 (no-path op, dotted keys)", patch_flag),
    ("Manager: set, change, remove", manager),
    ('Disable and re-enable with "False"/"True" and false/true', disable_enable),
    ("Groups matched by displayName, created, read without members", groups),
    ("Members added and removed one and several at a time, both ways; group renamed", memberships),
    ("Pagination with startIndex and count", pagination),
    ("Content types", content_types),
    ("A burst at 25 requests a second", burst),
    ("Delete, and the reads after it", delete),
]
CRITICAL = {STEPS[1][0]}
