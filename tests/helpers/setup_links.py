"""Setup links in tests: one made straight in the database, and the page's form token read from its HTML."""

import re
from datetime import timedelta

from starlette.testclient import TestClient

from scimgate.directories.links import DEFAULT_LIFETIME, create_link
from scimgate.store.database import Database


def new_link(database: Database, directory_id: str, lifetime: timedelta = DEFAULT_LIFETIME) -> tuple[str, str]:
    """A setup link of the directory: its id and the path of its page (``/setup/<secret>``)."""
    with database.write() as conn:
        issued = create_link(conn, directory_id, lifetime)
    return issued.id, f"/setup/{issued.secret}"


def form_token(client: TestClient, page: str) -> str:
    """The CSRF token of the setup page's forms."""
    response = client.get(page)
    assert response.status_code == 200, response.text
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found is not None
    return found.group(1)


def shown_token(html: str) -> str:
    """The bearer token a page shows once."""
    found = re.search(r'<code class="token">([^<]+)</code>', html)
    assert found is not None, html
    return found.group(1)
