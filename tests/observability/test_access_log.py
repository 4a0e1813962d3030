"""The access log has one line per request, and no token or filter value in it."""

import logging

import pytest

from tests.helpers.scim import Scim


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
