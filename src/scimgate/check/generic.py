"""Plain RFC 7644, for an IdP not listed: discovery, then the protocol's own examples in order — create, read,
filter, replace, modify (§3.5.2's add, replace and remove with paths), page, delete — on Users and Groups."""

from typing import Any

from scimgate.check.expect import equal, list_response, resource, status
from scimgate.check.runner import GROUP, PATCH_OP, USER, Failed, Session, Step

RFC = "An IdP following RFC 7644 gets the same failure and stops or retries the operation."


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def discovery(session: Session) -> None:
    config = session.send("GET", "/ServiceProviderConfig")
    status(config, 200, consequence=RFC)
    types = list_response(session.send("GET", "/ResourceTypes"), consequence=RFC)
    schemas = list_response(session.send("GET", "/Schemas"), consequence=RFC)
    names = {t.get("name") for t in types}
    if not {"User", "Group"} <= names or not schemas:
        raise Failed(
            f"/ResourceTypes lists {sorted(n for n in names if n)}; /Schemas lists {len(schemas)} schemas.",
            RFC,
            "Advertise the User and Group resource types and their schemas (RFC 7644 §4).",
        )


def users(session: Session) -> None:
    name = f"rfc.{session.tag}@scimgate-check.example"
    body = {"schemas": [USER], "userName": name, "name": {"givenName": "Babs", "familyName": "Jensen"}}
    created = resource(session.send("POST", "/Users", body), 201, consequence=RFC)
    path = f"/Users/{created['id']}"
    session.remember(path)
    session.saved["user"] = created["id"]
    equal(resource(session.send("GET", path), 200, consequence=RFC).get("userName"), name, "userName read back", RFC)
    found = list_response(session.send("GET", f'/Users?filter=userName eq "{name}"'), total=1)
    equal(found[0].get("id"), created["id"], "the user found by its userName", RFC)
    replaced = resource(session.send("PUT", path, {**body, "title": "Tour Guide"}), 200, consequence=RFC)
    equal(replaced.get("title"), "Tour Guide", "title after PUT", RFC)
    modify = ops(
        {"op": "add", "path": "emails", "value": [{"value": name, "type": "work"}]},
        {"op": "replace", "path": "name.givenName", "value": "Barbara"},
        {"op": "remove", "path": "title"},
    )
    modified = resource(session.send("PATCH", path, modify), 200, consequence=RFC)
    equal(modified.get("name", {}).get("givenName"), "Barbara", "name.givenName after PATCH replace", RFC)
    equal("title" in modified, False, "title present after PATCH remove", RFC)


def groups(session: Session) -> None:
    body = {
        "schemas": [GROUP],
        "displayName": f"RFC group {session.tag}",
        "members": [{"value": session.saved["user"]}],
    }
    group = resource(session.send("POST", "/Groups", body), 201, consequence=RFC)
    path = f"/Groups/{group['id']}"
    session.remember(path)
    remove = ops({"op": "remove", "path": f'members[value eq "{session.saved["user"]}"]'})
    status(session.send("PATCH", path, remove), 200, 204, consequence=RFC)
    equal(
        resource(session.send("GET", path), 200, consequence=RFC).get("members") or [], [], "members after remove", RFC
    )


def paging_and_delete(session: Session) -> None:
    page = session.send("GET", "/Users?startIndex=1&count=1")
    list_response(page, consequence=RFC)
    path = f"/Users/{session.saved['user']}"
    status(session.send("DELETE", path), 204, consequence=RFC)
    status(session.send("GET", path), 404, consequence=RFC)


STEPS: list[tuple[str, Step]] = [
    ("Discovery (ServiceProviderConfig, ResourceTypes, Schemas)", discovery),
    ("Users: create, read, filter, replace, modify", users),
    ("Groups: create with a member, remove it by filter", groups),
    ("Paging, delete, then 404", paging_and_delete),
]
CRITICAL = {"Users: create, read, filter, replace, modify"}
