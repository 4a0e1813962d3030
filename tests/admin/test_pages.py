"""The admin page over HTTP: sign-in, CSRF, the token shown once, escaping, browsing, the log, webhooks."""

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.events import feed, webhooks
from scimgate.store.database import Database
from scimgate.store.tables import deliveries
from tests.helpers.admin import sign_in
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Scim

PAGES = ["/admin/", "/admin/log", "/admin/events", "/admin/webhooks", "/admin/directories/dir_x"]


def flush(client: TestClient) -> None:
    portal = client.portal
    assert portal is not None
    portal.call(client.app.state.request_log.flush)  # type: ignore[attr-defined, call-arg]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_signed_in_session(app_client: TestClient, path: str) -> None:
    """Without a session every page sends to the sign-in page, and shows nothing."""
    response = app_client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("/admin/login")


def test_sign_in_with_the_key_or_the_password(database: Database) -> None:
    """The operator key and the admin password sign in; anything else is refused; signing out ends the session."""
    settings = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, admin_password="correct horse battery")
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        assert client.post("/admin/login", data={"key": "wrong"}).status_code == 401
        assert client.get("/admin/", follow_redirects=False).status_code == 303
        csrf = sign_in(client, "correct horse battery")
        cookie = next(c for c in client.cookies.jar if c.name == "scimgate_admin")
        assert cookie.path == "/admin" and cookie.has_nonstandard_attr("httponly")
        assert cookie.get_nonstandard_attr("samesite") == "strict"
        assert client.post("/admin/logout", data={"csrf": csrf}).status_code == 200
        assert client.get("/admin/", follow_redirects=False).status_code == 303
        sign_in(client)


def test_nobody_signs_in_when_nothing_is_configured(database: Database) -> None:
    """With neither an operator key nor an admin password, even an empty key is refused, and the page says why."""
    with TestClient(create_app(Settings(public_url=BASE_URL), database), base_url=BASE_URL) as client:
        assert "SCIMGATE_OPERATOR_KEY" in client.get("/admin/login").text
        assert client.post("/admin/login", data={"key": ""}).status_code == 401


def test_admin_without_its_slash_is_answered_as_the_home_page(app_client: TestClient, scim: Scim) -> None:
    """/admin (the address README gives) is answered as /admin/ is, with no redirect built from the request (issue 19
    item 4): signed out, the sign-in redirect to the configured path; signed in, the home page, whose links are all
    absolute paths, so they lead to the same pages from /admin as from /admin/."""
    signed_out = app_client.get("/admin", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/admin/login"
    sign_in(app_client)
    page = app_client.get("/admin", follow_redirects=False)
    assert page.status_code == 200 and scim.directory_id in page.text
    links = re.findall(r'(?:href|src|action)="([^"]*)"', page.text)
    assert links and all(link.startswith("/admin/") for link in links), links
    assert links == re.findall(r'(?:href|src|action)="([^"]*)"', app_client.get("/admin/").text)
    assert app_client.get(f"/admin/directories/{scim.directory_id}").status_code == 200
    assert app_client.post("/admin", follow_redirects=False).status_code == 405


def test_forms_need_the_sessions_csrf_token(app_client: TestClient) -> None:
    """A POST without the session's token (a forged cross-site form) is refused and changes nothing."""
    sign_in(app_client)
    for data in ({"name": "Forged", "idp": "entra"}, {"name": "Forged", "idp": "entra", "csrf": "guess"}):
        assert app_client.post("/admin/directories", data=data).status_code == 403
    assert "Forged" not in app_client.get("/admin/").text


def test_a_new_directorys_token_is_shown_once_and_works(app_client: TestClient) -> None:
    """Creating a directory shows its token once; the directory page later shows only its prefix."""
    csrf = sign_in(app_client)
    page = app_client.post("/admin/directories", data={"name": "Contoso", "idp": "entra", "csrf": csrf})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    token = re.search(r'<code class="token">([^<]+)</code>', page.text)
    url = re.search(r'<code id="scim-url">([^<]+)</code>', page.text)
    assert token and url
    assert app_client.get(f"{url.group(1)}/Users", headers={"Authorization": f"Bearer {token.group(1)}"}).json()
    directory_id = url.group(1).rsplit("/", 1)[1]
    again = app_client.get(f"/admin/directories/{directory_id}").text
    assert token.group(1) not in again and token.group(1)[:13] in again
    second = app_client.post(f"/admin/directories/{directory_id}/tokens", data={"csrf": csrf}).text
    assert re.search(r'<code class="token">scimgate_', second)


def test_pages_escape_what_the_idp_sent(app_client: TestClient, scim: Scim) -> None:
    """A displayName with markup is shown as text, on the list and the detail pages."""
    sign_in(app_client)
    user = scim.create_user("x@example.com", displayName="<script>alert(1)</script>")
    group = scim.create_group("<img src=x onerror=alert(2)>", members=[user["id"]])
    for path in (
        f"/admin/directories/{scim.directory_id}/users",
        f"/admin/directories/{scim.directory_id}/users/{user['id']}",
        f"/admin/directories/{scim.directory_id}/groups/{group['id']}",
    ):
        text = app_client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text or "&lt;img" in text


@pytest.mark.both_backends
def test_users_and_groups_are_searchable_and_members_paged(app_client: TestClient, scim: Scim) -> None:
    """Search finds by name; a group's members come a page at a time."""
    sign_in(app_client)
    members = [scim.create_user(f"member{i}@example.com")["id"] for i in range(5)]
    scim.create_user("other@example.org")
    group = scim.create_group("Big", members=members)
    found = app_client.get(f"/admin/directories/{scim.directory_id}/users?q=MEMBER3").text
    assert "member3@example.com" in found and "member1@example.com" not in found
    seen: list[str] = []
    url = f"/admin/directories/{scim.directory_id}/groups/{group['id']}?size=2"
    for _ in range(5):
        page = app_client.get(url).text
        seen += re.findall(r"<code>(usr_[a-z0-9]+)</code>", page)
        following = re.search(r'href="(\?size=2&after=[^"]+)" id="next-page"', page)
        if following is None:
            break
        url = f"/admin/directories/{scim.directory_id}/groups/{group['id']}{following.group(1).replace('&amp;', '&')}"
    assert seen == sorted(members)


def test_the_log_shows_failures_with_their_explanation(app_client: TestClient, scim: Scim, other_scim: Scim) -> None:
    """The provisioning log lists the request, filters it, and its page explains the failure and shows the
    bodies without secrets."""
    sign_in(app_client)
    scim.create_user("taken@example.com")
    scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "taken@example.com",
            "password": "Do-Not-Show-1",
        },
    )
    scim.client.get(f"{scim.base}/Users", headers=other_scim.headers())
    flush(app_client)
    failed = app_client.get(f"/admin/log?directory={scim.directory_id}&status=failed&resource=User").text
    assert "user_name_taken" in failed and "token_of_another_directory" in failed
    assert (
        app_client.get(f"/admin/log?directory={other_scim.directory_id}&status=failed").text.count('class="failed"')
        == 0
    )
    pages = [app_client.get(f"/admin/log/{i}").text for i in re.findall(r'/admin/log/(req_[a-z0-9]+)"', failed)]
    entry = next(page for page in pages if "user_name_taken" in page)
    assert "EntryConflict" in entry and "409" in entry
    assert "Do-Not-Show-1" not in entry and "[redacted]" in entry
    banner = app_client.get("/admin/").text
    assert "EncounteredQuarantineException" in banner  # a credential failure in the last hour


def test_webhook_pages_redeliver(app_client: TestClient, scim: Scim, database: Database) -> None:
    """The webhook page lists deliveries with their attempts, and its buttons queue them again."""
    csrf = sign_in(app_client)
    with database.write() as conn:
        endpoint = webhooks.create_endpoint(conn, "https://hooks.example.com/scim", types=["user.created"])
    scim.create_user("hook@example.com")
    feed.sequence(database)
    with database.write() as conn:
        conn.execute(deliveries.update().values(status="failed"))
    page = app_client.get(f"/admin/webhooks/{endpoint.id}").text
    assert "user.created" in page and "failed" in page
    response = app_client.post(f"/admin/webhooks/{endpoint.id}", data={"csrf": csrf, "action": "redeliver-failed"})
    assert response.status_code == 200
    with database.read() as conn:
        assert [d.status for d in webhooks.list_deliveries(conn, endpoint.id)] == ["pending"]
    assert endpoint.secret not in app_client.get("/admin/webhooks").text


def test_pages_are_not_cached_or_framed(app_client: TestClient) -> None:
    """Pages can show a secret: no-store, no framing, no referrer."""
    response = app_client.get("/admin/login")
    headers: Any = response.headers
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_signing_out_ends_copies_of_the_session_and_a_new_key_ends_all(database: Database) -> None:
    """A cookie kept from before a sign-out, or from before the operator key changed, opens nothing."""
    settings = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False)
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        csrf = sign_in(client)
        stolen = dict(client.cookies)
        client.post("/admin/logout", data={"csrf": csrf})
        with TestClient(create_app(settings, database), base_url=BASE_URL, cookies=stolen) as thief:
            assert thief.get("/admin/", follow_redirects=False).status_code == 303
        sign_in(client)
        kept = dict(client.cookies)
    rotated = Settings(
        public_url=BASE_URL, operator_key="another-operator-key-0123456789abcdef", webhooks_in_serve=False
    )
    with TestClient(create_app(rotated, database), base_url=BASE_URL, cookies=kept) as client:
        assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_the_webhooks_list_shows_an_endpoint_that_never_delivered_as_failing(
    app_client: TestClient, scim: Scim, database: Database
) -> None:
    """Issue 22: an endpoint with pending retries and no success is red with its counts, not a green "enabled"."""
    from datetime import UTC, datetime

    from scimgate.store.tables import delivery_attempts

    sign_in(app_client)
    with database.write() as conn:
        endpoint = webhooks.create_endpoint(conn, "https://hooks.example.com/never", types=["user.created"])
    for n in range(3):
        scim.create_user(f"hook{n}@example.com")
    feed.sequence(database)
    with database.write() as conn:
        ids = [row.id for row in conn.execute(deliveries.select())]
        conn.execute(deliveries.update().where(deliveries.c.id == ids[0]).values(status="failed"))
        conn.execute(
            delivery_attempts.insert(),
            [
                {"id": f"att_{n}", "delivery_id": ids[n % 3], "attempted_at": datetime.now(UTC), "latency_ms": 5}
                for n in range(4)
            ],
        )
    page = app_client.get("/admin/webhooks").text
    row = page.split(endpoint.id, 1)[1].split("</tr>", 1)[0]
    assert "failing" in row and "4 failed attempts and never a success" in row and ">enabled<" not in row
    assert '?status=pending">2</a>' in row and '?status=failed">1</a>' in row


def test_events_rows_name_the_group_the_changes_and_the_directory(
    app_client: TestClient, scim: Scim, database: Database
) -> None:
    """Issue 22: a membership event's row names its group, an update's row its changed fields, and the directory
    appears by name."""
    sign_in(app_client)
    user = scim.create_user("ev@example.com")
    scim.create_group("Engineering", members=[user["id"]])
    operations = [{"op": "replace", "path": "displayName", "value": "Ev"}]
    scim.client.patch(
        f"{scim.base}/Users/{user['id']}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations},
        headers=scim.headers(),
    )
    feed.sequence(database)
    page = app_client.get("/admin/events").text
    rows = {row.split("<code>", 1)[1].split("</code>", 1)[0]: row for row in page.split("<tr>")[2:] if "<code>" in row}
    assert "to group <strong>Engineering</strong>" in rows["group.user_added"]
    assert "changed: displayName" in rows["user.updated"]
    assert "<td>Contoso · " in rows["user.created"]
