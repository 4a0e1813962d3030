"""Okta's provisioning, in its order: test API credentials, the userName precheck, create, PUT updates,
deactivation, and group push (Okta's OIN SCIM 2.0 tests follow the same requests)."""

import uuid
from typing import Any

from scimgate.check.expect import COMPLIANCE, equal, list_response, resource, status
from scimgate.check.runner import GROUP, PATCH_OP, USER, Session, Step

OKTA = "Okta's job fails the operation and shows it in the app's provisioning errors; it does not retry on its own."


def credentials(session: Session) -> None:
    list_response(session.send("GET", "/Users?startIndex=1&count=2"), consequence=OKTA)


def precheck(session: Session) -> None:
    session.saved["user_name"] = f"okta.{session.tag}@scimgate-check.example"
    list_response(
        session.send("GET", f'/Users?filter=userName eq "{session.saved["user_name"]}"&startIndex=1&count=100'),
        total=0,
        consequence=COMPLIANCE,
    )


def _user(session: Session, given: str) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": session.saved["user_name"],
        "name": {"givenName": given, "familyName": "Check"},
        "emails": [{"primary": True, "value": session.saved["user_name"], "type": "work"}],
        "displayName": f"{given} Check",
        "locale": "en-US",
        "externalId": f"okta-{session.tag}",
        "groups": [],
        "password": f"Pw-{uuid.uuid4()}",
        "active": True,
    }


def create(session: Session) -> None:
    created = resource(session.send("POST", "/Users", _user(session, "Olivia")), 201)
    session.saved["user"] = created["id"]
    session.remember(f"/Users/{created['id']}")
    if "password" in created:
        equal(
            "returned",
            "never returned",
            "the password in the response",
            fix="Never return passwords (RFC 7643 §4.1.1: returned never).",
        )


def put_update(session: Session) -> None:
    path = f"/Users/{session.saved['user']}"
    current = resource(session.send("GET", path), 200)
    body = {**_user(session, "Olive"), "id": current["id"]}
    body.pop("password")
    updated = resource(session.send("PUT", path, body), 200)
    equal(updated.get("name", {}).get("givenName"), "Olive", "name.givenName after PUT", consequence=OKTA)
    equal(updated.get("active"), True, "active after a PUT", consequence=OKTA)


def deactivate(session: Session) -> None:
    path = f"/Users/{session.saved['user']}"
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    status(session.send("PATCH", path, body), 200, 204, consequence=OKTA)
    equal(
        resource(session.send("GET", path), 200).get("active"),
        False,
        "active after Okta's deactivation",
        consequence="Deactivation fails: the person keeps access in the application.",
    )


def group_push(session: Session) -> None:
    body = {
        "schemas": [GROUP],
        "displayName": f"Okta group {session.tag}",
        "members": [{"value": session.saved["user"]}],
    }
    group = resource(session.send("POST", "/Groups", body), 201)
    path = f"/Groups/{group['id']}"
    session.remember(path)
    renamed = {
        "schemas": [GROUP],
        "id": group["id"],
        "displayName": f"Okta group {session.tag} (renamed)",
        "members": [{"value": session.saved["user"]}],
    }
    status(session.send("PUT", path, renamed), 200, consequence=OKTA)
    remove = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{session.saved["user"]}"]'}],
    }
    status(session.send("PATCH", path, remove), 200, 204, consequence=OKTA)
    equal(resource(session.send("GET", path), 200).get("members") or [], [], "members after removal", consequence=OKTA)


STEPS: list[tuple[str, Step]] = [
    ("Test API credentials (startIndex=1&count=2)", credentials),
    ("userName precheck", precheck),
    ("Create", create),
    ("PUT update", put_update),
    ("Deactivate", deactivate),
    ("Group push", group_push),
]
CRITICAL = {"Create"}
