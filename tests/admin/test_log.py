"""The provisioning log on the admin page: searched by what the admin knows, each entry told in full."""

import re

from starlette.testclient import TestClient

from scimgate.directories.credentials import issue_token, revoke_token
from scimgate.store.database import Database
from tests.helpers.admin import sign_in
from tests.helpers.scim import Scim, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def entry_links(html: str) -> list[str]:
    return re.findall(r'href="(/admin/log/req_[0-9a-z]+)"', html)


def test_searching_a_username_lands_on_its_409(app_client: TestClient, scim: Scim) -> None:
    """The admin types the userName, sees the refused creation among its requests (directory by name, path after
    the directory, the target) and opens it."""
    sign_in(app_client)
    scim.create_user("adele@contoso.example", externalId="AdeleVance")
    scim.post("/Users", {"schemas": [USER], "userName": "Adele@contoso.example", "externalId": "AdeleVance2"})
    scim.create_user("someone@contoso.example")
    flush(scim.client)
    page = app_client.get("/admin/log", params={"q": "ADELE@contoso.example", "status": "409"}).text
    assert len(entry_links(page)) == 1 and "someone@" not in page
    assert "<td>Contoso</td>" in page and '<code class="request">POST /Users</code>' in page
    assert f"/scim/v2/{scim.directory_id}" not in page and "Adele@contoso.example" in page
    entry = app_client.get(entry_links(page)[0]).text
    assert "user_name_taken" in entry and "AdeleVance2" in entry and ">Contoso</a>" in entry


def test_a_refused_request_says_why_its_body_was_not_kept_and_which_token_it_held(
    app_client: TestClient, scim: Scim
) -> None:
    """A POST with a mistyped token: its body is "not kept" with the reason (not "(none)"), and the token row shows
    the presented token's first characters beside this directory's own, never the rest."""
    sign_in(app_client)
    wrong = scim.token[:-3] + "xyz"
    scim.client.post(
        f"{scim.base}/Users", json={"userName": "a@contoso.example"}, headers={"Authorization": f"Bearer {wrong}"}
    )
    flush(scim.client)
    page = app_client.get("/admin/log", params={"directory": scim.directory_id, "status": "401"}).text
    entry = app_client.get(entry_links(page)[0]).text
    assert "not kept: the request carried no valid credential" in entry and "(none)" not in entry
    prefix = scim.token[:13]
    assert f"presented: <code>{prefix}…</code>" in entry and f"<code>{prefix}…</code> (active)" in entry
    assert wrong not in entry and scim.token[:14] not in entry.replace(prefix + "…", "")
    assert "`" not in entry and "<code>scimgate token create" in entry


def test_the_search_keeps_its_filters_when_paging(app_client: TestClient, scim: Scim) -> None:
    """ "Older" carries the search, the directory and the status to the next page."""
    sign_in(app_client)
    for n in range(51):
        scim.get(f'/Users?filter=userName eq "pager{n}@contoso.example"')
    flush(scim.client)
    first = app_client.get("/admin/log", params={"q": "pager", "directory": scim.directory_id}).text
    older = re.search(r'href="\?([^"]+)">Older', first)
    assert older is not None and "q=pager" in older.group(1)
    second = app_client.get("/admin/log?" + older.group(1).replace("&amp;", "&")).text
    assert len(entry_links(first)) == 50 and len(entry_links(second)) == 1


def banner_links(html: str) -> dict[str, str]:
    """Each banner's first words (its count) and the log link it carries."""
    found = re.findall(r'</strong>: (\d+ request\(s\)[^<]*?)\s*<a class="banner-link" href="([^"]+)"', html)
    return {
        text.split(" in the last hour")[0] + (" unknown" if "no directory has" in text else ""): href
        for text, href in found
    }


def test_banners_count_what_their_links_list(app_client: TestClient, scim: Scim, database: Database) -> None:
    """A revoked token's refusal (quarantine-relevant) and a mistyped token's (not) are counted apart, on the home
    and the directory page, and each banner's link lists exactly the requests it counts."""
    sign_in(app_client)
    with database.write() as conn:
        revoked = issue_token(conn, scim.directory_id)
        revoke_token(conn, scim.directory_id, revoked.id)
    scim.client.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {revoked.token}"})
    for _ in range(2):
        scim.client.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {scim.token[:-2]}"})  # truncated
    scim.post("/Users", {"schemas": [USER], "userName": ""})  # another failure, not a credential one
    flush(scim.client)
    for page in ("/admin/", f"/admin/directories/{scim.directory_id}"):
        links = banner_links(app_client.get(page).text)
        assert set(links) == {"1 request(s)", "2 request(s) unknown"}, links
        for label, href in links.items():
            listed = entry_links(app_client.get(href.replace("&amp;", "&")).text)
            assert len(listed) == int(label.split()[0])


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def log_rows(html: str) -> list[str]:
    """The log table's rows, as HTML."""
    body = re.search(r'<table id="log"[^>]*>.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, html
    return re.findall(r"<tr[^>]*>.*?</tr>", body.group(1), re.S)


def test_rows_with_ignored_attributes_are_marked_and_explained(app_client: TestClient, scim: Scim) -> None:
    """Issue 18: a request tolerant mode accepted without some of what the IdP sent (an unknown core attribute on a
    POST, a typo in an enterprise PATCH path) is marked "ignored" on the log page with each name (escaped), the
    "ignored" status lists exactly those rows, and the entry says what to check in the IdP's mapping."""
    sign_in(app_client)
    sent = scim.post("/Users", {"schemas": [USER], "userName": "tolerated@contoso.example", "favouriteColour": "teal"})
    assert sent.status_code == 201
    typo = {"op": "replace", "path": f"{ENTERPRISE}:departmentt", "value": "Sales"}
    patched = scim.client.patch(
        f"{scim.base}/Users/{sent.json()['id']}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [typo]},
        headers=scim.headers(),
    )
    assert patched.status_code == 200
    scim.post("/Users", {"schemas": [USER], "userName": "marked@contoso.example", "<b>bold</b>": 1})
    scim.create_user("clean@contoso.example")
    flush(scim.client)
    rows = log_rows(app_client.get("/admin/log", params={"directory": scim.directory_id}).text)
    marked = [row for row in rows if 'class="ignored"' in row]
    assert len(rows) == 4 and len(marked) == 3
    assert not any("clean@contoso.example" in row for row in marked)
    assert any('<strong class="ignored">ignored</strong>: favouriteColour</td>' in row for row in marked)
    assert any(f'<strong class="ignored">ignored</strong>: {ENTERPRISE}:departmentt</td>' in row for row in marked)
    assert any("ignored</strong>: &lt;b&gt;bold&lt;/b&gt;</td>" in row for row in marked)
    assert "<b>bold</b>" not in app_client.get("/admin/log").text
    only = app_client.get("/admin/log", params={"directory": scim.directory_id, "status": "ignored"}).text
    assert len(entry_links(only)) == 3 and "clean@contoso.example" not in only
    assert '<option value="ignored" selected>' in only
    pages = [app_client.get(link).text for link in entry_links(only)]
    entry = next(page for page in pages if "Accepted without: favouriteColour" in page)
    assert 'id="ignored"' in entry and "Provisioning → Mappings" in entry
    every = [app_client.get(link).text for link in entry_links(app_client.get("/admin/log").text)]
    assert len(every) == 4
    assert [page for page in every if 'id="ignored"' not in page] == [p for p in every if "clean@contoso" in p]
