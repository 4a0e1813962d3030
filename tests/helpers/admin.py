"""Signing in to the admin page from a TestClient, and reading the session cookie it set."""

import base64
import json
import re
from typing import Any

from starlette.testclient import TestClient

from tests.helpers.scim import OPERATOR_KEY


def sign_in(client: TestClient, key: str = OPERATOR_KEY) -> str:
    """Sign in; return the session's CSRF token."""
    response = client.post("/admin/login", data={"key": key})
    assert response.status_code == 200, response.text
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found is not None
    return found.group(1)


def session_of(client: TestClient) -> dict[str, Any]:
    """What the signed session cookie carries: it is signed, not encrypted, so anyone holding it can read this."""
    value = next(c.value for c in client.cookies.jar if c.name == "scimgate_admin")
    assert value is not None
    payload: dict[str, Any] = json.loads(base64.b64decode(value.split(".", 1)[0]))
    return payload
