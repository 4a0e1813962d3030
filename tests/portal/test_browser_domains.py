"""An IT admin verifies an email domain through a setup link in a real headless Chromium (the DNS record published
to a fake resolver); then, under the operator's policy, an out-of-domain user is flagged and later refused, and the
live panel shows both with their explanation."""

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from scimgate.testing import ScimgateServer
from tests.helpers.browser import chromium, click_through, shot
from tests.helpers.domains import FakeResolver

USER = "urn:ietf:params:scim:schemas:core:2.0:User"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    yield from chromium()


@pytest.fixture(scope="module")
def dns() -> FakeResolver:
    return FakeResolver()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, dns: FakeResolver) -> Iterator[ScimgateServer]:
    started = ScimgateServer(Path(tmp_path_factory.mktemp("domains")), resolver=dns)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def test_an_it_admin_verifies_a_domain_and_outside_users_are_flagged_then_refused(
    browser: WebDriver, server: ScimgateServer, dns: FakeResolver
) -> None:
    """Add example.com, read the TXT record off the page, publish it, press Verify; flag lets another company's
    user in with a warning in the live panel; enforce refuses the next one with its reason."""
    directory = server.create_directory("Domain Contoso", idp="entra")
    link = server.api("POST", f"/directories/{directory.id}/setup-links", {"expires_in_seconds": 3600})
    browser.delete_all_cookies()
    browser.get(link["url"])
    browser.find_element(By.ID, "new-domain").send_keys("example.com")
    click_through(browser, browser.find_element(By.ID, "add-domain"))
    record = browser.find_element(By.CSS_SELECTOR, "#domains code.record").text
    assert record.startswith("scimgate-verification=")
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "#domains button.verify"))
    assert "No TXT record" in browser.find_element(By.ID, "domain-message").text
    dns.publish("_scimgate.example.com", record)
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "#domains button.verify"))
    assert "example.com is verified" in browser.find_element(By.ID, "domain-message").text
    assert "verified" in browser.find_element(By.CSS_SELECTOR, "#domains tr[data-domain='example.com']").text
    shot(browser, "22-setup-link-domain-verified")

    headers = {"Authorization": f"Bearer {directory.token}"}
    server.api("PUT", f"/directories/{directory.id}/domain-policy", {"policy": "flag"})
    flagged = httpx2.post(
        f"{directory.scim_url}/Users", json={"schemas": [USER], "userName": "ceo@othercompany.com"}, headers=headers
    )
    assert flagged.status_code == 201
    WebDriverWait(browser, 30).until(lambda d: "domain_not_verified" in d.find_element(By.ID, "live").text)
    server.api("PUT", f"/directories/{directory.id}/domain-policy", {"policy": "enforce"})
    refused = httpx2.post(
        f"{directory.scim_url}/Users", json={"schemas": [USER], "userName": "cfo@othercompany.com"}, headers=headers
    )
    assert refused.status_code == 400 and "othercompany.com" in refused.json()["detail"]
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#live tbody tr.failed"))
    failed = browser.find_element(By.CSS_SELECTOR, "#live tbody tr.failed")
    assert "400" in failed.text and "domain_not_verified" in failed.text
    shot(browser, "23-setup-link-domain-refused")
