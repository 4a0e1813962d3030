"""`scimgate check` against scimgate (every step passes) and against deliberately broken SCIM servers: scimgate
with one well-known endpoint bug spliced in front of it. Each bug must be found, with the IdP's reaction."""

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.app import create_app
from scimgate.check import Report, entra, run_check
from scimgate.cli import main
from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, Api, Scim

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
Rewrite = Callable[[Scope, Any], Any]


class Broken:
    """scimgate, with a request rewrite before it and a response rewrite after it (JSON bodies)."""

    def __init__(
        self,
        app: ASGIApp,
        request: Rewrite | None = None,
        response: Rewrite | None = None,
        content_type: str | None = None,
    ) -> None:
        self.app, self.request, self.response, self.content_type = app, request, response, content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/scim/"):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.request and body:
            body = json.dumps(self.request(scope, json.loads(body))).encode()
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: Message = {}
        chunks = b""

        async def capture(message: Message) -> None:
            nonlocal start, chunks
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks += message.get("body", b"")

        await self.app(scope, replay, capture)
        headers = [(k, v) for k, v in start["headers"] if k not in (b"content-length", b"content-type")]
        content_type = self.content_type or "application/scim+json"
        status = start["status"]
        if self.response and chunks:
            status, payload = self.response(scope, (status, json.loads(chunks)))
            chunks = json.dumps(payload).encode()
        headers += [(b"content-length", str(len(chunks)).encode()), (b"content-type", content_type.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": chunks})


def error(status: int, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status), "detail": detail}


def case_sensitive_ops(scope: Scope, body: Any) -> Any:
    for op in body.get("Operations", []) if isinstance(body, dict) else []:
        if op.get("op") not in ("add", "replace", "remove"):
            op["op"] = "INVALID"  # what a case-sensitive server makes of "Replace"
    return body


def no_match_is_404(scope: Scope, answer: Any) -> Any:
    status, body = answer
    if scope["method"] == "GET" and b"filter" in scope["query_string"] and body.get("totalResults") == 0:
        return error(404, "No users match.")
    return answer


def members_anyway(scope: Scope, answer: Any) -> Any:
    status, body = answer
    targets = body.get("Resources", [body]) if isinstance(body, dict) else []
    for resource in targets:
        if "urn:ietf:params:scim:schemas:core:2.0:Group" in resource.get("schemas", []):
            resource["members"] = [{"value": "usr_somebody"}]
    return status, body


def strings_are_not_booleans(scope: Scope, body: Any) -> Any:
    for op in body.get("Operations", []) if isinstance(body, dict) else []:
        if op.get("value") in ("True", "False"):
            op["value"] = {"not": "a boolean"}  # refused, as a server that wants real booleans refuses "False"
    return body


def manager_as_string(scope: Scope, answer: Any) -> Any:
    status, body = answer
    manager = body.get(ENTERPRISE, {}).get("manager") if isinstance(body, dict) else None
    if isinstance(manager, dict):
        body[ENTERPRISE]["manager"] = manager["value"]
    return status, body


def remove_wipes_the_group(scope: Scope, body: Any) -> Any:
    for op in body.get("Operations", []) if isinstance(body, dict) else []:
        if str(op.get("op")).lower() == "remove" and op.get("path") == "members":
            op.pop("value", None)  # the RFC reading: remove members, all of them
    return body


@pytest.fixture
def target(api: Api, database: Database) -> tuple[str, str]:
    made = api.post("/directories", {"name": "Checked"}).json()
    return made["directory"]["scim_url"], made["token"]["token"]


@pytest.fixture
def unpaced(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Entra's burst step without its pauses. The step still sends its 50 lookups and checks every answer (status
    and latency); only the wait for the rest of each second is skipped, which is 2 s of nothing per check against
    a broken server. test_every_step_passes_against_scimgate runs the step at its real pace. Returns the pauses the
    step asked for."""
    pauses: list[float] = []
    monkeypatch.setattr(entra, "time", SimpleNamespace(monotonic=time.monotonic, sleep=pauses.append))
    return pauses


def check_against(database: Database, target: tuple[str, str], idp: str = "entra", **breakage: Any) -> Report:
    settings = Settings(public_url=BASE_URL, webhooks_in_serve=False)
    with TestClient(Broken(create_app(settings, database), **breakage), base_url=BASE_URL) as client:
        return run_check(target[0], target[1], idp, client=client)


def failure(report: Report, step_starts: str) -> Any:
    found = [o for o in report.outcomes if o.name.startswith(step_starts)]
    assert found, [o.name for o in report.outcomes]
    assert not found[0].passed, f"{step_starts} passed against a broken server"
    return found[0]


@pytest.mark.both_backends
@pytest.mark.parametrize("idp", ["entra", "okta", "authentik", "onelogin", "jumpcloud", "generic"])
def test_every_step_passes_against_scimgate(database: Database, target: tuple[str, str], scim: Scim, idp: str) -> None:
    """scimgate itself passes the whole cycle, and the check leaves nothing behind."""
    report = check_against(database, target, idp)
    assert report.passed, "\n".join(report.lines())
    assert report.summary().startswith(f"{len(report.outcomes)} of {len(report.outcomes)} steps passed")
    directory_id = target[0].rsplit("/", 1)[1]
    assert Scim(scim.client, directory_id, target[1]).get("/Users").json()["totalResults"] == 0
    assert Scim(scim.client, directory_id, target[1]).get("/Groups").json()["totalResults"] == 0


@pytest.mark.usefixtures("unpaced")
def test_case_sensitive_ops_are_found(database: Database, target: tuple[str, str]) -> None:
    """A server that wants lower-case ops fails Entra's default PATCHes."""
    found = failure(check_against(database, target, request=case_sensitive_ops), "PATCH without aadOptscim062020")
    assert "400" in found.problem and "ops in any case" in found.fix


@pytest.mark.usefixtures("unpaced")
def test_404_for_no_match_is_found(database: Database, target: tuple[str, str]) -> None:
    """404 instead of an empty list fails Test Connection, and Entra would quarantine the job."""
    report = check_against(database, target, response=no_match_is_404)
    found = failure(report, "Test Connection")
    assert found.quarantine and "EncounteredQuarantineException" in found.consequence
    assert "200 with an empty ListResponse" in found.fix and "quarantine" in report.summary()


@pytest.mark.usefixtures("unpaced")
def test_members_despite_excluded_attributes_are_found(database: Database, target: tuple[str, str]) -> None:
    found = failure(check_against(database, target, response=members_anyway), "Groups matched by displayName")
    assert "excludedAttributes=members" in found.problem
    assert "MultipleEntriesInResponse" in found.consequence


@pytest.mark.usefixtures("unpaced")
def test_string_booleans_refused_are_found(database: Database, target: tuple[str, str]) -> None:
    """Refusing "False" means Entra cannot disable anyone: leavers keep access."""
    found = failure(check_against(database, target, request=strings_are_not_booleans), "Disable and re-enable")
    assert "keep access" in found.consequence and '"True"/"False"' in found.fix


@pytest.mark.usefixtures("unpaced")
def test_manager_as_a_string_is_found(database: Database, target: tuple[str, str]) -> None:
    found = failure(check_against(database, target, response=manager_as_string), "Manager")
    assert "ServiceIncompatible" in found.consequence


@pytest.mark.usefixtures("unpaced")
def test_a_remove_that_wipes_the_group_is_found(database: Database, target: tuple[str, str]) -> None:
    found = failure(check_against(database, target, request=remove_wipes_the_group), "Members added and removed")
    assert "empties the group" in found.consequence


@pytest.mark.usefixtures("unpaced")
def test_application_json_responses_are_found(database: Database, target: tuple[str, str]) -> None:
    found = failure(check_against(database, target, content_type="application/json"), "Test Connection")
    assert "application/json" in found.problem and "application/scim+json" in found.fix


def test_the_command_prints_a_report_and_fails_the_build(target: tuple[str, str]) -> None:
    """Exit status 1 and a report naming the step when the endpoint is unreachable; --json for CI; only http(s)."""
    result = CliRunner().invoke(main, ["check", "http://127.0.0.1:9/scim/v2", "--token", "t", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False and report["steps"][0]["problem"].startswith("GET /Users")
    bad = CliRunner().invoke(main, ["check", "file:///etc/passwd", "--token", "t"])
    assert bad.exit_code == 2


def _rename_with_id(scope: Scope, body: Any) -> Any:
    for op in body.get("Operations", []) if isinstance(body, dict) else []:
        if isinstance(op.get("value"), dict) and "id" in op["value"]:
            op["value"]["id"] = "not-this-group"  # what a server comparing ids strictly makes of it: a change
    return body


def test_okta_profile_catches_a_server_refusing_the_rename_with_id(database: Database, target: tuple[str, str]) -> None:
    """Issue 19: the Okta profile sends the rename with the group's own id, and explains Okta's reaction."""
    found = failure(check_against(database, target, "okta", request=_rename_with_id), "OIN group push")
    assert "400" in found.problem and "stops pushing" in found.consequence and "own id" in found.fix


def test_okta_profile_syncs_a_password_by_a_no_path_patch(database: Database, target: tuple[str, str]) -> None:
    """Okta's OIN integrations PATCH to sync a password; the profile sends it as a no-path replace, and scimgate
    passes it (the password not returned, the profile unchanged)."""
    report = check_against(database, target, "okta")
    step = next(o for o in report.outcomes if o.name.startswith("OIN: password sync"))
    assert step.passed, step.as_dict()
    sent = [e.request for e in step.exchanges if e.method == "PATCH"]
    assert [op.keys() for op in sent[0]["Operations"]] == [{"op", "value"}]
    assert list(sent[0]["Operations"][0]["value"]) == ["password"]


def _password_needs_a_path(scope: Scope, body: Any) -> Any:
    for op in body.get("Operations", []) if isinstance(body, dict) else []:
        if isinstance(op.get("value"), dict) and "password" in op["value"]:
            op["value"] = op["value"]["password"]  # a server that takes no-path values for a bare password: refused
    return body


def test_okta_profile_catches_a_refused_password_sync(database: Database, target: tuple[str, str]) -> None:
    found = failure(check_against(database, target, "okta", request=_password_needs_a_path), "OIN: password sync")
    assert "400" in found.problem and "password sync fails" in found.consequence
    assert '{"password": "…"}' in found.fix


def _errors_as(status: int, body: Any) -> Rewrite:
    """A response rewrite: every ``status`` answer gets ``body`` instead of its SCIM Error."""

    def rewrite(scope: Scope, answer: Any) -> Any:
        return (status, body) if answer[0] == status else answer

    return rewrite


ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.mark.parametrize(
    ("code", "body", "step", "says"),
    [
        (409, {"error": "User already exists"}, "Create", ("stop the provisioning job", '"scimType": "uniqueness"')),
        (409, {"schemas": [ERROR_URN], "status": 409, "detail": "Taken."}, "Create", ("§3.12", '"status": "409"')),
        (404, "Not Found", "Lookups", ("OIN tests", '"status": "404"')),
        (404, {"schemas": [ERROR_URN], "status": 404, "detail": "Gone."}, "Lookups", ("§3.12", "status a string")),
    ],
)
def test_okta_profile_checks_error_bodies(
    database: Database, target: tuple[str, str], code: int, body: Any, step: str, says: tuple[str, str]
) -> None:
    """Okta's 409 and 404 must be SCIM Error documents (RFC 7644 §3.12: the Error URN, status as a string, and
    scimType uniqueness for the 409), not a status with any body. ``says``: in the consequence, in the fix. A body
    that is no Error document at all gets Okta's reaction; a numeric status (as in Okta's own samples) the RFC's."""
    found = failure(check_against(database, target, "okta", response=_errors_as(code, body)), step)
    assert f"answered {code} without a SCIM Error body" in found.problem
    assert says[0] in found.consequence and says[1] in found.fix and "SCIM Error document" in found.fix


def _without_bulk(scope: Scope, answer: Any) -> Any:
    status, body = answer
    if scope["path"].endswith("/ServiceProviderConfig"):
        body.pop("bulk", None)
    return status, body


def test_authentik_profile_catches_an_incomplete_service_provider_config(
    database: Database, target: tuple[str, str]
) -> None:
    found = failure(check_against(database, target, "authentik", response=_without_bulk), "ServiceProviderConfig")
    assert "no PATCH and no filter" in found.consequence


def _emails_must_be_arrays(scope: Scope, body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("emails"), dict):
        body["emails"] = "not an array"  # a server that refuses OneLogin's single email object
    return body


def test_onelogin_profile_catches_a_refused_single_email(database: Database, target: tuple[str, str]) -> None:
    found = failure(check_against(database, target, "onelogin", request=_emails_must_be_arrays), "Create")
    assert "400" in found.problem


def test_jumpcloud_profile_catches_a_remove_by_value_that_is_ignored(
    database: Database, target: tuple[str, str]
) -> None:
    found = failure(check_against(database, target, "jumpcloud", request=_drop_remove_values), "Groups")
    assert "members after a remove by value" in found.problem


def _drop_remove_values(scope: Scope, body: Any) -> Any:
    for op in body.get("Operations", []) if isinstance(body, dict) else []:
        if str(op.get("op")).lower() == "remove" and op.get("path") == "members":
            op["op"], op["path"] = "add", "members"  # a server that reads the removal as nothing to do (or worse)
    return body


def test_generic_profile_catches_no_404_after_delete(database: Database, target: tuple[str, str]) -> None:
    def still_there(scope: Scope, answer: Any) -> Any:
        status, body = answer
        return (200, {"id": "ghost", "schemas": []}) if status == 404 and scope["method"] == "GET" else answer

    found = failure(check_against(database, target, "generic", response=still_there), "Paging, delete")
    assert "404" in found.problem


def test_a_wrong_token_is_explained_as_a_token_problem(database: Database, target: tuple[str, str]) -> None:
    """Fix text by cause: a 401 says the token is wrong or revoked, not a filter hint or a compliance issue."""
    report = check_against(database, (target[0], "scimgate_" + "x" * 43), "entra")
    first = report.outcomes[0]
    assert not first.passed and "token is wrong or revoked" in (first.fix or "")
    assert "compliance" not in (first.consequence or "").lower()


def test_a_url_without_the_directory_id_is_explained(database: Database, target: tuple[str, str]) -> None:
    base = target[0].rsplit("/", 1)[0]  # …/scim/v2, the directory id left out
    report = check_against(database, (base, target[1]), "okta")
    assert "lacks the directory id" in (report.outcomes[0].fix or "")


def _every_answer(code: int) -> Rewrite:
    """A response rewrite: every SCIM answer becomes a ``code`` SCIM Error."""

    def rewrite(scope: Scope, answer: Any) -> Any:
        return error(code, "Refused.")

    return rewrite


@pytest.mark.usefixtures("unpaced")
@pytest.mark.parametrize(
    ("code", "says", "not_said"),
    [
        (403, "token is wrong or revoked, or belongs to another directory", "Content-Type"),
        (415, "Accept Content-Type application/scim+json and application/json", "token"),
    ],
)
def test_a_403_or_415_is_explained_by_its_cause(
    database: Database, target: tuple[str, str], code: int, says: str, not_said: str
) -> None:
    """Fix text by cause: a 403 is a credential problem (like a 401), a 415 a content-type problem, whatever the
    step was checking; neither is a filter hint or a compliance issue."""
    first = check_against(database, target, "entra", response=_every_answer(code)).outcomes[0]
    assert not first.passed and f"answered {code}" in (first.problem or "")
    assert says in (first.fix or "") and not_said not in (first.fix or "")
    assert "empty ListResponse" not in (first.fix or "") and "compliance" not in (first.consequence or "").lower()


def refuse(status: int, scim_type: str, method: str, filtered: bool = False) -> Rewrite:
    """A response rewrite: the answers to ``method`` (those with a filter, when ``filtered``) become a 400 with
    ``scim_type``, as a server refusing that form answers."""

    def rewrite(scope: Scope, answer: Any) -> Any:
        if scope["method"] != method or (filtered and b"filter" not in scope["query_string"]):
            return answer
        code, body = error(status, "Refused.")
        return code, {**body, "scimType": scim_type}

    return rewrite


@pytest.mark.usefixtures("unpaced")
def test_a_refused_filter_is_explained_as_a_filter_to_parse(database: Database, target: tuple[str, str]) -> None:
    """A 400 invalidFilter says the server could not parse the filter (quoting it), not that empty results
    should be a 200."""
    report = check_against(database, target, response=refuse(400, "invalidFilter", "GET", filtered=True))
    first = report.outcomes[0]
    assert not first.passed and "could not parse the filter (userName eq" in (first.fix or "")
    assert "empty ListResponse" not in (first.fix or "")


@pytest.mark.usefixtures("unpaced")
@pytest.mark.parametrize(
    ("scim_type", "says"),
    [
        ("invalidPath", "refused the PATCH path (Replace"),
        ("invalidValue", 'booleans as the strings "True"/"False"'),
        ("mutability", "only id and meta are read-only"),
    ],
)
def test_a_refused_patch_is_explained_by_what_was_refused(
    database: Database, target: tuple[str, str], scim_type: str, says: str
) -> None:
    """A 400 to a PATCH says what its scimType names (the path, a value, a read-only attribute), then the step's
    own list of the forms Entra sends."""
    found = failure(check_against(database, target, response=refuse(400, scim_type, "PATCH")), "PATCH without")
    assert says in (found.fix or "") and (found.fix or "").endswith(".") and "Accept every PATCH form" in found.fix
    others = [text for name, text in (("invalidPath", "PATCH path"), ("mutability", "read-only")) if name != scim_type]
    assert not any(text in found.fix for text in others)


@pytest.mark.parametrize(
    ("raised", "says"),
    [
        (httpx2.ReadTimeout("timed out"), "did not answer in time"),
        (httpx2.ConnectError("refused"), "reachable from the internet"),
    ],
)
def test_no_answer_is_explained_by_why(raised: Exception, says: str) -> None:
    """A timeout points at the server's slow request; a connection error at the network; neither at the other."""

    def fail(request: httpx2.Request) -> httpx2.Response:
        raise raised

    client = httpx2.Client(transport=httpx2.MockTransport(fail))
    first = run_check("https://scim.example/scim/v2/dir_x", "scimgate_" + "x" * 43, "entra", client=client).outcomes[0]
    assert not first.passed and says in (first.fix or "")
    assert ("reachable" in (first.fix or "")) == (says == "reachable from the internet")
