"""OneLogin's "SCIM Provisioner with SAML (SCIM v2 Enterprise)" connector, in its order.

OneLogin publishes no wire trace; the requests are those its admins logged (goauthentik/authentik#11249, 2024:
``GET /Users?filter=userName+eq+%22…%22&``, ``PUT /Users/{id}?``, ``PATCH /Groups/{id}?`` with an empty
User-Agent) and the body OneLogin's own SCIM v2 Enterprise template renders (developers.onelogin.com/scim/
define-user-schema): its schemas are ``urn:scim:schemas:core:2.0`` and ``urn:scim:schemas:extension:enterprise:2.0``,
and ``emails`` is one object, not an array (django-scim2's adapter notes "OneLogin sends a dict despite the spec").
Updates are PUTs; deprovisioning is the admin's choice of DELETE or a PUT with ``active: false``
(developers.onelogin.com/scim/test-your-scim). Groups come from OneLogin roles.
"""

from typing import Any

from scimgate.check.expect import equal, list_response, resource, status
from scimgate.check.runner import PATCH_OP, Session, Step

ONELOGIN = "OneLogin shows the provisioning task as failed in the user's Provisioning tab; an admin must retry it."
CORE, ENTERPRISE = "urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"
EMPTY_AGENT = {"User-Agent": ""}


def _user(session: Session, title: str, active: bool = True) -> dict[str, Any]:
    name = f"onelogin.{session.tag}@scimgate-check.example"
    return {
        "schemas": [CORE, ENTERPRISE],
        "userName": name,
        "name": {"givenName": "Olga", "familyName": "Check"},
        "emails": {"value": name, "type": "work", "primary": True},
        "title": title,
        "active": active,
        ENTERPRISE: {"department": "Provisioning"},
    }


def lookup(session: Session) -> None:
    name = f"onelogin.{session.tag}%40scimgate-check.example"
    list_response(session.send("GET", f"/Users?filter=userName+eq+%22{name}%22&", headers=EMPTY_AGENT), total=0)


def create(session: Session) -> None:
    created = resource(
        session.send("POST", "/Users", _user(session, "Analyst"), headers=EMPTY_AGENT), 201, 200, consequence=ONELOGIN
    )
    session.saved["user"] = created["id"]
    session.remember(f"/Users/{created['id']}")
    emails = created.get("emails")
    equal(
        [e.get("value") for e in emails] if isinstance(emails, list) else emails,
        [_user(session, "")["userName"]],
        "emails after create (OneLogin sends one email object)",
        ONELOGIN,
        fix="Accept a single object where a multi-valued attribute is expected, as one value.",
    )


def update(session: Session) -> None:
    path = f"/Users/{session.saved['user']}?"
    updated = resource(
        session.send("PUT", path, _user(session, "Lead"), headers=EMPTY_AGENT), 200, consequence=ONELOGIN
    )
    equal(updated.get("title"), "Lead", "title after OneLogin's PUT", ONELOGIN)
    suspended = resource(
        session.send("PUT", path, _user(session, "Lead", active=False), headers=EMPTY_AGENT), 200, consequence=ONELOGIN
    )
    equal(suspended.get("active"), False, "active after OneLogin's suspend (PUT active false)", ONELOGIN)


def group_from_role(session: Session) -> None:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"Role {session.tag}"}
    group = resource(session.send("POST", "/Groups", body, headers=EMPTY_AGENT), 201, 200, consequence=ONELOGIN)
    session.remember(f"/Groups/{group['id']}")
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": session.saved["user"]}]}],
    }
    status(session.send("PATCH", f"/Groups/{group['id']}?", add, headers=EMPTY_AGENT), 200, 204, consequence=ONELOGIN)


STEPS: list[tuple[str, Step]] = [
    ("Lookup by userName (+ form, trailing &)", lookup),
    ("Create (OneLogin's URNs, emails as one object)", create),
    ("Update and suspend by PUT", update),
    ("Group from a role, member PATCH", group_from_role),
]
CRITICAL = {"Create (OneLogin's URNs, emails as one object)"}
