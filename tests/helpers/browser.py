"""A headless Chromium for browser tests (Debian's chromium, driven by Selenium through its chromedriver), and
what those tests share: finding elements that may be absent, screenshots, clicking through to a new page.
Screenshots go to ``artifacts/screenshots`` (or ``$SCIMGATE_SCREENSHOTS``)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = Path(os.environ.get("SCIMGATE_SCREENSHOTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))


def chromium() -> Iterator[WebDriver]:
    """A browser for a module's tests (skipped when Chromium is not installed, failed under CI)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are missing under CI: scripts/test installs them")
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/test installs them)")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # No calls home: this machine's network is closed, and tests must not wait on it.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1366,900",  # a laptop screen
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def find_now(driver: WebDriver, selector: str) -> list[WebElement]:
    """The elements matching ``selector`` on the page as it is, for elements that may rightly be absent: without
    the implicit wait, which would otherwise spend its 10 s waiting for one that never comes. The page has loaded
    (WebDriver waits for the navigation a get, refresh or click starts)."""
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    driver.implicitly_wait(0)
    try:
        return driver.find_elements(By.CSS_SELECTOR, selector)
    finally:
        driver.implicitly_wait(10)


def shot(driver: WebDriver, name: str) -> None:
    path = SHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 1000


def click_through(driver: WebDriver, element: WebElement) -> None:
    """Click something that loads a new page, and wait until the old page is gone (or the next find could pick an
    element of the page being left)."""
    element.click()
    WebDriverWait(driver, 20).until(lambda _: _detached(element))


def _detached(element: WebElement) -> bool:
    """Whether the element has left the document. Asked in the middle of the navigation, chromedriver may answer
    "Node with given id does not belong to the document" (an unknown error, not a stale element reference, the
    only answer Selenium's staleness_of expects): that too means the old page is gone."""
    try:
        element.is_enabled()  # any command on the element says whether it is still attached
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in (error.msg or ""):
            return True
        raise
    return False
