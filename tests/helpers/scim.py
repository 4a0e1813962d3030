"""Talking to the app in tests: a SCIM client for one directory, the management API, the samples, and the shape
every SCIM error must have."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory
from scimgate.events import feed
from scimgate.store.database import Database

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
BASE_URL = "http://testserver"
OPERATOR_KEY = "operator-key-for-tests-0123456789abcdef"
# The settings fixture opens /metrics with it (closed by default: issue 20, finding 8).
METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


@dataclass
class Scim:
    """A SCIM client for one directory: paths are relative to the directory's base URL."""

    client: TestClient
    directory_id: str
    token: str

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.directory_id}"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.base + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(self.base + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        headers = self.headers({"Content-Type": "application/scim+json", **kw.pop("headers", {})})
        return self.client.post(self.base + path, content=json.dumps(body), headers=headers, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        headers = self.headers({"Content-Type": "application/scim+json", **kw.pop("headers", {})})
        return self.client.put(self.base + path, content=json.dumps(body), headers=headers, **kw)

    def create_user(self, user_name: str, **attrs: Any) -> dict[str, Any]:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, **attrs}
        response = self.post("/Users", body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def create_group(self, display_name: str, members: list[str] | None = None, **attrs: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            **attrs,
        }
        if members is not None:
            body["members"] = [{"value": member} for member in members]
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


def scrape(client: TestClient) -> str:
    """/metrics as Prometheus reads it, with the metrics token of the settings fixture."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


def new_directory(database: Database, name: str) -> tuple[str, str]:
    """A directory and a bearer token for it, written straight to the database."""
    with database.write() as conn:
        directory = create_directory(conn, name)
        return directory.id, issue_token(conn, directory.id).token


@dataclass
class Api:
    """The management API, with the operator key."""

    client: TestClient

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_KEY}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self.headers(), **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post("/api/v1" + path, json=body if body is not None else {}, headers=self.headers(), **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.patch("/api/v1" + path, json=body, headers=self.headers(), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete("/api/v1" + path, headers=self.headers(), **kw)


def assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """A SCIM error (RFC 7644 §3.12): this status as a string, this scimType (or none), a detail; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/scim+json"
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def patch(scim: Scim, path: str, *operations: dict[str, Any], **kw: Any) -> Any:
    """PATCH these operations to a resource of the directory (extra headers and request arguments pass through)."""
    return scim.client.patch(
        scim.base + path,
        json={"schemas": [PATCH_OP], "Operations": list(operations)},
        headers=scim.headers({"Content-Type": "application/scim+json", **kw.pop("headers", {})}),
        **kw,
    )


def flush(client: TestClient) -> None:
    """Write what the provisioning log has queued (the background writer does this every half second)."""
    portal = client.portal
    assert portal is not None
    portal.call(client.app.state.request_log.flush)  # type: ignore[attr-defined, call-arg]


def all_events(database: Database, directory_id: str | None = None, types: list[str] | None = None) -> list[Any]:
    """The event feed from the start (up to 1,000 events), optionally of one directory and of some types."""
    return feed.read(database, 0, limit=1000, directory_id=directory_id, types=types).events
