"""For every step of the IdP transcripts (tests/samples/transcripts), the feed holds exactly the events the step's
``events`` names (none when it has no ``events``), in order, for the right resource, on both backends."""

import json
from pathlib import Path
from typing import Any

import pytest

from scimgate.events import feed
from scimgate.store.database import Database
from tests.helpers.scim import Scim
from tests.helpers.transcripts import TRANSCRIPTS, declare, substitute

pytestmark = pytest.mark.both_backends


def new_events(database: Database, after: int, directory_id: str) -> tuple[list[dict[str, Any]], int]:
    page = feed.read(database, after, limit=1000, directory_id=directory_id)
    return page.events, page.next_after


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[path.stem for path in TRANSCRIPTS])
def test_each_step_emits_exactly_its_events(scim: Scim, database: Database, transcript: Path) -> None:
    """Writes emit their events in the order they happened; reads and no-op writes emit none."""
    saved: dict[str, str] = {}
    _, position = new_events(database, 0, scim.directory_id)
    sequences: list[int] = []
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
        assert response.status_code == step["status"], where
        if "save" in step:
            saved[step["save"]] = response.json()["id"]
        found, position = new_events(database, position, scim.directory_id)
        assert [event["type"] for event in found] == step.get("events", []), where
        changes = [event["data"]["changed"] for event in found if "changed" in event["data"]]
        assert changes == ([step["changed"]] if "changed" in step else []), where
        resource = path.split("?")[0].rstrip("/").split("/")[-1] if path.count("/") > 1 else None
        for event in found:
            assert event["directory_id"] == scim.directory_id, where
            subject = event["data"]["object"]["id"]
            if event["type"].startswith("group.user_"):
                assert event["data"]["group"]["id"] == (resource or saved.get("group")), where
                assert subject in saved.values(), where
            else:
                assert subject == (resource or response.json()["id"]), where
            if event["type"] in ("user.created", "user.updated", "group.created", "group.updated"):
                assert event["data"]["raw"]["id"] == subject and event["data"]["raw"]["meta"]["version"], where
            sequences.append(event["sequence"])
    # Gapless and in order (after directory.created, which is number 1).
    assert sequences == list(range(2, 2 + len(sequences)))
