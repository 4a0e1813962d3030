"""The IdP transcripts (tests/samples/transcripts): realistic request sequences as data, with ``{name}`` standing
for the id a previous step saved."""

import re
from typing import Any

from tests.helpers.scim import OPERATOR_KEY, SAMPLES, Scim

TRANSCRIPTS = sorted((SAMPLES / "transcripts").glob("*.json"))


def substitute(value: Any, saved: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: saved.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, saved) for key, item in value.items()}
    return value


def declare(scim: Scim, definitions: list[Any]) -> None:
    """The extension schemas a transcript's application declared, through the management API."""
    for definition in definitions:
        response = scim.client.post(
            "/api/v1/schemas", json={"definition": definition}, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        )
        assert response.status_code == 201, response.text
