"""The admin page in a real headless Chromium (Debian's chromium, driven by Selenium through its chromedriver).

A real scimgate serves on loopback; the browser signs in, creates a directory and sees its token once, an IdP's
request fails, the admin finds it in the log with its explanation, pages through a group's members, and reads a
group's members, requests and events at phone and laptop width. At both widths too: a token copied whole, a refused
paste's entry, the banners and the requests they link to, a "Basic Users" group logged as sent, events naming the
group and the changed fields, a failing webhook in red, and the API docs with no network beyond this server.
Screenshots go to ``artifacts/screenshots`` (or ``$SCIMGATE_SCREENSHOTS``).
"""

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from scimgate.testing import ScimgateServer
from tests.helpers.browser import chromium, click_through, find_now, shot

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    yield from chromium()


def sign_in(driver: WebDriver, server: ScimgateServer, *, wrong_key_first: bool = False) -> None:
    """A fresh session for each test; ``wrong_key_first``: a wrong key is refused first (one test is enough)."""
    driver.get(f"{server.url}/admin/login")
    driver.delete_all_cookies()
    driver.get(f"{server.url}/admin/")
    assert driver.current_url.endswith("/admin/login")
    if wrong_key_first:
        driver.find_element(By.ID, "key").send_keys("not the key")
        click_through(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert "not the operator key" in driver.find_element(By.CSS_SELECTOR, "[role=alert]").text
    driver.find_element(By.ID, "key").send_keys(server.operator_key)
    shot(driver, "01-sign-in")
    click_through(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Directories"


def test_an_admin_sets_up_a_directory_and_solves_a_failure(browser: WebDriver, scimgate_server: ScimgateServer) -> None:
    """Sign in (a wrong key first), create a directory, see its token once, then find the IdP's failed request in the
    log."""
    sign_in(browser, scimgate_server, wrong_key_first=True)
    browser.find_element(By.NAME, "name").send_keys("Browser Contoso")
    Select(browser.find_element(By.NAME, "idp")).select_by_value("entra")
    click_through(browser, browser.find_element(By.XPATH, "//button[text()='Create directory']"))
    token = browser.find_element(By.CSS_SELECTOR, "#new-token code.token").text
    scim_url = browser.find_element(By.ID, "scim-url").text
    assert token.startswith("scimgate_") and "/scim/v2/dir_" in scim_url
    shot(browser, "02-directory-created-token-shown-once")
    directory_id = scim_url.rsplit("/", 1)[1]
    click_through(browser, browser.find_element(By.LINK_TEXT, "Directories"))
    click_through(browser, browser.find_element(By.LINK_TEXT, "Browser Contoso"))  # again: the token is gone
    assert directory_id in browser.current_url
    assert token not in browser.page_source and "new-token" not in browser.page_source

    headers = {"Authorization": f"Bearer {token}"}
    ok = httpx2.post(f"{scim_url}/Users", json={"schemas": [USER], "userName": "ada@contoso.com"}, headers=headers)
    assert ok.status_code == 201
    taken = httpx2.post(f"{scim_url}/Users", json={"schemas": [USER], "userName": "ADA@contoso.com"}, headers=headers)
    assert taken.status_code == 409

    browser.get(f"{scimgate_server.url}/admin/log")
    Select(browser.find_element(By.NAME, "directory")).select_by_value(directory_id)
    Select(browser.find_element(By.NAME, "status")).select_by_value("failed")
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "#log-filters button"))
    rows = _wait_for_rows(browser, "#log tbody tr.failed")
    assert len(rows) == 1 and "user_name_taken" in rows[0].text and "EntryConflict" in rows[0].text
    shot(browser, "03-log-with-explanation")
    click_through(browser, rows[0].find_element(By.TAG_NAME, "a"))
    assert "user_name_taken" in browser.find_element(By.ID, "explanation").text
    assert taken.headers["x-request-id"] in browser.page_source
    shot(browser, "04-failed-request")


def _wait_for_rows(driver: WebDriver, selector: str, count: int = 1) -> list[WebElement]:
    """The log is written within half a second of each request: reload until ``count`` rows are there."""
    for _ in range(80):
        rows = find_now(driver, selector)
        if len(rows) >= count:
            return rows
        time.sleep(0.25)
        driver.refresh()
    raise AssertionError(f"fewer than {count} {selector} on {driver.current_url}")


def test_an_admin_pages_through_a_groups_members(browser: WebDriver, scimgate_server: ScimgateServer) -> None:
    """A group of 120 members shows 50 at a time; Next page walks them all, in order, and ends."""
    directory = scimgate_server.create_directory("Browser Fabrikam")
    members = []
    for i in range(120):
        created = directory.post("/Users", {"schemas": [USER], "userName": f"m{i:03d}@fabrikam.com"})
        members.append(created.json()["id"])
    group = directory.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "All staff",
            "members": [{"value": member} for member in members],
        },
    ).json()
    sign_in(browser, scimgate_server)
    browser.get(f"{scimgate_server.url}/admin/directories/{directory.id}/groups")
    click_through(browser, browser.find_element(By.LINK_TEXT, "All staff"))
    assert browser.find_element(By.ID, "member-count").text == "120"
    seen: list[str] = []
    for page in range(1, 10):
        ids = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#members tbody td code")]
        seen += ids
        shot(browser, f"05-group-members-page-{page}")
        following = find_now(browser, "#next-page")
        if not following:
            break
        click_through(browser, following[0])
    assert seen == sorted(members) and page == 3
    assert group["id"] in browser.current_url


def _fits(driver: WebDriver) -> None:
    """Nothing sticks out of the page sideways: the document is no wider than the window."""
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{driver.current_url} is {overflow}px wider than the window"


@contextmanager
def at_width(driver: WebDriver, width: int) -> Iterator[None]:
    """The page laid out for a screen ``width`` px wide. Chromium will not make a window narrower than 500 px: the
    phone's width is emulated (the layout viewport is then that wide, and grows with content that does not fit,
    which _fits catches)."""
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("width", [360, 1366])
def test_an_admin_searches_the_log_for_a_username_at_phone_and_laptop_width(
    browser: WebDriver, scimgate_server: ScimgateServer, width: int
) -> None:
    """Issue 22, at 360 px and 1366 px: every page fits the width with the whole navigation in view; searching the log
    for a userName lands on its 409, whose detail wraps, with the field that differs (externalId) beside the stored
    one and a link to the user holding the name, whose page lists the 409 among its requests and its events; the
    SCIM URL has a copy button that copies."""
    with at_width(browser, width):
        directory = scimgate_server.create_directory(f"Layout {width}")
        name = f"adele{width}@contoso.example"
        directory.post("/Users", {"schemas": [USER], "userName": name, "externalId": "AdeleVance"})
        taken = directory.post("/Users", {"schemas": [USER], "userName": name.upper(), "externalId": "AdeleVance2"})
        assert taken.status_code == 409
        sign_in(browser, scimgate_server)
        for link in ("Webhooks", "Schemas"):
            right = browser.find_element(By.LINK_TEXT, link).rect
            assert right["x"] + right["width"] <= width, f"{link} is off-screen at {width}px"
        sign_out = browser.find_element(By.XPATH, "//button[text()='Sign out']").rect
        assert sign_out["x"] + sign_out["width"] <= width
        for page in ("/admin/", "/admin/events", "/admin/webhooks", f"/admin/directories/{directory.id}"):
            browser.get(scimgate_server.url + page)
            _fits(browser)
        copy = browser.find_element(By.CSS_SELECTOR, "button.copy[data-copy='#scim-url']")
        copy.click()
        WebDriverWait(browser, 10).until(lambda _: copy.text == "Copied")

        browser.get(f"{scimgate_server.url}/admin/log")
        browser.find_element(By.NAME, "q").send_keys(name)
        click_through(browser, browser.find_element(By.CSS_SELECTOR, "#log-filters button"))
        rows = _wait_for_rows(browser, "#log tbody tr.failed")
        assert len(rows) == 1 and "POST /Users" in rows[0].text and "Layout" in rows[0].text
        _fits(browser)
        shot(browser, f"06-log-search-{width}px")
        click_through(browser, rows[0].find_element(By.TAG_NAME, "a"))
        assert "user_name_taken" in browser.find_element(By.ID, "explanation").text
        assert "AdeleVance2" in browser.find_element(By.ID, "request-body").text
        differences = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#differences tbody tr")]
        assert differences == ["externalId AdeleVance2 AdeleVance", f"userName {name.upper()} {name}"]
        _fits(browser)
        shot(browser, f"07-409-{width}px")

        # From the 409 to the user holding the name: its page lists the refused request and its own events.
        click_through(browser, browser.find_element(By.ID, "holder"))
        assert browser.find_element(By.TAG_NAME, "h1").text == name
        requests = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#requests tbody tr")]
        assert len(requests) == 2 and "409 user_name_taken" in requests[0] and "201" in requests[1]
        assert "user.created" in browser.find_element(By.ID, "resource-events").text
        _fits(browser)
        shot(browser, f"08-user-requests-and-events-{width}px")
        click_through(browser, browser.find_elements(By.CSS_SELECTOR, "#requests tbody tr a")[0])
        assert "user_name_taken" in browser.find_element(By.ID, "explanation").text


@pytest.mark.parametrize("width", [360, 1366])
def test_an_admin_reads_a_groups_members_requests_and_events_at_phone_and_laptop_width(
    browser: WebDriver, scimgate_server: ScimgateServer, width: int
) -> None:
    """Issue 22, at 360 px and 1366 px: from the directory's groups, a group's page lists its members (linked to
    their pages), the IdP's requests about it (its lookup by displayName, its creation, a refused duplicate with
    why, the PATCH adding a member) and its events (its creation, each member added, by name); the page fits the
    width, and a member's page says which group the user joined."""
    with at_width(browser, width):
        directory = scimgate_server.create_directory(f"Group page {width}")
        ada, grace = (
            directory.post("/Users", {"schemas": [USER], "userName": f"{who}{width}@contoso.example"}).json()
            for who in ("ada", "grace")
        )
        lookup = directory.request("GET", '/Groups?filter=displayName eq "Engineering"')
        made = directory.post(
            "/Groups", {"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": ada["id"]}]}
        )
        taken = directory.post("/Groups", {"schemas": [GROUP], "displayName": "ENGINEERING"})
        added = directory.patch(
            f"/Groups/{made.json()['id']}", [{"op": "add", "path": "members", "value": [{"value": grace["id"]}]}]
        )
        assert (lookup.status_code, made.status_code, taken.status_code) == (200, 201, 409)
        assert added.status_code in (200, 204)

        sign_in(browser, scimgate_server)
        browser.get(f"{scimgate_server.url}/admin/directories/{directory.id}/groups")
        click_through(browser, browser.find_element(By.LINK_TEXT, "Engineering"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "Engineering"
        assert browser.find_element(By.ID, "member-count").text == "2"
        members = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#members tbody tr")]
        assert sorted(member.split()[0] for member in members) == [
            f"ada{width}@contoso.example",
            f"grace{width}@contoso.example",
        ]

        requests = [row.text for row in _wait_for_rows(browser, "#requests tbody tr[class]", 4)]
        assert len(requests) == 4, requests
        assert f"PATCH /Groups/{made.json()['id']}" in requests[0]
        assert "POST /Groups" in requests[1] and "409 display_name_taken" in requests[1]
        assert "POST /Groups" in requests[2] and "201" in requests[2]
        assert 'GET /Groups?filter=displayName eq "Engineering"' in requests[3] and "200" in requests[3]
        events = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#resource-events tbody tr")]
        types = [code.text for code in browser.find_elements(By.CSS_SELECTOR, "#resource-events tbody td code")]
        assert types == ["group.user_added", "group.user_added", "group.created"], events
        assert f"added grace{width}@contoso.example" in events[0] and f"added ada{width}@contoso.example" in events[1]
        _fits(browser)
        shot(browser, f"09-group-members-requests-events-{width}px")

        click_through(browser, browser.find_element(By.LINK_TEXT, f"grace{width}@contoso.example"))
        assert browser.find_element(By.TAG_NAME, "h1").text == f"grace{width}@contoso.example"
        assert "to group Engineering" in browser.find_element(By.ID, "resource-events").text
        _fits(browser)


def _within(element: WebElement, width: int) -> None:
    """The element is shown, and its right edge is on a screen ``width`` px wide."""
    box = element.rect
    assert element.is_displayed() and box["x"] >= 0 and box["x"] + box["width"] <= width, (element.text, box)


def _banners(driver: WebDriver, directory: str) -> dict[str, tuple[int, str]]:
    """The page's banners about ``directory``: each one's kind, the count it states and where its link goes."""
    found = {}
    for banner in find_now(driver, "p.banner"):
        if banner.find_element(By.TAG_NAME, "strong").text != directory:
            continue
        link = banner.find_element(By.CSS_SELECTOR, "a.banner-link")
        counted = re.search(r": (\d+) request\(s\) in the last hour", banner.text)
        assert counted is not None, banner.text
        kind = "unknown" if "one no directory has" in banner.text else "issued"
        found[kind] = (int(counted.group(1)), str(link.get_attribute("href")))
    return found


@pytest.mark.parametrize("width", [360, 1366])
def test_an_admin_copies_a_token_and_trusts_the_log_and_its_banners_at_phone_and_laptop_width(
    browser: WebDriver, scimgate_server: ScimgateServer, width: int
) -> None:
    """Issue 22, at 360 px and 1366 px: a new token's copy button copies it whole; an IdP holding a truncated copy
    is refused, and its entry says why its body was not kept and shows the presented token's first characters; the
    banners of the home and the directory page count the refusals of a token the directory issued apart from those
    of a token no directory has, each with a link listing as many requests as it counts; a group named "Basic Users"
    is logged as sent, not as "[redacted]"."""
    with at_width(browser, width):
        directory = scimgate_server.create_directory(f"Trusted log {width}")
        other = scimgate_server.create_directory(f"Other {width}")
        assert directory.post("/Groups", {"schemas": [GROUP], "displayName": "Basic Users"}).status_code == 201
        sign_in(browser, scimgate_server)
        browser.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": scimgate_server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        browser.get(f"{scimgate_server.url}/admin/directories/{directory.id}")
        click_through(browser, browser.find_element(By.ID, "create-token"))
        token = browser.find_element(By.CSS_SELECTOR, "#new-token code.token").text
        copy = browser.find_element(By.CSS_SELECTOR, "#new-token button.copy")
        _within(copy, width)
        copy.click()
        WebDriverWait(browser, 10).until(lambda _: copy.text == "Copied")
        copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
        assert token.startswith("scimgate_") and copied == token
        _fits(browser)
        shot(browser, f"10-token-copied-{width}px")

        truncated = {"Authorization": f"Bearer {copied[:-2]}"}  # the paste missed its end
        refused = [
            httpx2.post(f"{directory.scim_url}/Users", json={"userName": "a@contoso.example"}, headers=truncated),
            httpx2.get(f"{directory.scim_url}/Users", headers=truncated),
            httpx2.get(f"{directory.scim_url}/Users", headers={"Authorization": f"Bearer {other.token}"}),
        ]
        assert [answer.status_code for answer in refused] == [401, 401, 401]
        browser.get(f"{scimgate_server.url}/admin/log?directory={directory.id}&status=401")
        rows = _wait_for_rows(browser, "#log tbody tr.failed", 3)
        assert len(rows) == 3, [row.text for row in rows]
        posted = next(row for row in rows if "POST /Users" in row.text)
        click_through(browser, posted.find_element(By.TAG_NAME, "a"))
        body = browser.find_element(By.ID, "request-body")
        assert "not kept: the request carried no valid credential" in body.text and "(none)" not in body.text
        held = browser.find_element(By.ID, "token").text
        assert f"presented: {token[:13]}…" in held and token[:14] not in held, held
        _fits(browser)
        shot(browser, f"11-refused-token-{width}px")

        for place, page in (("home", "/admin/"), ("directory", f"/admin/directories/{directory.id}")):
            browser.get(scimgate_server.url + page)
            banners = _banners(browser, f"Trusted log {width}")
            assert {kind: count for kind, (count, _) in banners.items()} == {"issued": 1, "unknown": 2}, banners
            for link in find_now(browser, "p.banner a.banner-link"):
                _within(link, width)
            _fits(browser)
            shot(browser, f"12-banners-{place}-{width}px")
            for count, href in banners.values():
                browser.get(href)
                assert len(find_now(browser, "#log tbody tr.failed")) == count, href

        browser.get(f"{scimgate_server.url}/admin/log?directory={directory.id}")
        browser.find_element(By.NAME, "q").send_keys("Basic Users")
        click_through(browser, browser.find_element(By.CSS_SELECTOR, "#log-filters button"))
        rows = _wait_for_rows(browser, "#log tbody tr:has(a)")
        assert len(rows) == 1 and "POST /Groups" in rows[0].text and "Basic Users" in rows[0].text
        click_through(browser, rows[0].find_element(By.TAG_NAME, "a"))
        for shown in ("request-body", "response-body"):
            text = browser.find_element(By.ID, shown).text
            assert '"displayName": "Basic Users"' in text and "[redacted]" not in text, text
        _fits(browser)
        shot(browser, f"13-basic-users-as-sent-{width}px")


@pytest.mark.parametrize("width", [360, 1366])
def test_an_admin_reads_events_webhook_health_and_the_api_docs_at_phone_and_laptop_width(
    browser: WebDriver, scimgate_server: ScimgateServer, width: int
) -> None:
    """Issue 22, at 360 px and 1366 px: the events page names the group of each membership event and the fields an
    update changed, and an expanded event still fits the width; an endpoint that never delivered is a red "failing"
    on the webhooks list, not a green "enabled"; /api/v1/docs renders Swagger UI with every https:// address
    blocked, from files of this server alone."""
    with at_width(browser, width), socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        directory = scimgate_server.create_directory(f"Events {width}")
        hook = f"http://127.0.0.1:{closed.getsockname()[1]}/never"
        scimgate_server.add_webhook(hook, directory_id=directory.id)
        ada, grace = (
            directory.post("/Users", {"schemas": [USER], "userName": f"{who}{width}@contoso.example"}).json()
            for who in ("ada", "grace")
        )
        team = directory.post(
            "/Groups", {"schemas": [GROUP], "displayName": "Bearer Team", "members": [{"value": ada["id"]}]}
        ).json()
        directory.patch(f"/Groups/{team['id']}", [{"op": "add", "path": "members", "value": [{"value": grace["id"]}]}])
        directory.patch(f"/Users/{ada['id']}", [{"op": "replace", "path": "displayName", "value": "Ada L."}])

        sign_in(browser, scimgate_server)
        browser.get(f"{scimgate_server.url}/admin/events?directory={directory.id}")
        rows = _wait_for_rows(browser, "#events tbody tr", 7)  # user.updated, written last, is there
        what = [
            (row.find_element(By.TAG_NAME, "code").text, row.find_element(By.CSS_SELECTOR, "td.what").text)
            for row in rows
        ]
        assert what == [
            ("user.updated", "changed: displayName"),
            ("group.user_added", "to group Bearer Team"),
            ("group.user_added", "to group Bearer Team"),
            ("group.created", ""),
            ("user.created", ""),
            ("user.created", ""),
            ("directory.created", ""),
        ], what
        updated = rows[0]
        updated.find_element(By.TAG_NAME, "summary").click()
        expanded = updated.find_element(By.TAG_NAME, "pre")
        assert expanded.is_displayed() and "displayName" in expanded.text
        # Readable, not squeezed into a column a few letters wide: the JSON gets most of a phone's width.
        assert expanded.size["width"] >= min(width, 1200) * 0.3, expanded.size
        _fits(browser)
        shot(browser, f"14-event-expanded-{width}px")

        browser.get(f"{scimgate_server.url}/admin/webhooks")
        for _ in range(80):
            row = browser.find_element(By.XPATH, f"//table//tr[.//a[text()='{hook}']]")
            if "failing" in row.text:
                break
            time.sleep(0.25)
            browser.refresh()
        else:
            raise AssertionError(f"{hook} is not failing on the webhooks list")
        status = row.find_element(By.CSS_SELECTOR, "td.health .status")
        assert status.text == "failing" and "never a success" in row.text and "enabled" not in row.text, row.text
        red, green, blue = map(int, re.findall(r"\d+", status.value_of_css_property("color"))[:3])
        assert red > 2 * max(green, blue), status.value_of_css_property("color")
        _within(status, width)
        _fits(browser)
        shot(browser, f"15-webhook-failing-{width}px")

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://*"]})  # no CDN
    try:
        with at_width(browser, width):
            browser.get(f"{scimgate_server.url}/api/v1/docs")
            title = browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title")
            paths = [path.text for path in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
            assert title.is_displayed() and "/directories" in paths, paths
            loaded = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)")
            assert loaded and all(url.startswith(scimgate_server.url + "/") for url in loaded), loaded
            shot(browser, f"16-api-docs-offline-{width}px")
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        browser.execute_cdp_cmd("Network.disable", {})
