"""IdP transcripts: realistic request sequences from Entra (with and without aadOptscim062020) and Okta, as data
files in tests/samples/transcripts, each step with the status it must get and the state it must leave."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.scim import Scim
from tests.helpers.transcripts import TRANSCRIPTS, substitute

pytestmark = pytest.mark.both_backends


def assert_contains(actual: Any, expected: Any, where: str) -> None:
    """Objects: every expected key with a matching value (others may exist). Lists and scalars: equal, with list
    items compared the same way in order."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: {key} missing from {actual!r}"
            assert_contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(got, want, f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[path.stem for path in TRANSCRIPTS])
def test_transcript(scim: Scim, transcript: Path) -> None:
    """Replay every step; each must get its status, contain what it expects and lack what must be absent."""
    saved: dict[str, str] = {}
    for step in json.loads(transcript.read_text())["steps"]:
        where = f"{transcript.stem}: {step['name']}"
        path = substitute(step["path"], saved)
        body = substitute(step.get("body"), saved)
        response = scim.client.request(
            step["method"],
            scim.base + path,
            content=json.dumps(body) if body is not None else None,
            headers=scim.headers({"Content-Type": "application/scim+json"}),
        )
        assert response.status_code == step["status"], f"{where}: {response.status_code} {response.text}"
        if "save" in step:
            saved[step["save"]] = response.json()["id"]
        if "expect" in step:
            assert_contains(response.json(), substitute(step["expect"], saved), where)
        for key in step.get("absent", []):
            assert key not in response.json(), f"{where}: {key} should be absent"
