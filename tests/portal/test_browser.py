"""An IT admin walks through a setup link in a real headless Chromium: chooses the IdP, makes a token, and watches
the IdP's requests arrive in the live panel with their explanations while the checklist turns green."""

from collections.abc import Iterator

import httpx2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from scimgate.testing import ScimgateServer
from tests.helpers.browser import chromium, click_through, shot

USER = "urn:ietf:params:scim:schemas:core:2.0:User"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    yield from chromium()


def test_an_it_admin_sets_up_provisioning_through_a_link(browser: WebDriver, scimgate_server: ScimgateServer) -> None:
    """Choose Okta, create a token, send requests with it: the live panel shows them (a 409 with its reason) without
    a reload, and the checklist marks the connection tested and the first user created."""
    directory = scimgate_server.create_directory("Link Contoso", idp="entra")
    link = scimgate_server.api("POST", f"/directories/{directory.id}/setup-links", {"expires_in_seconds": 3600})
    browser.delete_all_cookies()
    browser.get(link["url"])
    assert browser.find_element(By.TAG_NAME, "h1").text == "Set up provisioning for Link Contoso"
    assert "Tenant URL" in browser.find_element(By.ID, "steps").text  # the directory's IdP first: Entra
    click_through(browser, browser.find_element(By.LINK_TEXT, "Okta"))
    assert "SCIM connector base URL" in browser.find_element(By.ID, "steps").text
    assert browser.find_element(By.ID, "scim-url").text == directory.scim_url
    click_through(browser, browser.find_element(By.ID, "create-token"))
    token = browser.find_element(By.CSS_SELECTOR, "#new-token code.token").text
    assert f"Authorization: Bearer {token}" in browser.find_element(By.ID, "steps").text  # still Okta's steps
    shot(browser, "20-setup-link-token-shown-once")

    headers = {"Authorization": f"Bearer {token}"}
    lookup = httpx2.get(f"{directory.scim_url}/Users", params={"filter": 'userName eq "probe"'}, headers=headers)
    assert lookup.status_code == 200
    made = httpx2.post(
        f"{directory.scim_url}/Users", json={"schemas": [USER], "userName": "ada@contoso.com"}, headers=headers
    )
    assert made.status_code == 201
    taken = httpx2.post(
        f"{directory.scim_url}/Users", json={"schemas": [USER], "userName": "ADA@contoso.com"}, headers=headers
    )
    assert taken.status_code == 409

    # No reload: the panel polls every three seconds and the log is written within half a second.
    WebDriverWait(browser, 30).until(lambda d: "user_name_taken" in d.find_element(By.ID, "live").text)
    failed = browser.find_element(By.CSS_SELECTOR, "#live tbody tr.failed")
    assert "POST /Users" in failed.text and "409" in failed.text
    done = {li.get_attribute("data-key") for li in browser.find_elements(By.CSS_SELECTOR, "#checklist li.done")}
    assert done == {"connection_tested", "first_user"}
    assert "ada@contoso.com" in browser.find_element(By.ID, "users").text
    shot(browser, "21-setup-link-live-panel")
