"""Who may use the admin page: the credential check shared by signing in and signing in again, the session's keyed
fingerprint of the credentials, and the re-authentication asked for before a secret is minted.

Issue 20, finding 12 (security plan A12, after Bitwarden's CVE-2026-43640, V7: a SCIM key rotated with nothing but
a session): a session browses for 12 hours, but a request that mints a secret needs the operator key or the admin
password entered in the last five minutes, so a cookie left in a browser or lifted from one mints nothing alone.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from scimgate.admin.common import render
from scimgate.config import Settings
from scimgate.directories.auth import source_address
from scimgate.rate_limits import RateLimits, retry_after
from scimgate.store import resources as store
from scimgate.store.database import Database

REAUTH_SECONDS = 5 * 60


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    retry_after: str | None = None


@dataclass
class Signin:
    settings: Settings
    db: Database
    limits: RateLimits
    _session_key: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> list[str]:
        found = (self.settings.operator_key, self.settings.admin_password)
        return [s.get_secret_value() for s in found if s is not None]

    async def session_key(self) -> str:
        """The random key the session cookie is signed with, kept in the database (the same for every worker)."""
        if self._session_key is None:
            self._session_key = await run_in_threadpool(_instance_secret, self.db)
        return self._session_key

    def verify(self, source: str, presented: str) -> Refusal | None:
        """None when ``presented`` is the operator key or the admin password; else why not, the failure counted."""
        digest = hashlib.sha256(presented.encode()).digest()
        matches = [hmac.compare_digest(digest, hashlib.sha256(s.encode()).digest()) for s in self.secrets]
        # The operator key (high-entropy) is always checked; the password, which could be guessed, is not
        # while this source is over its budget of failures, right or wrong.
        by_key = self.settings.operator_key is not None and matches[0]
        wait = self.limits.failures.exhausted(source)
        if not by_key and wait:
            return Refusal(429, "Too many failed sign-ins from this address; wait a minute.", retry_after(wait))
        if not any(matches):
            self.limits.failed_credential(source)  # under budget (just checked): counted
            return Refusal(401, "That is not the operator key or the admin password.")
        return None

    def fingerprint(self, key: str, salt: str) -> str:
        """The credentials, keyed by the server's session key and salted per session (finding 12): the cookie says
        nothing about the password, not even to someone who guesses it offline, and a new key or password (another
        fingerprint) ends every session made before."""
        message = "\n".join(["scimgate admin fingerprint", salt, *self.secrets])
        return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()

    async def start(self, session: dict[str, Any]) -> None:
        salt = secrets.token_urlsafe(16)
        now = time.time()
        session.clear()
        session.update(
            {
                "signed_in": True,
                "csrf": secrets.token_urlsafe(24),
                "salt": salt,
                "fp": self.fingerprint(await self.session_key(), salt),
                "at": now,  # when the session began (a sign-out ends the sessions begun before it)
                "auth_at": now,  # when the credential was last entered (re-authentication)
            }
        )

    async def matches(self, session: dict[str, Any]) -> bool:
        """Whether the session was made under the current credentials."""
        expected = self.fingerprint(await self.session_key(), str(session.get("salt", "")))
        return bool(session.get("signed_in")) and hmac.compare_digest(str(session.get("fp", "")), expected)


def _instance_secret(db: Database) -> str:
    with db.read() as conn:
        found = store.instance_secret(conn, "admin_session")
    if found is not None:
        return found
    with db.write() as conn:
        return store.create_instance_secret(conn, "admin_session")


def signin_of(request: Request) -> Signin:
    found: Signin = request.app.state.signin
    return found


def refused(request: Request, template: str, context: dict[str, Any], refusal: Refusal) -> Response:
    response = render(request, template, {**context, "error": refusal.message}, status_code=refusal.status)
    if refusal.retry_after is not None:
        response.headers["Retry-After"] = refusal.retry_after
    return response


def recently_authenticated(session: dict[str, Any]) -> bool:
    return time.time() - float(session.get("auth_at", 0)) <= REAUTH_SECONDS


async def reauthenticate(request: Request, form: dict[str, Any], minting: str) -> Response | None:
    """None when this session may mint a secret now; otherwise the page that asks for the credential again, which
    posts the same form back with it (so the action goes on once it is right). A wrong credential mints nothing and
    counts as a failed sign-in."""
    if recently_authenticated(request.session):
        return None
    fields = [(name, str(value)) for name, value in form.items() if name not in ("csrf", "key")]
    context: dict[str, Any] = {"action": request.url.path, "fields": fields, "minting": minting, "error": None}
    if "key" not in form:
        return render(request, "reauth.html", context, status_code=401)
    refusal = signin_of(request).verify(source_address(request.scope), str(form["key"]))
    if refusal is not None:
        return refused(request, "reauth.html", context, refusal)
    request.session["auth_at"] = time.time()
    return None
