"""No token, no access: every SCIM URL of a directory needs a bearer token of that directory."""

import base64
import time
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.auth import bearer_token
from scimgate.store.database import Database
from scimgate.store.tables import tokens
from tests.helpers.scim import Scim, assert_scim_error, new_directory

PATHS = [
    "/Users",
    "/Users/usr_x",
    "/Groups",
    "/Groups/grp_x",
    "/ServiceProviderConfig",
    "/Schemas",
    "/ResourceTypes",
    "/Nope",
]


def assert_refused(response: object) -> None:
    body = assert_scim_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    assert "scimgate_" not in body["detail"]


@pytest.mark.parametrize("path", PATHS)
def test_no_header_is_401_on_every_route(scim: Scim, path: str) -> None:
    """Authentication runs before routing: even an unknown path says 401, not 404."""
    assert_refused(scim.client.get(scim.base + path))


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Bearer  ", 'Bearer ""', "Basic dXNlcjpwYXNz", "Token abc", "bearer"],
)
def test_empty_or_malformed_headers_are_401(scim: Scim, header: str) -> None:
    """Empty tokens and other schemes never authenticate."""
    assert_refused(scim.client.get(scim.base + "/Users", headers={"Authorization": header}))


def test_the_valid_token_under_another_scheme_is_401(scim: Scim) -> None:
    """Security plan A6: this directory's own token, sent as ``Token <tok>`` or as HTTP Basic credentials
    (``base64(token:)``, and the other way round), never authenticates; only ``Bearer`` does, in any case."""
    token = scim.token
    for header in (
        f"Token {token}",
        f"Basic {base64.b64encode(f'{token}:'.encode()).decode()}",
        f"Basic {base64.b64encode(f':{token}'.encode()).decode()}",
        f"Basic {token}",
        f"{token}",
        f"Bearer{token}",
        f"OAuth {token}",
    ):
        assert_refused(scim.client.get(scim.base + "/Users", headers={"Authorization": header}))
    assert scim.client.get(scim.base + "/Users", headers={"Authorization": f"BEARER {token}"}).status_code == 200


def test_wrong_token_variants_are_401(scim: Scim) -> None:
    """A token with one character changed, cut short, or with a newline appended is refused."""
    flipped = scim.token[:-1] + ("A" if scim.token[-1] != "A" else "B")
    for token in (flipped, scim.token[:-3], scim.token + "\n", scim.token + "x"):
        assert_refused(scim.client.get(scim.base + "/Users", headers={"Authorization": f"Bearer {token}"}))


def test_scheme_is_case_insensitive(scim: Scim) -> None:
    """RFC 7235: the auth scheme is case-insensitive."""
    response = scim.client.get(scim.base + "/Users", headers={"Authorization": f"bearer {scim.token}"})
    assert response.status_code == 200


def test_token_of_another_directory_is_refused_like_a_wrong_token(scim: Scim, other_scim: Scim) -> None:
    """A valid token on another directory's URL gets exactly the same 401 as a wrong token."""
    cross = scim.client.get(other_scim.base + "/Users", headers=scim.headers())
    wrong = scim.client.get(other_scim.base + "/Users", headers={"Authorization": "Bearer scimgate_wrong"})
    assert_refused(cross)
    assert cross.json() == wrong.json()


def test_a_remembered_token_still_opens_only_its_own_directory(scim: Scim, other_scim: Scim) -> None:
    """The token cache keeps which directory a token opens: once accepted, it is still refused elsewhere."""
    assert scim.get("/Users").status_code == 200  # accepted, so this worker now remembers it
    assert_refused(scim.client.get(other_scim.base + "/Users", headers=scim.headers()))
    assert_refused(scim.client.get(other_scim.base + "/Groups/grp_x", headers=scim.headers()))


def test_unknown_directory_is_refused_like_a_wrong_token(scim: Scim) -> None:
    """A directory id that does not exist is a 401, so responses never reveal which directories exist."""
    assert_refused(scim.client.get("/scim/v2/dir_unknown/Users", headers=scim.headers()))


def test_token_in_query_string_is_not_accepted(scim: Scim) -> None:
    """Tokens belong in the Authorization header, never in the URL (RFC 6750 §5.3)."""
    for name in ("access_token", "token"):
        assert_refused(scim.client.get(f"{scim.base}/Users?{name}={scim.token}"))


def test_token_in_form_body_is_not_accepted(scim: Scim) -> None:
    """A token in a form body instead of the header is refused."""
    response = scim.client.post(
        scim.base + "/Users",
        content=f"access_token={scim.token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_refused(response)


def test_other_directory_data_is_invisible(scim: Scim, other_scim: Scim) -> None:
    """With its own token, a directory sees none of another directory's users, by id or by filter."""
    theirs = other_scim.create_user("theirs@example.com")
    group = other_scim.create_group("Theirs")
    assert scim.get(f"/Users/{theirs['id']}").status_code == 404
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert scim.delete(f"/Users/{theirs['id']}").status_code == 404
    assert scim.put(f"/Users/{theirs['id']}", {"userName": "hijack@example.com"}).status_code == 404
    assert scim.get('/Users?filter=userName eq "theirs@example.com"').json()["totalResults"] == 0
    assert other_scim.get(f"/Users/{theirs['id']}").json()["userName"] == "theirs@example.com"


def test_fresh_install_without_tokens_lets_nobody_in(database: Database, app_client: object) -> None:
    """A directory that has no token cannot be opened by anything."""
    with database.write() as conn:
        from scimgate.directories.service import create_directory

        directory = create_directory(conn, "No tokens")
    for header in ("Bearer ", "Bearer scimgate_", "Bearer null", "Bearer undefined"):
        assert_refused(app_client.get(f"/scim/v2/{directory.id}/Users", headers={"Authorization": header}))  # type: ignore[attr-defined]


def revoke_tokens(database: Database, directory_id: str) -> None:
    with database.write() as conn:
        conn.execute(tokens.update().where(tokens.c.directory_id == directory_id).values(revoked_at=datetime.now(UTC)))


def test_revoked_token_is_refused(database: Database, scim: Scim) -> None:
    """A revoked token stops working."""
    directory_id, token = new_directory(database, "Revoked")
    revoke_tokens(database, directory_id)
    assert_refused(scim.client.get(f"/scim/v2/{directory_id}/Users", headers={"Authorization": f"Bearer {token}"}))


def test_a_revoked_token_stops_working_within_the_cache_window(database: Database) -> None:
    """A worker remembers an accepted token for token_cache_seconds, then asks the database again."""
    directory_id, token = new_directory(database, "Cached")
    url, headers = f"/scim/v2/{directory_id}/Users", {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(Settings(token_cache_seconds=0.5), database)) as client:
        assert client.get(url, headers=headers).status_code == 200
        revoke_tokens(database, directory_id)
        assert client.get(url, headers=headers).status_code == 200  # still inside this worker's window
        time.sleep(0.6)
        assert_refused(client.get(url, headers=headers))


def test_token_cache_can_be_switched_off(database: Database) -> None:
    """token_cache_seconds=0: every request is checked against the database."""
    directory_id, token = new_directory(database, "Uncached")
    url, headers = f"/scim/v2/{directory_id}/Users", {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(Settings(token_cache_seconds=0), database)) as client:
        assert client.get(url, headers=headers).status_code == 200
        revoke_tokens(database, directory_id)
        assert_refused(client.get(url, headers=headers))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer  abc", "abc"),
        ("Bearer abc\n", None),
        ("Bearer a b", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header: str | None, expected: str | None) -> None:
    """The header parser takes exactly one token after a case-insensitive Bearer scheme."""
    assert bearer_token(header) == expected


def test_a_lookup_that_raced_a_revocation_is_not_remembered() -> None:
    """A token read from the database before this worker revoked something is not cached after the revocation,
    so "revoked" takes effect at once on the worker that revoked it."""
    from scimgate.directories.auth import TokenCache
    from scimgate.directories.credentials import Opened

    cache = TokenCache(60)
    generation = cache.generation
    cache.forget()  # a revocation lands while the lookup runs
    cache.put("hash", Opened("dir_x", strict=False), generation)
    assert cache.get("hash") is None
    cache.put("hash", Opened("dir_x", strict=False), cache.generation)
    assert cache.get("hash") is not None
