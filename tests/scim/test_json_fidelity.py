"""What an IdP sends comes back as sent, whichever JSON encoder wrote it (scimgate.jsonio: orjson, and the standard
library for what orjson refuses)."""

import json

import pytest

from tests.helpers.scim import Scim

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


@pytest.mark.both_backends
def test_numbers_beyond_64_bits_and_unicode_round_trip(scim: Scim) -> None:
    values = {"big": 10**30, "edge": 2**63, "negative": -(2**70), "ratio": 0.1, "name": "Zoë 名前 \u2028"}
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ACME],
        "userName": "n@contoso.example",
        ACME: values,
    }
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.text
    assert json.loads(created.content)[ACME] == values
    stored = scim.get(f"/Users/{created.json()['id']}")
    assert json.loads(stored.content)[ACME] == values
    # The exact integers, not floats: Python's json keeps them as int.
    assert stored.json()[ACME]["big"] == 10**30 and isinstance(stored.json()[ACME]["big"], int)


def test_responses_are_compact_utf8(scim: Scim) -> None:
    created = scim.post("/Users", {"userName": "zoë@contoso.example"})
    assert "zoë@contoso.example".encode() in created.content  # UTF-8, not \\u escapes
    assert b'"userName":"zo' in created.content
