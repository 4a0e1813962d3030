"""The management API against its own OpenAPI document, by schemathesis (security plan K1).

Every operation of ``/api/v1/openapi.json`` gets generated requests, valid and invalid, with the operator key, on a
real SQLite database that holds a directory with users, a group with members, a token, an OAuth client, a webhook
endpoint with deliveries and a role mapping. Each response must not be a 5xx, must have a documented status code
and content type (errors are ``application/problem+json``, never HTML), and must validate against the documented
schema: the problem schema for errors. Path parameters are either generated or the ids of what the database holds,
so the operations reach their data and not only their 404s; the database is put back after every request that can
change it, so a DELETE or a rotation does not leave the later examples without anything to find.

Bounded and deterministic for CI: a fixed number of examples per operation, derandomized generation, no example
database, no network (the app is called in-process). The schema is loaded at import from the document the app
serves, and each call is given the app on the seeded database: ``schemathesis.pytest.from_fixture`` would be the
documented way to build the schema from fixtures, but it sets ``Node._nodeid``, which pytest 9.2 no longer has.
"""

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python.asgi import shutdown_lifespans
from starlette.applications import Starlette
from starlette.testclient import TestClient

from scimgate.api.credentials import ClientIn, Rotation, TokenIn
from scimgate.api.directories import DirectoryChange, DirectoryIn
from scimgate.api.events import EndpointChange, EndpointIn, MappingIn
from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.domains import FakeResolver
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Api, Scim

MAX_EXAMPLES = 25
"""Fuzzing-phase examples per operation (the examples and coverage phases add their own, fixed, cases)."""
LONG_POLL_CAP = 0.05
"""``GET /events?wait=`` waits up to 30 s for an event that never comes here: generated waits are cut to this."""

CONFIG = schemathesis.Config.from_dict(
    {
        "base-url": f"{BASE_URL}/api/v1",
        "seed": 20260101,
        # Every distinct failure of an operation, in full (the only secret is this file's operator key; sanitizing
        # would also hide every value whose name holds "token").
        "continue-on-failure": True,
        "output": {"sanitization": {"enabled": False}},
        "headers": {"Authorization": f"Bearer {OPERATOR_KEY}"},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # The stateful phase does not run under pytest's parametrize; it is off so that the config says so.
        "phases": {"stateful": {"enabled": False}},
        # A request that fits the document can still be refused with a 400 by design, for a rule the document states
        # only in words: `?confirm=` that does not repeat the directory's id, an events cursor that is not digits, an
        # unknown event type. Those 400s are checked like every error (documented, problem+json, the Problem
        # schema). A 422 for data that fits the document stays a failure: the document is wrong. (NUL characters
        # and pydantic's lax mode: see filter_failure.)
        # A query string over 2 KB is refused by the gate before FastAPI sees it (414, issue 20): a rejection too.
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 404, 409, 414, 429]},
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429]
            },
        },
        "operations": [
            {
                # The same for the webhook URL (absolute http(s) with a host) and its event types (known ones): the
                # document says so in their descriptions, and scimgate.events.webhooks refuses the rest with a 422.
                "include-name": "POST /webhooks",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 404, 409, 422, 429]}
                },
            }
        ],
    }
)


@dataclass
class Seeded:
    """The database under test, its contents at the start, and the id of each kind of thing it holds."""

    db: Database
    snapshot: Path
    ids: dict[str, str]
    """Path-parameter name (as the OpenAPI document names it) -> an existing id."""

    def restore(self) -> None:
        """Put the database back as it was seeded (SQLite's backup API: safe beside the app's open connections)."""
        with closing(sqlite3.connect(self.snapshot)) as source, self.db.engine.connect() as conn:
            target = conn.connection.dbapi_connection
            assert isinstance(target, sqlite3.Connection)
            source.backup(target)


def _seed(client: TestClient) -> dict[str, str]:
    """Everything a path parameter can name, made through the APIs themselves (so events and deliveries exist)."""
    api = Api(client)

    def created(response: Any) -> dict[str, Any]:
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    made = created(api.post("/directories", {"name": "Contoso", "idp": "entra", "external_id": "org_42"}))
    directory_id = made["directory"]["id"]
    endpoint = created(api.post("/webhooks", {"url": "https://hooks.example.com/scim", "directory_id": directory_id}))
    scim = Scim(client, directory_id, made["token"]["token"])
    alice = scim.create_user("alice@contoso.com", name={"givenName": "Alice", "familyName": "Smith"}, active=True)
    bob = scim.create_user("bob@contoso.com")
    group = scim.create_group("Engineering", members=[alice["id"], bob["id"]])
    scim.create_group("Sales", members=[alice["id"]])
    created(api.post(f"/directories/{directory_id}/role-mappings", {"group_id": group["id"], "role": "engineer"}))
    token = created(api.post(f"/directories/{directory_id}/tokens", {"name": "Okta"}))
    oauth = created(api.post(f"/directories/{directory_id}/clients", {"name": "Entra"}))
    created(api.get("/events"))  # reading the feed gives the events their positions and queues their deliveries
    deliveries = api.get(f"/webhooks/{endpoint['id']}/deliveries").json()
    assert deliveries, "the seeded changes queued no webhook delivery"
    return {
        "directory_id": directory_id,
        "token_id": token["id"],
        "client_id": oauth["client"]["client_id"],
        "secret_id": oauth["secret"]["secret_id"],
        "user_id": alice["id"],
        "group_id": group["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": deliveries[0]["id"],
    }


Case = schemathesis.Case[Any]
SETTINGS = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False)
"""Only the operator key is ever sent, so the failed-key limit is never reached: a 429 would be a finding."""


def _openapi_document() -> dict[str, Any]:
    """The document as the app serves it (no lifespan, and the in-memory database is never opened)."""
    document: dict[str, Any] = (
        TestClient(create_app(SETTINGS, Database("sqlite://"))).get("/api/v1/openapi.json").json()
    )
    return document


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
EXISTING: dict[str, str] = {}
"""Path-parameter name -> an id the seeded database holds; filled by the ``target`` fixture before any example is
drawn (the hooks below read it while drawing, so the schema can be loaded at import)."""


@schema.hook
def before_generate_path_parameters(context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]) -> Any:
    """Each path parameter mostly an id the database holds, so operations reach data, else as generated (a 404;
    the coverage phase, which this hook does not reach, sends generated ones only)."""

    def existing_or_generated(params: Any) -> st.SearchStrategy[Any]:
        if not isinstance(params, dict):
            return st.just(params)
        choices = {
            name: _mostly(EXISTING[name], value) if name in EXISTING else st.just(value)
            for name, value in params.items()
        }
        return st.fixed_dictionaries(choices)

    return strategy.flatmap(existing_or_generated)


def _mostly(existing: Any, generated: Any) -> st.SearchStrategy[Any]:
    """Three times in four the value that reaches data, once the generated one."""
    return st.sampled_from([existing, existing, existing, generated])


@schema.hook
def before_generate_query(context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]) -> Any:
    """``DELETE /directories/{id}`` also with ``?confirm=`` the seeded id, so a delete itself runs."""
    operation = context.operation
    if operation is None or (operation.method.upper(), operation.path) != ("DELETE", "/directories/{directory_id}"):
        return strategy

    def maybe_confirmed(query: Any) -> st.SearchStrategy[Any]:
        if "directory_id" not in EXISTING or not (query is None or isinstance(query, dict)):
            return st.just(query)
        return st.sampled_from([query, {**(query or {}), "confirm": EXISTING["directory_id"]}])

    return strategy.flatmap(maybe_confirmed)


@schema.hook
def before_generate_body(context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]) -> Any:
    """Bodies that name something also with what exists: a webhook URL that is one, a group the directory has."""
    operation = context.operation
    if operation is None:
        return strategy
    method, path = operation.method.upper(), operation.path

    def existing_or_generated(body: Any) -> st.SearchStrategy[Any]:
        if not EXISTING or not isinstance(body, dict):
            return st.just(body)
        if (method, path) == ("POST", "/webhooks"):
            known = {"url": "https://hooks.example.com/scim", "directory_id": EXISTING["directory_id"], "types": None}
        elif method == "POST" and path.startswith("/directories/{directory_id}/role-mappings"):
            known = {"group_id": EXISTING["group_id"]}
        else:
            return st.just(body)
        return _mostly({**body, **known}, body)

    return strategy.flatmap(existing_or_generated)


@schema.hook
def filter_failure(
    context: schemathesis.HookContext, failure: Failure, case: Case, response: schemathesis.Response
) -> bool:
    """Every failure counts but two kinds, both by design (and neither about what K1 asks of responses):

    - a request with a NUL character, which the document does not forbid, refused: a 400 in the URL, a 422 in a body
      (PostgreSQL cannot store one);
    - a body that breaks the document only where pydantic's lax mode converts (0 for false, "5" for 5), accepted.

    Their responses are checked like every other (no 5xx, documented status and content type, schema)."""
    if isinstance(failure, RejectedPositiveData):
        return not _holds_nul(case)
    if isinstance(failure, AcceptedNegativeData):
        return not _lax_only(case)
    return True


def _holds_nul(case: Case) -> bool:
    def nul(value: Any) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(nul(key) or nul(item) for key, item in value.items())
        if isinstance(value, list):
            return any(nul(item) for item in value)
        return False

    encoded = any("%00" in str(value) for value in (case.path_parameters or {}).values())
    return encoded or nul(case.path_parameters) or nul(case.query) or nul(case.body)


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (DirectoryIn, DirectoryChange, TokenIn, Rotation, ClientIn, EndpointIn, EndpointChange, MappingIn)
}


def _lax_only(case: Case) -> bool:
    """The body is valid for its model in lax mode (as the API validates it) but not in strict mode."""
    request_body = DOCUMENT["paths"][case.path][case.method.lower()].get("requestBody", {})
    names = re.findall(r"#/components/schemas/(\w+)", json.dumps(request_body))
    if len(names) != 1 or names[0] not in REQUEST_MODELS or not isinstance(case.body, dict):
        return False
    model = REQUEST_MODELS[names[0]]
    try:
        model.model_validate(case.body, strict=True)
        return False
    except ValidationError:
        pass
    try:
        model.model_validate(case.body)
        return True
    except ValidationError:
        return False


@dataclass
class Target:
    app: Starlette
    seeded: Seeded


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Target]:
    """The app on a seeded database, shared by the module's tests: each example that can change it restores it."""
    directory = tmp_path_factory.mktemp("schemathesis")
    path = directory / "scimgate.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    with TestClient(create_app(SETTINGS, db), base_url=BASE_URL) as client:
        ids = _seed(client)
    snapshot = directory / "seeded.db"
    with db.engine.connect() as conn, closing(sqlite3.connect(snapshot)) as copy:
        source = conn.connection.dbapi_connection
        assert isinstance(source, sqlite3.Connection)
        source.backup(copy)
    EXISTING.update(ids)
    # A fake resolver: domain verification must not send generated names to real DNS servers.
    yield Target(create_app(SETTINGS, db, resolver=FakeResolver()), Seeded(db, snapshot, ids))
    EXISTING.clear()
    # The first call started the app's lifespan (its request-log writer), which schemathesis keeps for the process.
    shutdown_lifespans()
    db.dispose()


@schema.parametrize()
def test_management_api_conforms_to_its_openapi_document(case: Case, target: Target) -> None:
    if (case.method.upper(), case.path) == ("GET", "/events") and isinstance(case.query, dict):
        # A long poll on events that never come waits up to 30 s: cut short, it still runs the waiting loop.
        wait = case.query.get("wait")
        if isinstance(wait, int | float | str) and _number(wait) > LONG_POLL_CAP:
            case.query["wait"] = LONG_POLL_CAP
    try:
        response = case.call_and_validate(app=target.app)
    finally:
        if case.method.upper() != "GET":
            target.seeded.restore()
    if response.status_code >= 400:
        # content_type_conformance and response_schema_conformance check it against the document; K1 states it
        # whatever the document says, and the problem's status is the response's.
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), (response.status_code, content_type)
        assert json.loads(response.content)["status"] == response.status_code, response.content


def _number(value: int | float | str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0  # not a number: the API refuses it with a 422 at once


def test_a_newline_in_a_path_parameter_gets_a_problem_document(target: Target) -> None:
    """What schemathesis found: every path under /api/v1 is answered by the management API, as a problem document."""
    client = TestClient(target.app, base_url=BASE_URL)  # no `with`: schemathesis already runs the app's lifespan
    response = client.get("/api/v1/directories/a%0Ab", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
