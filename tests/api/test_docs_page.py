"""``/api/v1/docs`` works offline: Swagger UI's files come from this server, not from a CDN."""

import re

from starlette.testclient import TestClient


def test_the_docs_page_loads_nothing_from_another_host(app_client: TestClient) -> None:
    """Every script and stylesheet the page names is a path of this server, served without the operator key."""
    page = app_client.get("/api/v1/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and not [url for url in assets if "//" in url], assets
    for url in assets:
        answer = app_client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 1000, url
    assert "/api/v1/openapi.json" in page.text
