"""Issue 20, finding 12 (security plan A12, V7): minting a secret on the admin page needs the key entered in the last
five minutes; the session cookie's fingerprint of the credentials is keyed and salted."""

import hashlib
import re
import time

import pytest
from starlette.testclient import TestClient

from scimgate.admin.signin import Signin
from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.credentials import list_tokens
from scimgate.directories.service import list_directories
from scimgate.rate_limits import RateLimits
from scimgate.store.database import Database
from tests.helpers.admin import session_of, sign_in
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Scim

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'<code class="token">([^<]+)</code>')


def six_minutes_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Move the clock six minutes on: a session signed in before is still open, its key entry no longer recent."""
    later = time.time() + 6 * 60
    monkeypatch.setattr(time, "time", lambda: later)


def token_count(database: Database, directory_id: str) -> int:
    with database.read() as conn:
        return len(list_tokens(conn, directory_id))


def test_an_old_session_browses_but_a_token_needs_the_key_again(
    app_client: TestClient, scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past five minutes the pages still open, but "Create a token" asks for the key and mints nothing; with the
    key entered again it mints a working token, and the next one within five minutes asks nothing."""
    csrf = sign_in(app_client)
    six_minutes_later(monkeypatch)
    assert app_client.get(f"/admin/directories/{scim.directory_id}").status_code == 200
    url = f"/admin/directories/{scim.directory_id}/tokens"
    asked = app_client.post(url, data={"csrf": csrf})
    assert asked.status_code == 401 and 'id="reauth"' in asked.text and not TOKEN.search(asked.text)
    assert f'action="{url}"' in asked.text and 'name="key"' in asked.text
    assert token_count(database, scim.directory_id) == 1
    minted = app_client.post(url, data={"csrf": csrf, "key": OPERATOR_KEY})
    found = TOKEN.search(minted.text)
    assert minted.status_code == 200 and found is not None
    assert scim.client.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {found.group(1)}"}).json()
    assert TOKEN.search(app_client.post(url, data={"csrf": csrf}).text)
    assert token_count(database, scim.directory_id) == 3


def test_the_wrong_key_mints_nothing_and_counts_as_a_failed_sign_in(database: Database) -> None:
    """A wrong key on the re-authentication form mints nothing and shows the form again; the failures count
    toward the same per-address budget as sign-in, so a stolen cookie cannot guess the password at leisure."""
    settings = Settings(
        public_url=BASE_URL, admin_password=PASSWORD, auth_failures_per_minute=3, webhooks_in_serve=False
    )
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        csrf = sign_in(client, PASSWORD)
        with pytest.MonkeyPatch.context() as patch:
            six_minutes_later(patch)
            form = {"csrf": csrf, "name": "Contoso", "idp": "entra"}
            statuses = [client.post("/admin/directories", data={**form, "key": f"guess{i}"}) for i in range(4)]
            assert [r.status_code for r in statuses] == [401, 401, 401, 429]
            assert "Retry-After" in statuses[-1].headers and not any(TOKEN.search(r.text) for r in statuses)
            assert client.post("/admin/login", data={"key": PASSWORD}).status_code == 429
        with database.read() as conn:
            assert list_directories(conn) == []


def test_a_new_directory_goes_on_once_the_key_is_entered_again(
    app_client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form the re-authentication page posts back keeps what the admin typed (escaped), so the directory is
    created, with its token shown once, in one more step."""
    csrf = sign_in(app_client)
    six_minutes_later(monkeypatch)
    form = {"csrf": csrf, "name": 'Contoso "<b>"', "idp": "okta", "external_id": "tenant-7"}
    asked = app_client.post("/admin/directories", data=form)
    assert asked.status_code == 401 and "<b>" not in asked.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked.text))
    assert fields["name"] == "Contoso &#34;&lt;b&gt;&#34;" and fields["idp"] == "okta"
    with database.read() as conn:
        assert list_directories(conn) == []
    made = app_client.post("/admin/directories", data={**form, "key": OPERATOR_KEY})
    assert made.status_code == 200 and TOKEN.search(made.text)
    with database.read() as conn:
        [directory] = list_directories(conn)
    assert (directory.name, directory.idp, directory.external_id) == ('Contoso "<b>"', "okta", "tenant-7")


def test_a_fresh_sign_in_mints_without_asking(app_client: TestClient, scim: Scim) -> None:
    """Within five minutes of signing in, creating a token asks nothing more."""
    csrf = sign_in(app_client)
    minted = app_client.post(f"/admin/directories/{scim.directory_id}/tokens", data={"csrf": csrf})
    assert minted.status_code == 200 and TOKEN.search(minted.text)


def test_the_cookie_says_nothing_about_the_password(database: Database) -> None:
    """The cookie is signed, not encrypted: its fingerprint of the credentials is keyed by the server's session key
    and salted per session, so it is not a hash of the password (nothing to guess it from offline), differs between
    sessions, and, with the same salt and password, between servers with different keys."""
    settings = Settings(public_url=BASE_URL, admin_password=PASSWORD, webhooks_in_serve=False)
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        sign_in(client, PASSWORD)
        first = session_of(client)["fp"]
        sign_in(client, PASSWORD)
        second = session_of(client)["fp"]
    unsalted = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert unsalted[:16] not in (first, second) and unsalted not in (first, second)
    assert first != second
    signin = Signin(settings, database, RateLimits.from_settings(settings))
    assert signin.fingerprint("server-key-a", "salt") != signin.fingerprint("server-key-b", "salt")


def test_a_new_password_ends_every_session(database: Database) -> None:
    """Changing the admin password ends the sessions made under the old one, as changing the key does."""
    settings = Settings(public_url=BASE_URL, admin_password=PASSWORD, webhooks_in_serve=False)
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        sign_in(client, PASSWORD)
        kept = dict(client.cookies)
        assert client.get("/admin/", follow_redirects=False).status_code == 200
    rotated = Settings(public_url=BASE_URL, admin_password="another password 0123", webhooks_in_serve=False)
    with TestClient(create_app(rotated, database), base_url=BASE_URL, cookies=kept) as client:
        assert client.get("/admin/", follow_redirects=False).status_code == 303
    with TestClient(create_app(settings, database), base_url=BASE_URL, cookies=kept) as client:
        assert client.get("/admin/", follow_redirects=False).status_code == 200
