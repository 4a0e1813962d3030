"""IdP transcripts: realistic request sequences from Entra (with and without aadOptscim062020) and Okta, as data
files in tests/samples/transcripts, each step with the status it must get and the state it must leave."""

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from scimgate.store.tables import request_log
from tests.helpers.scim import Scim, flush
from tests.helpers.transcripts import TRANSCRIPTS, declare, substitute

pytestmark = pytest.mark.both_backends

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


def ignored_in_log(scim: Scim, request_id: str) -> Any:
    """What the provisioning log's row of this request says tolerant mode ignored."""
    flush(scim.client)
    portal = scim.client.portal
    assert portal is not None
    database = scim.client.app.state.database  # type: ignore[attr-defined]
    with database.read() as conn:
        return conn.execute(sa.select(request_log.c.ignored).where(request_log.c.id == request_id)).scalar_one()


def check_step(scim: Scim, step: dict[str, Any], response: Any, saved: dict[str, str], where: str) -> None:
    """Besides the status: ``expect`` (contained), ``equal`` (keys whose values must be exactly these: what the IdP
    sent, read back byte for byte), ``absent``, ``detail_contains`` and ``ignored`` (named in the log)."""
    if "expect" in step:
        assert_contains(response.json(), substitute(step["expect"], saved), where)
    for key, value in step.get("equal", {}).items():
        assert response.json().get(key) == substitute(value, saved), f"{where}: {key} is {response.json().get(key)!r}"
    for key in step.get("absent", []):
        assert key not in response.json(), f"{where}: {key} should be absent"
    if "detail_contains" in step:
        assert step["detail_contains"] in response.json()["detail"], where
    if "ignored" in step:
        assert ignored_in_log(scim, response.headers["x-request-id"]) == step["ignored"], where


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[path.stem for path in TRANSCRIPTS])
def test_transcript(scim: Scim, transcript: Path) -> None:
    """Replay every step; each must get its status, contain what it expects and lack what must be absent."""
    saved: dict[str, str] = {}
    recorded = json.loads(transcript.read_text())
    declare(scim, recorded.get("declare", []))
    for step in recorded["steps"]:
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
        check_step(scim, step, response, saved, where)
