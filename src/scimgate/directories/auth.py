"""Bearer-token authentication for everything below ``/scim/v2/{directory_id}``, before any routing happens.

The token decides the directory: a token is accepted only on its own directory's URLs. A token of another
directory, a revoked token, an unknown token and a missing one all get the same 401, so a response never tells
which directories exist. Tokens in the query string are never looked at (RFC 6750 §5.3: URLs end up in logs).
"""

import logging
import re
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.context import current_request
from scimgate.directories.credentials import Opened, diagnose, directory_for_token, needs_touch, touch
from scimgate.rate_limits import RateLimits, retry_after
from scimgate.scim.errors import AuthFailure, NotFound, Reason, TooManyRequests, Unauthorized, excerpt
from scimgate.store.database import Database
from scimgate.tokens import B64TOKEN, display_prefix, hash_token

logger = logging.getLogger("scimgate.auth")
_TOO_MANY_FAILURES = (
    "Too many requests with wrong credentials came from this address; wait, then send this directory's token."
)


def source_address(scope: Scope) -> str:
    """Where the request came from (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# Directory ids are "dir_" and 26 base32 characters (scimgate.ids); a little slack for ids written by hand in tests and
# older data, none for what no id contains (issue 20, finding 9: a NUL reached PostgreSQL, which answered with a 500).
_DIRECTORY_ID = re.compile(r"dir_[0-9A-Za-z_-]{1,60}")

_REFUSED = (
    "The bearer token is missing, wrong, revoked or expired, belongs to another directory, or the directory is "
    "disabled. Copy this directory's SCIM URL and a token of this directory into the IdP (Entra: Tenant URL and "
    "Secret Token)."
)


def without_directory(named: str, public_url: str) -> NotFound:
    """The 404 of "…/scim/v2/Users": a Tenant URL pasted without its directory id (nothing to authenticate). The
    expected form is shown under the configured public URL, never the request's Host."""
    return NotFound(
        f"This SCIM URL lacks the directory id: {excerpt(named, 40)} is where it goes. The Tenant URL looks like "
        f"{public_url}/scim/v2/dir_…; copy it from `scimgate directory list` or the admin page.",
        reason=Reason.WRONG_URL,
    )


def not_a_directory_id(named: str) -> NotFound:
    """The 404 of a URL whose directory segment cannot be an id (control characters, too long): answered before the
    database is asked anything, and the same with or without a token, so it tells nothing about what exists."""
    return NotFound(
        f"{excerpt(named, 40)} is not a directory id: ids are dir_ followed by 26 letters and digits. Copy the "
        "SCIM URL from `scimgate directory list` or the admin page.",
        reason=Reason.WRONG_URL,
    )


def check_directory_id(named: str, public_url: str) -> None:
    """Refuse (404) a URL segment that cannot be a directory id, before any credential or database is looked at."""
    if not named.startswith("dir_"):
        raise without_directory(named, public_url)
    if not _DIRECTORY_ID.fullmatch(named):
        raise not_a_directory_id(named)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.lstrip(" ")
    if scheme.lower() != "bearer" or not B64TOKEN.fullmatch(token):
        return None
    return token


def presented_prefix(authorization: str | None) -> str | None:
    """What the provisioning log may show of a refused credential: the scheme, and for a bearer token its kind's
    prefix and four characters (``scimgate_AbCd``), as the token list shows them. Enough to tell which token the
    IdP holds, or that it holds a truncated or quoted paste; never enough to use."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return scheme[:10] + " …"
    shown = display_prefix(rest.strip())
    return "".join(c if c.isprintable() else "?" for c in shown)[:24] + "…"


class TokenCache:
    """Tokens this worker accepted in the last few seconds, by their SHA-256.

    Checking a token is a database read and a trip to the thread pool, on every SCIM request; Entra sends the same
    token thousands of times an hour. Only accepted tokens are kept, for ``token_cache_seconds``: that is how long
    a revoked token or a changed directory can still be honoured by a worker (every worker forgets on its own
    clock, so no cross-worker signal is needed). Keys are hashes of full-entropy secrets, so a dictionary lookup
    leaks nothing an attacker can steer.
    """

    _MAX_ENTRIES = 10_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Opened]] = {}
        self.generation = 0
        """Moves on every ``forget``: a lookup that started before a revocation must not be cached after it."""

    def get(self, token_hash: str) -> Opened | None:
        entry = self._entries.get(token_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token_hash: str, opened: Opened, generation: int) -> None:
        """Remember ``opened``, read from the database while the cache was at ``generation``."""
        if generation != self.generation:
            return  # something was revoked or changed meanwhile: what was read may be stale already
        seconds = self.seconds
        if opened.expires_at is not None:  # never past the token's own expiry
            seconds = min(seconds, (opened.expires_at - datetime.now(UTC)).total_seconds())
        if seconds <= 0:
            return
        if len(self._entries) >= self._MAX_ENTRIES:
            self._entries.clear()  # simpler than LRU, and a refill costs one read per live token
        self._entries[token_hash] = (time.monotonic() + seconds, opened)

    def forget(self) -> None:
        """Drop everything: for changes made in this process (a token revoked, a directory made strict)."""
        self.generation += 1
        self._entries.clear()


class BearerAuth:
    def __init__(self, app: ASGIApp, db: Database, cache: TokenCache, limits: RateLimits, public_url: str) -> None:
        self.app = app
        self.public_url = public_url
        self.db = db
        self.cache = cache
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        directory_id = scope["path_params"]["directory_id"]
        check_directory_id(directory_id, self.public_url)
        opened = await self._authenticate(scope, directory_id)
        context = current_request.get()
        if context is not None:
            context.token_id, context.strict = opened.token_id, opened.strict
        wait = self.limits.per_directory.take(directory_id)
        if wait:
            raise TooManyRequests(
                "This directory is sending more requests than its rate limit allows; retry after the indicated delay. "
                "(The limit, rate_limit_per_second, is well above what Entra and Okta need.)",
                retry_after(wait),
            )
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            # Some IdP consoles keep a trailing slash on the tenant URL's paths: /Users/ is /Users.
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self._in_place(directory_id, scope, receive, send)

    async def _in_place(self, directory_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        """The request, holding one of its directory's places for requests in progress (429 when none is free)."""
        # After the token, before the body is read: one directory's requests in progress are capped, so that it
        # cannot hold every thread of the worker (issue 20, finding 2); an unauthenticated one takes no place.
        if not self.limits.in_flight.enter(directory_id):
            raise TooManyRequests(
                f"This directory already has {self.limits.in_flight.limit} requests in progress on this server "
                "(directory_concurrency); retry after the indicated delay, or send fewer requests at once.",
                "1",
            )
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self.limits.in_flight.leave(directory_id)

        async def send_last_after_leaving(message: Message) -> None:
            # The place is given back before the answer's last byte goes out: a client that sends its next request
            # as soon as it has the answer (16 in flight, one after another) must not find its old one still counted.
            # A client that reads its answers slowly thus holds them without a place: the rate limit bounds those.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                leave()
            await send(message)

        try:
            await self.app(scope, receive, send_last_after_leaving)
        finally:
            leave()

    async def _authenticate(self, scope: Scope, directory_id: str) -> Opened:
        """The directory the request's bearer token opens, which must be ``directory_id``; 401 or 429 otherwise."""
        headers = [value for name, value in scope["headers"] if name == b"authorization"]
        token = bearer_token(headers[0].decode("latin-1")) if len(headers) == 1 else None
        source = source_address(scope)
        context = current_request.get()
        if context is not None and headers:
            # Set before the outcome is known; the log shows it only for a request no credential opened.
            context.presented_prefix = presented_prefix(headers[0].decode("latin-1"))
        if token is None:
            # Counted like a wrong token (issue 20): a client sending none must not get unlimited free 401s.
            wait = self.limits.failed_credential(source)
            if wait:
                raise TooManyRequests(_TOO_MANY_FAILURES, retry_after(wait))
            raise Unauthorized(_REFUSED, AuthFailure(Reason.MALFORMED_TOKEN if headers else Reason.MISSING_TOKEN))
        token_hash = hash_token(token)
        opened = self.cache.get(token_hash)
        if opened is None:
            generation = self.cache.generation
            opened = await run_in_threadpool(self._directory_for, token)
            if opened is not None:
                self.cache.put(token_hash, opened, generation)
        if opened is None or opened.directory_id != directory_id:
            # A source that has presented too many wrong credentials gets 429 for its wrong ones (and no diagnosis,
            # which costs a read). Good tokens are always checked and pass: tokens have 256 bits, so checking them
            # helps no guesser, and an IdP behind the same proxy as a guesser must keep provisioning.
            wait = self.limits.failed_credential(source)
            if wait:
                raise TooManyRequests(_TOO_MANY_FAILURES, retry_after(wait))
            raise Unauthorized(_REFUSED, await run_in_threadpool(self._diagnose, token, directory_id))
        return opened

    def _diagnose(self, token: str, directory_id: str) -> AuthFailure:
        with self.db.read() as conn:
            return diagnose(conn, token, directory_id)

    def _directory_for(self, token: str) -> Opened | None:
        with self.db.read() as conn:
            opened = directory_for_token(conn, token)
        now = datetime.now(UTC)
        if opened is not None and needs_touch(opened, now):
            try:
                with self.db.write() as conn:
                    touch(conn, opened, now)
            except sa.exc.SQLAlchemyError as error:
                # Bookkeeping only: a busy database must not fail the IdP's request over a last-use time.
                logger.warning("could not record the last use of token %s: %s", opened.token_id, type(error).__name__)
        return opened
