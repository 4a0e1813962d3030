"""The machinery of ``scimgate check``: one HTTP client bound to one base URL, steps, and what each found.

A step sends the requests an IdP sends, checks the answers against what the IdP needs, and on a mismatch says what
the IdP would do (its error code, whether the job would be quarantined) and how to fix the endpoint. The client only
ever sends to paths under the base URL it was given: URLs in responses (``Location``, ``meta.location``) are never
followed.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Failed(Exception):
    """A step's verdict: what went wrong, what the IdP does about it, and how to fix the endpoint."""

    def __init__(
        self, problem: str, consequence: str, fix: str, quarantine: bool = False, exchange: "Exchange | None" = None
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.consequence = consequence
        self.fix = fix
        self.quarantine = quarantine
        self.exchange = exchange
        """The request and answer that failed (None: the step's last one)."""


@dataclass
class Exchange:
    method: str
    path: str
    request: Any
    status: int
    content_type: str
    body: Any

    def summary(self) -> dict[str, Any]:
        return {
            "request": f"{self.method} {self.path}",
            "request_body": self.request,
            "status": self.status,
            "content_type": self.content_type,
            "response_body": _excerpt(self.body),
        }


def _excerpt(body: Any) -> Any:
    text = json.dumps(body) if not isinstance(body, str) else body
    return body if len(text) <= 2000 else text[:2000] + "…"


@dataclass
class Outcome:
    name: str
    passed: bool
    exchanges: list[Exchange]
    problem: str | None = None
    consequence: str | None = None
    fix: str | None = None
    quarantine: bool = False
    seconds: float = 0.0
    skipped: bool = False
    failed_exchange: Exchange | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "passed": self.passed,
            "skipped": self.skipped,
            "problem": self.problem,
            "idp_consequence": self.consequence,
            "quarantine": self.quarantine,
            "fix": self.fix,
            "seconds": round(self.seconds, 3),
            "exchanges": [exchange.summary() for exchange in self.exchanges],
        }


@dataclass
class Session:
    """The state of one check run: the client, what was created (to clean up), and the exchanges of the step."""

    base_url: str
    client: httpx2.Client
    token: str
    created: list[str] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    tag: str = ""

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = SCIM_JSON,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        """``headers``: what this IdP sends beside (or instead of) the bearer token and Accept."""
        if "://" in path or not path.startswith("/"):
            raise ValueError(f"check only sends to paths under {self.base_url}, not {path!r}")
        sent = {"Authorization": f"Bearer {self.token}", "Accept": SCIM_JSON, **(headers or {})}
        content = None
        if body is not None:
            sent["Content-Type"] = content_type
            content = json.dumps(body).encode()
        headers = sent
        try:
            response = self.client.request(method, self.base_url + path, content=content, headers=headers)
        except httpx2.TimeoutException as error:
            # Reached, but too slow: the fix is on the server's side (a slow query, a lock), not the network's.
            raise Failed(
                f"{method} {path}: no answer in time ({type(error).__name__})",
                "Entra logs the request as failed (Timeout) and retries on its next cycle, about 40 minutes later; "
                "a lookup that times out stalls the user's provisioning on every cycle.",
                "The server was reached but did not answer in time: find the slow request in its log (a filter "
                "without an index on userName or externalId, a large group's members read in full, a lock held by "
                "another write) and answer within a few seconds.",
            ) from None
        except httpx2.HTTPError as error:
            raise Failed(
                f"{method} {path}: no answer ({type(error).__name__}: {error})",
                "Entra logs the request as failed (a connection error) and retries on its next cycle, about 40 "
                "minutes later.",
                "Check that the URL is reachable from the internet over HTTPS (DNS, firewall, TLS certificate).",
            ) from None
        try:
            parsed: Any = response.json() if response.content else None
        except ValueError:
            parsed = response.text[:2000]
        exchange = Exchange(method, path, body, response.status_code, response.headers.get("content-type", ""), parsed)
        self.exchanges.append(exchange)
        return exchange

    def remember(self, path: str) -> None:
        self.created.append(path)


Step = Callable[[Session], None]


def run_steps(session: Session, steps: list[tuple[str, Step]], stop_after_failure: set[str]) -> list[Outcome]:
    """Run each step; a failed step in ``stop_after_failure`` (say, creating the user) ends the run."""
    outcomes = []
    for name, step in steps:
        session.exchanges = []
        started = time.perf_counter()
        try:
            step(session)
            outcome = Outcome(name, True, session.exchanges)
        except KeyError:  # it needs what an earlier, failed step should have created
            outcome = Outcome(name, False, session.exchanges, "not run: an earlier step it depends on failed")
            outcome.skipped = True
        except Failed as failure:
            outcome = Outcome(
                name,
                False,
                session.exchanges,
                failure.problem,
                failure.consequence,
                failure.fix,
                failure.quarantine,
                failed_exchange=failure.exchange,
            )
        outcome.seconds = time.perf_counter() - started
        outcomes.append(outcome)
        if not outcome.passed and name in stop_after_failure:
            break
    return outcomes


def cleanup(session: Session) -> list[str]:
    """Delete what the run created, newest first; the paths that could not be deleted."""
    left = []
    for path in reversed(session.created):
        try:
            exchange = session.send("DELETE", path)
        except Failed:
            left.append(path)
            continue
        if exchange.status not in (200, 204, 404):
            left.append(path)
    return left


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("the SCIM base URL is an http(s) URL without query or fragment, e.g. https://app/scim/v2")
    return url.rstrip("/")
