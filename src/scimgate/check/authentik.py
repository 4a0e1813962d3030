"""authentik's SCIM provider (outbound), in its order, from its code: goauthentik/authentik
``authentik/providers/scim/clients/`` (base.py, users.py, groups.py, schema.py; read at 0027271 and d7c971b).

* It reads ``/ServiceProviderConfig`` first and validates it: without ``bulk.maxOperations`` (schema.py) it falls
  back to "no PATCH, no filter" and from then on PUTs groups and never looks anyone up.
* Users: POST (``emails`` of type ``other``, ``photos: []``, ``externalId``); on 409, and only when filters are
  supported, ``GET /Users?filter=userName+eq+%22…%22`` (unquoted before 2025.10: goauthentik/authentik#16455);
  every update and deactivation is a PUT of the whole user with its ``id`` (authentik sends no user PATCH).
* Groups: POST, then always a PATCH adding members one operation per member; updates are a no-path ``replace``
  whose value holds ``schemas``, ``displayName``, ``externalId`` and ``id``, then ``GET /Groups/{id}`` (which must
  list ``members``: authentik diffs them) and add/remove PATCHes.
* Every request carries ``Content-Type: application/scim+json``, GETs and DELETEs included; lists page by
  ``startIndex`` without ``count``.
"""

from typing import Any

from scimgate.check.expect import equal, list_response, resource, status
from scimgate.check.runner import GROUP, PATCH_OP, USER, Failed, Session, Step

AUTHENTIK = "authentik marks the object's sync as failed in the provider's logs and retries it on its next sync."
HEADERS = {"Content-Type": "application/scim+json"}


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def service_provider_config(session: Session) -> None:
    answer = session.send("GET", "/ServiceProviderConfig", headers=HEADERS)
    config = resource_like(answer)
    bulk, patch, filtering = (config.get(key) or {} for key in ("bulk", "patch", "filter"))
    if "maxOperations" not in bulk or patch.get("supported") is not True or filtering.get("supported") is not True:
        raise Failed(
            "ServiceProviderConfig lacks bulk.maxOperations, or does not say patch and filter are supported.",
            "authentik's model of the config fails to validate and it falls back to no PATCH and no filter: groups "
            "are PUT whole and an existing user is never found after a 409 (authentik schema.py, base.py).",
            "Serve /ServiceProviderConfig with patch.supported, filter.supported and bulk.maxOperations.",
            exchange=answer,
        )


def resource_like(answer: Any) -> dict[str, Any]:
    status(answer, 200, consequence=AUTHENTIK)
    if not isinstance(answer.body, dict):
        raise Failed("the answer is not a JSON object.", AUTHENTIK, "Answer JSON.", exchange=answer)
    return answer.body


def discover(session: Session) -> None:
    """authentik's discovery pages by startIndex alone and trusts totalResults."""
    first = session.send("GET", "/Users", headers=HEADERS)
    list_response(first, consequence=AUTHENTIK)
    list_response(session.send("GET", "/Users?startIndex=2", headers=HEADERS), consequence=AUTHENTIK)
    list_response(session.send("GET", "/Groups", headers=HEADERS), consequence=AUTHENTIK)


def _user(session: Session, active: bool = True) -> dict[str, Any]:
    name = f"ak.{session.tag}@scimgate-check.example"
    return {
        "schemas": [USER],
        "userName": name,
        "name": {"formatted": "Ada Check", "givenName": "Ada", "familyName": "Check"},
        "displayName": "Ada Check",
        "photos": [],
        "active": active,
        "emails": [{"value": name, "type": "other", "primary": True}],
        "externalId": f"ak-{session.tag}",
    }


def users(session: Session) -> None:
    body = _user(session)
    created = resource(session.send("POST", "/Users", body, headers=HEADERS), 201, 200, consequence=AUTHENTIK)
    session.saved["user"] = created["id"]
    session.remember(f"/Users/{created['id']}")
    again = session.send("POST", "/Users", body, headers=HEADERS)
    status(again, 409, consequence="authentik cannot tell an existing user from a failure and keeps retrying.")
    encoded = body["userName"].replace("@", "%40")
    for query in (f"userName+eq+%22{encoded}%22", f"userName+eq+{encoded}"):  # quoted now, unquoted before 2025.10
        found = list_response(session.send("GET", f"/Users?filter={query}", headers=HEADERS), total=1)
        equal(found[0].get("id"), created["id"], "the existing user authentik links after a 409", AUTHENTIK)
    path = f"/Users/{created['id']}"
    deactivated = {**_user(session, active=False), "id": created["id"]}
    updated = resource(session.send("PUT", path, deactivated, headers=HEADERS), 200, consequence=AUTHENTIK)
    equal(updated.get("active"), False, "active after authentik's deactivating PUT", AUTHENTIK)


def groups(session: Session) -> None:
    one = session.saved["user"]
    body = {"schemas": [GROUP], "displayName": f"ak group {session.tag}", "externalId": f"akg-{session.tag}"}
    group = resource(session.send("POST", "/Groups", body, headers=HEADERS), 201, 200, consequence=AUTHENTIK)
    path = f"/Groups/{group['id']}"
    session.remember(path)
    status(session.send("PATCH", path, ops({"op": "add", "path": "members", "value": [{"value": one}]})), 200, 204)
    value = {"schemas": [GROUP], "displayName": f"ak group {session.tag} (renamed)", "externalId": body["externalId"]}
    rename = ops({"op": "replace", "value": {**value, "id": group["id"]}})
    status(
        session.send("PATCH", path, rename, headers=HEADERS),
        200,
        204,
        consequence=AUTHENTIK,
        fix="Accept schemas and the group's own id inside a no-path replace value (authentik groups.py).",
    )
    current = resource(session.send("GET", path, headers=HEADERS), 200, consequence=AUTHENTIK)
    members = [member.get("value") for member in current.get("members") or []]
    equal(members, [one], "members of GET /Groups/{id} (authentik diffs them)", AUTHENTIK)
    equal(current.get("displayName"), value["displayName"], "displayName after the rename", AUTHENTIK)
    remove = ops({"op": "remove", "path": "members", "value": [{"value": one}]})
    status(session.send("PATCH", path, remove, headers=HEADERS), 200, 204, consequence=AUTHENTIK)


STEPS: list[tuple[str, Step]] = [
    ("ServiceProviderConfig as authentik validates it", service_provider_config),
    ("Discovery: list and page by startIndex", discover),
    ("Users: create, 409 then lookup, PUT", users),
    ("Groups: create, member PATCH, no-path rename with id", groups),
]
CRITICAL = {"Users: create, 409 then lookup, PUT"}
