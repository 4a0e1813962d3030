"""Email domains per directory (issue 23): declared and verified through the management API with a fake DNS
resolver, and the directory's policy applied to what the IdP writes (off, flag, enforce)."""

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.domains import FakeResolver, client_with
from tests.helpers.scim import Api, Scim, all_events, assert_scim_error, flush, new_directory, patch

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()


@pytest.fixture
def client(resolver: FakeResolver, settings: Settings, database: Database) -> Iterator[TestClient]:
    with client_with(resolver, settings, database) as made:
        yield made


@pytest.fixture
def ops(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def first(client: TestClient, database: Database) -> Scim:
    return Scim(client, *new_directory(database, "Contoso"))


@pytest.fixture
def second(client: TestClient, database: Database) -> Scim:
    return Scim(client, *new_directory(database, "Fabrikam"))


def verified(ops: Api, scim: Scim, domain: str, policy: str) -> None:
    """The directory owns ``domain`` (the operator's word) and has this policy."""
    path = f"/directories/{scim.directory_id}"
    assert ops.post(f"{path}/domains", {"domain": domain}).status_code == 201
    assert ops.post(f"{path}/domains/{domain}/verify", {"operator": True}).json()["verified"] is True
    assert ops.client.put(f"/api/v1{path}/domain-policy", json={"policy": policy}, headers=ops.headers()).is_success


def user(user_name: str, *emails: str) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, "emails": [{"value": e, "type": "work"} for e in emails]}


def user_names(scim: Scim) -> list[str]:
    return [u["userName"] for u in scim.get("/Users").json()["Resources"]]


@pytest.mark.both_backends
def test_a_domain_is_verified_by_its_txt_record_and_removed(ops: Api, first: Scim, resolver: FakeResolver) -> None:
    """Declaring gives the TXT record; verifying before it is published is 409; after, verified by dns; the list
    shows it; deleting removes it. The comparison form is lower case without a trailing dot."""
    path = f"/directories/{first.directory_id}/domains"
    added = ops.post(path, {"domain": "Example.COM."})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["domain"] == "example.com" and body["verified"] is False
    assert body["record_names"] == ["_scimgate.example.com", "example.com"]
    assert body["record_value"].startswith("scimgate-verification=")
    early = ops.post(f"{path}/example.com/verify")
    assert early.status_code == 409 and "_scimgate.example.com" in early.json()["detail"]
    resolver.publish("_scimgate.example.com", body["record_value"])
    done = ops.post(f"{path}/example.com/verify")
    assert done.status_code == 200, done.text
    assert done.json()["verified"] is True and done.json()["verified_by"] == "dns"
    assert [(d["domain"], d["verified"]) for d in ops.get(path).json()] == [("example.com", True)]
    assert ops.delete(f"{path}/example.com").status_code == 204
    assert ops.get(path).json() == []


@pytest.mark.both_backends
def test_a_record_at_the_domain_itself_works_and_the_operator_may_vouch(
    ops: Api, first: Scim, resolver: FakeResolver
) -> None:
    """The record may sit at the domain's apex; the operator may mark a domain verified without DNS."""
    path = f"/directories/{first.directory_id}/domains"
    record = ops.post(path, {"domain": "example.com"}).json()["record_value"]
    resolver.publish("example.com", "v=spf1 -all")
    resolver.publish("example.com", record)
    assert ops.post(f"{path}/example.com/verify").json()["verified_by"] == "dns"
    ops.post(path, {"domain": "example.org"})
    marked = ops.post(f"{path}/example.org/verify", {"operator": True}).json()
    assert marked["verified"] is True and marked["verified_by"] == "operator"
    assert not any(name.endswith("example.org") for name in resolver.asked)


@pytest.mark.parametrize("bad", ["not a domain", "com", "-x.example.com", "a..example.com", "x" * 64 + ".com"])
def test_what_is_no_domain_is_refused(ops: Api, first: Scim, bad: str) -> None:
    """400 with the reason; nothing is declared."""
    path = f"/directories/{first.directory_id}/domains"
    assert ops.post(path, {"domain": bad}).status_code == 400
    assert ops.get(path).json() == []


@pytest.mark.both_backends
def test_enforce_refuses_users_outside_and_stores_nothing(ops: Api, first: Scim, database: Database) -> None:
    """POST, PUT, PATCH and Bulk with an address outside the verified domains get 400 invalidValue naming the
    domain and how to verify it; no user, no change, no event is stored. Subdomains and any case are inside."""
    verified(ops, first, "example.com", "enforce")
    refused = first.post("/Users", user("someone@othercompany.com"))
    body = assert_scim_error(refused, 400, "invalidValue")
    assert "othercompany.com" in body["detail"] and "TXT record" in body["detail"]
    assert_scim_error(first.post("/Users", user("a@example.com", "a@notexample.com")), 400, "invalidValue")
    assert user_names(first) == [] and all_events(database, first.directory_id, ["user.created"]) == []
    inside = first.create_user("b@EU.Example.COM", emails=[{"value": "b@example.com"}])
    put = first.put(f"/Users/{inside['id']}", user("b@eu.example.com", "ceo@othercompany.com"))
    assert_scim_error(put, 400, "invalidValue")
    added = patch(first, f"/Users/{inside['id']}", {"op": "add", "path": "emails", "value": [{"value": "x@evil.test"}]})
    assert_scim_error(added, 400, "invalidValue")
    held = first.get(f"/Users/{inside['id']}").json()
    assert [e["value"] for e in held["emails"]] == ["b@example.com"]
    operation = {"method": "POST", "path": "/Users", "bulkId": "u", "data": user("c@othercompany.com")}
    result = first.post("/Bulk", {"schemas": [BULK], "Operations": [operation]}).json()["Operations"][0]
    assert result["status"] == "400" and "othercompany.com" in result["response"]["detail"]
    assert user_names(first) == ["b@EU.Example.COM"]
    assert [e["type"] for e in all_events(database, first.directory_id)] == ["directory.created", "user.created"]


def test_enforce_still_lets_a_user_held_from_before_be_deactivated(ops: Api, first: Scim) -> None:
    """A user provisioned before enforce can still be updated and deactivated: only a new outside domain is
    refused (blocking a deprovisioning would be the worse failure)."""
    old = first.create_user("old@othercompany.com")
    verified(ops, first, "example.com", "enforce")
    off = patch(first, f"/Users/{old['id']}", {"op": "replace", "path": "active", "value": False})
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False


@pytest.mark.both_backends
def test_flag_accepts_and_marks_in_events_api_and_log(
    ops: Api, first: Scim, client: TestClient, database: Database
) -> None:
    """Under flag, an outside user is created with domain_verified false in its event and the API's normalised
    user, and its log row carries the warning; an inside user is true; with the policy off it is null."""
    first.create_user("before@othercompany.com")
    verified(ops, first, "example.com", "flag")
    outside = first.create_user("x@othercompany.com")
    first.create_user("y@example.com")
    events = all_events(database, first.directory_id, ["user.created"])
    assert [e["data"]["object"]["domain_verified"] for e in events] == [None, False, True]
    listed = {
        u["user_name"]: u["domain_verified"] for u in ops.get(f"/directories/{first.directory_id}/users").json()["data"]
    }
    assert listed == {"before@othercompany.com": False, "x@othercompany.com": False, "y@example.com": True}
    flush(client)
    rows = ops.get("/log", params={"directory_id": first.directory_id}).json()["data"]
    flagged = [r for r in rows if r["reason"] == "domain_not_verified"]
    assert len(flagged) == 1 and outside["id"] in ops.get(f"/log/{flagged[0]['id']}").json()["response_body"]
    row = flagged[0]
    assert row["status"] == 201 and row["reason"] == "domain_not_verified" and "othercompany.com" in row["advice"]


@pytest.mark.both_backends
def test_a_domain_verified_in_one_directory_means_nothing_for_another(
    ops: Api, first: Scim, second: Scim, resolver: FakeResolver
) -> None:
    """The first directory's verified domain does not let the second provision it; the first one's TXT record
    does not verify the second's claim (its token differs); the second cannot verify or remove the first's."""
    record = ops.post(f"/directories/{first.directory_id}/domains", {"domain": "example.com"}).json()["record_value"]
    resolver.publish("_scimgate.example.com", record)
    assert ops.post(f"/directories/{first.directory_id}/domains/example.com/verify").json()["verified"] is True
    assert ops.client.put(
        f"/api/v1/directories/{second.directory_id}/domain-policy", json={"policy": "enforce"}, headers=ops.headers()
    ).is_success
    assert_scim_error(second.post("/Users", user("a@example.com")), 400, "invalidValue")
    assert ops.post(f"/directories/{second.directory_id}/domains/example.com/verify").status_code == 404
    assert ops.delete(f"/directories/{second.directory_id}/domains/example.com").status_code == 404
    ops.post(f"/directories/{second.directory_id}/domains", {"domain": "example.com"})
    assert ops.post(f"/directories/{second.directory_id}/domains/example.com/verify").status_code == 409
    assert [d["verified"] for d in ops.get(f"/directories/{first.directory_id}/domains").json()] == [True]


def test_the_policy_is_read_and_set_and_checked(ops: Api, first: Scim) -> None:
    """GET says off by default; PUT takes off, flag or enforce and nothing else; an unknown directory is 404."""
    path = f"/directories/{first.directory_id}/domain-policy"
    assert ops.get(path).json() == {"policy": "off"}
    assert ops.client.put("/api/v1" + path, json={"policy": "loud"}, headers=ops.headers()).status_code == 422
    assert ops.client.put("/api/v1" + path, json={"policy": "flag"}, headers=ops.headers()).json() == {"policy": "flag"}
    assert ops.get(path).json() == {"policy": "flag"}
    assert ops.get("/directories/dir_nothere/domain-policy").status_code == 404


@pytest.mark.parametrize(
    "address",
    [
        "ceo\uff20othercompany.com",  # a full-width @: NFKC makes it ceo@othercompany.com, as uniqueness reads it
        "ceo\ufe6bothercompany.com",  # a small commercial at, likewise
        "ceo@othercompany.com@x.example.com",  # a consumer taking the first @ reads othercompany.com
        "ceo@othercompany.com#.example.com",
        "ceo@othercompany.com,x@a.example.com",
        "ceo@othercompany.com .example.com",
    ],
)
def test_enforce_reads_addresses_as_names_are_compared(ops: Api, first: Scim, address: str) -> None:
    """What normalises to, or can be split into, an address outside the verified domains is outside: refused as a
    userName and as an email, and never reported as verified."""
    verified(ops, first, "example.com", "enforce")
    assert_scim_error(first.post("/Users", user(address)), 400, "invalidValue")
    assert_scim_error(first.post("/Users", user("ok@example.com", address)), 400, "invalidValue")
    assert user_names(first) == []
