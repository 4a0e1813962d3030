"""Passwords with ``passwords=hash`` (security plan E1–E3): accepted from the IdP in every form it sends them, stored
only as an Argon2id hash, never returned, logged or put in an event; checked through the management API. (The
default, ``passwords=discard``, is tested in test_users: the password is dropped.)"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.scim.passwords import verify_password
from scimgate.store.database import Database
from scimgate.store.tables import events, request_log, users
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Api, Scim, assert_scim_error, flush, new_directory

pytestmark = pytest.mark.both_backends

CANARY = "Canary-7f3a-secret"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def hashing(database: Database) -> Iterator[tuple[Scim, Api]]:
    settings = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False, passwords="hash")
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        directory_id, token = new_directory(database, "Password sync")
        yield Scim(client, directory_id, token), Api(client)


def _hash(database: Database, user_id: str) -> str | None:
    with database.read() as conn:
        stored: str | None = conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id)).scalar_one()
        return stored


def _verify(api: Api, scim: Scim, user_id: str, password: str) -> bool:
    answer = api.post(f"/directories/{scim.directory_id}/users/{user_id}/password/verify", {"password": password})
    assert answer.status_code == 200, answer.text
    valid: bool = answer.json()["valid"]
    return valid


def _patch(scim: Scim, user_id: str, *operations: dict[str, Any]) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return scim.client.patch(f"{scim.base}/Users/{user_id}", json=body, headers=scim.headers())


def test_a_password_is_kept_only_as_an_argon2id_hash(hashing: tuple[Scim, Api], database: Database) -> None:
    scim, api = hashing
    created = scim.create_user("ada@example.com", password=CANARY)
    assert "password" not in created
    assert _hash(database, created["id"]).startswith("$argon2id$")  # type: ignore[union-attr]
    assert _verify(api, scim, created["id"], CANARY)
    assert not _verify(api, scim, created["id"], CANARY + "x")
    assert verify_password(database, scim.directory_id, created["id"], CANARY)
    assert not verify_password(database, "dir_other", created["id"], CANARY)  # another directory's id opens nothing
    # Nowhere in clear: responses, the database (every table), the provisioning log, events.
    assert CANARY not in json.dumps(scim.get(f"/Users/{created['id']}?attributes=password").json())
    assert CANARY not in json.dumps(scim.get("/Users").json())
    flush(scim.client)
    with database.read() as conn:
        for table in (users, events, request_log):
            assert CANARY not in str(conn.execute(sa.select(table)).all()), table.name


def test_the_forms_idps_send_set_keep_and_clear_it(hashing: tuple[Scim, Api], database: Database) -> None:
    scim, api = hashing
    user = scim.create_user("okta@example.com", password="First-password-1")["id"]
    first = _hash(database, user)
    # Okta's profile push: a PUT without a password keeps it (the IdP cannot read it back to resend it).
    assert (
        scim.put(f"/Users/{user}", {"schemas": [USER], "userName": "okta@example.com", "title": "T"}).status_code == 200
    )
    assert _hash(database, user) == first
    # Okta's password sync: a PUT with the password.
    body = {"schemas": [USER], "userName": "okta@example.com", "password": "Second-password-2"}
    assert scim.put(f"/Users/{user}", body).status_code == 200
    assert _verify(api, scim, user, "Second-password-2") and not _verify(api, scim, user, "First-password-1")
    # PATCH with a path, any case, also next to other changes; and without a path.
    answer = _patch(
        scim,
        user,
        {"op": "Replace", "path": "Password", "value": "Third-password-3"},
        {"op": "replace", "path": "title", "value": "Engineer"},
    )
    assert answer.status_code == 200 and "password" not in answer.json() and answer.json()["title"] == "Engineer"
    assert _verify(api, scim, user, "Third-password-3")
    assert _patch(scim, user, {"op": "replace", "value": {"password": "Fourth-password-4"}}).status_code == 200
    assert _verify(api, scim, user, "Fourth-password-4")
    assert _patch(scim, user, {"op": "remove", "path": "password"}).status_code == 200
    assert _hash(database, user) is None and not _verify(api, scim, user, "Fourth-password-4")


def test_a_password_outside_the_policy_is_400_unquoted_and_nothing_is_stored(hashing: tuple[Scim, Api]) -> None:
    scim, _api = hashing
    for password in ["short", "x" * 1025, 12345678]:
        body = {"schemas": [USER], "userName": "weak@example.com", "password": password}
        error = assert_scim_error(scim.post("/Users", body), 400, "invalidValue")
        assert str(password)[:8] not in error["detail"]
    assert scim.get("/Users").json()["totalResults"] == 0
    user = scim.create_user("kept@example.com", password="Good-password-1")["id"]
    assert_scim_error(_patch(scim, user, {"op": "replace", "path": "password", "value": "short"}), 400, "invalidValue")


def test_an_inactive_user_or_an_unknown_one_does_not_verify(hashing: tuple[Scim, Api]) -> None:
    scim, api = hashing
    user = scim.create_user("leaver@example.com", password=CANARY)["id"]
    assert _patch(scim, user, {"op": "replace", "path": "active", "value": "False"}).status_code == 200
    assert not _verify(api, scim, user, CANARY)
    missing = api.post(f"/directories/{scim.directory_id}/users/usr_missing/password/verify", {"password": CANARY})
    assert missing.status_code == 404


def test_a_strict_directory_takes_the_password_too(hashing: tuple[Scim, Api], database: Database) -> None:
    """password is not advertised in /Schemas; it is taken out before a strict directory's checks run."""
    scim, api = hashing
    assert api.patch(f"/directories/{scim.directory_id}", {"strict": True}).status_code == 200
    user = scim.create_user("strict@example.com", password=CANARY)["id"]
    assert _patch(scim, user, {"op": "replace", "path": "password", "value": "Other-password-2"}).status_code == 200
    assert _verify(api, scim, user, "Other-password-2")
    # Strict rules still hold for a PATCH that only changes the password: the PatchOp schema, lower-case ops.
    for body in (
        {"Operations": [{"op": "replace", "path": "password", "value": "Third-password-3"}]},
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "password", "value": "Third-password-3"}]},
    ):
        answer = scim.client.patch(f"{scim.base}/Users/{user}", json=body, headers=scim.headers())
        assert_scim_error(answer, 400, "invalidSyntax")
    assert _verify(api, scim, user, "Other-password-2")


def test_discarding_says_so_and_stores_nothing(scim: Scim, api: Api, database: Database) -> None:
    """The default: passwords are dropped; verifying one is a 409 that says how to keep them; changePassword is
    advertised as unsupported (and as supported with passwords=hash)."""
    user = scim.create_user("sso@example.com", password=CANARY)["id"]
    assert _hash(database, user) is None
    answer = api.post(f"/directories/{scim.directory_id}/users/{user}/password/verify", {"password": CANARY})
    assert answer.status_code == 409 and "passwords=hash" in answer.json()["detail"]
    assert scim.get("/ServiceProviderConfig").json()["changePassword"] == {"supported": False}


def test_hashing_is_advertised(hashing: tuple[Scim, Api]) -> None:
    scim, _api = hashing
    assert scim.get("/ServiceProviderConfig").json()["changePassword"] == {"supported": True}


def test_odd_but_valid_forms_are_taken_and_only_the_last_is_hashed(
    hashing: tuple[Scim, Api], database: Database
) -> None:
    """Keys in any case and an empty path, as the PATCH engine reads them; several password operations: the last
    one wins (and is the only one hashed); an unknown op is the engine's 400, with nothing stored."""
    scim, api = hashing
    user = scim.create_user("forms@example.com", password="First-password-1")["id"]
    body = {"operations": [{"OP": "replace", "Path": "password", "Value": "Second-password-2"}]}
    assert scim.client.patch(f"{scim.base}/Users/{user}", json=body, headers=scim.headers()).status_code == 200
    assert _verify(api, scim, user, "Second-password-2")
    assert _patch(scim, user, {"op": "add", "path": "", "value": {"password": "Third-password-3"}}).status_code == 200
    assert _verify(api, scim, user, "Third-password-3")
    many = [{"op": "replace", "path": "password", "value": f"Password-number-{i}"} for i in range(50)]
    assert _patch(scim, user, *many).status_code == 200
    assert _verify(api, scim, user, "Password-number-49")
    bogus = {"op": "bogus", "path": "password", "value": "Fourth-password-4"}
    assert_scim_error(_patch(scim, user, bogus), 400, "invalidSyntax")
    assert _verify(api, scim, user, "Password-number-49")
    duplicated = {"schemas": [USER], "userName": "dup@example.com", "password": "Aaaaaaaa-1", "Password": "Bbbbbbb-2"}
    assert_scim_error(scim.post("/Users", duplicated), 400, "invalidSyntax")


def test_a_list_value_is_refused_without_quoting_the_password(hashing: tuple[Scim, Api], database: Database) -> None:
    scim, _api = hashing
    user = scim.create_user("listed@example.com")["id"]
    error = assert_scim_error(
        _patch(scim, user, {"op": "replace", "value": [{"password": CANARY}]}), 400, "invalidValue"
    )
    assert CANARY not in error["detail"]
    flush(scim.client)
    with database.read() as conn:
        assert CANARY not in str(conn.execute(sa.select(request_log)).all())


def test_discard_mode_takes_a_password_only_patch_and_forgets_old_hashes(
    hashing: tuple[Scim, Api], database: Database
) -> None:
    """A PATCH that only sends a password is 200 with passwords=discard too; and a hash kept while passwords was
    hash is cleared when a new password arrives under discard, so switching back never revives an old one."""
    scim, _api = hashing
    user = scim.create_user("switch@example.com", password="Old-password-1")["id"]
    assert _hash(database, user) is not None
    settings = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False)
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        discarding = Scim(client, scim.directory_id, scim.token)
        assert (
            _patch(discarding, user, {"op": "replace", "path": "password", "value": "New-password-2"}).status_code
            == 200
        )
        assert _patch(discarding, user, {"op": "replace", "value": {"password": "New-password-3"}}).status_code == 200
    assert _hash(database, user) is None


def test_a_password_change_is_announced_without_the_password(hashing: tuple[Scim, Api], database: Database) -> None:
    """An application with its own password sign-in must end sessions when the IdP resets a password: a PATCH or
    PUT that changes it emits user.updated with "password" in changed (and never the password or its hash)."""
    scim, _api = hashing
    user = scim.create_user("reset@example.com", password="First-password-1")["id"]
    before = scim.get(f"/Users/{user}")
    assert _patch(scim, user, {"op": "replace", "path": "password", "value": CANARY}).status_code == 200
    after = scim.get(f"/Users/{user}")
    assert after.headers["etag"] == before.headers["etag"]  # not part of the resource: its version stays
    with database.read() as conn:
        rows = conn.execute(
            sa.select(events.c.type, events.c.data).where(events.c.directory_id == scim.directory_id)
        ).all()
    updates = [row.data["changed"] for row in rows if row.type == "user.updated"]
    assert updates == [["password"]]
    assert CANARY not in str(rows) and "$argon2" not in str(rows)
