"""The access log has one line per request, and no token or filter value in it."""

import logging

import pytest
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Scim, new_directory


def test_access_log_omits_query_strings_and_headers(scim: Scim, caplog: pytest.LogCaptureFixture) -> None:
    """A filter's userName and a token placed in the query string never reach the log."""
    with caplog.at_level(logging.INFO, logger="scimgate.access"):
        scim.get('/Users?filter=userName eq "secret.person@example.com"')
        scim.client.get(f"{scim.base}/Users?access_token={scim.token}")
    lines = [r.getMessage() for r in caplog.records if r.name == "scimgate.access"]
    assert lines[0].startswith(f"GET {scim.base}/Users 200 ")
    assert lines[1].startswith(f"GET {scim.base}/Users 401 ")
    text = caplog.text
    assert "secret.person" not in text and scim.token not in text


@pytest.mark.parametrize(("which", "kept"), [("all", [200, 404]), ("errors", [404]), ("off", [])])
def test_access_log_setting_keeps_all_lines_errors_or_none(
    database: Database, which: str, kept: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False, access_log=which)
    directory_id, token = new_directory(database, "Contoso")
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        scim = Scim(client, directory_id, token)
        with caplog.at_level(logging.INFO, logger="scimgate.access"):
            scim.get("/Users")
            scim.get("/Users/usr_absent")
    statuses = [int(r.getMessage().split()[2]) for r in caplog.records if r.name == "scimgate.access"]
    assert statuses == kept
