"""Passwords an IdP sends (RFC 7643 §4.1.1; Okta's "Sync password"): discarded, or kept only as an Argon2id hash.

``passwords=discard`` (the default) is for applications users sign in to through SSO: a password is accepted and
dropped on arrival, never stored, returned or logged. ``passwords=hash`` is for applications with a password sign-in
of their own: the password is hashed with Argon2id (memory-hard; OWASP's parameters: 19 MiB, 2 passes, 1 lane,
about 30 ms here) with a salt of its own, stored in ``users.password_hash`` and nowhere else, and never returned,
logged or put in an event. The application checks a sign-in with :func:`verify_password` (embedded) or the
management API's ``POST …/users/{user_id}/password/verify``.

Either way the password is taken out of the request before anything else reads it: the resource parser, the PATCH
engine, the provisioning log (which redacts it as well) and events never see it. It is never advertised in
/Schemas, so a strict directory does not refuse it as unknown.
"""

from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from scimgate.scim.errors import InvalidValue
from scimgate.scim.schema import USER_SCHEMA
from scimgate.store.database import Database
from scimgate.store.tables import users

Mode = Literal["discard", "hash"]
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_NAMES = {"password", f"{USER_SCHEMA}:password".lower()}
MIN_LENGTH, MAX_LENGTH = 8, 1024  # NIST SP 800-63B's floor; the ceiling bounds the hashing work a request can ask for
# Verified against when there is no hash, so that an unknown user takes as long to refuse as a wrong password.
_DUMMY = _HASHER.hash("scimgate: no password is set for this user")


@dataclass(frozen=True)
class Change:
    """What a request does to the stored hash: nothing, set it (to ``hash``), or clear it (``hash`` None)."""

    hash: str | None


UNCHANGED: Change | None = None


@dataclass(frozen=True)
class Passwords:
    """What to do with the passwords IdPs send (the ``passwords`` setting)."""

    mode: Mode = "discard"

    def from_resource(self, payload: Any) -> tuple[Any, Change | None]:
        """A POST or PUT body without its password, and what to do with the stored hash."""
        if not isinstance(payload, dict):
            return payload, UNCHANGED
        sent = [key for key in payload if isinstance(key, str) and key.lower() in _NAMES]
        if not sent:
            return payload, UNCHANGED  # a PUT without a password keeps the one there is
        rest = {key: value for key, value in payload.items() if key not in sent}
        return rest, self._new(payload[sent[-1]])

    def from_patch(self, body: Any) -> tuple[Any, Change | None]:
        """A PATCH body without its password operations, and what they do to the stored hash (the last one wins)."""
        operations = body.get("Operations") if isinstance(body, dict) else None
        if not isinstance(operations, list):
            return body, UNCHANGED  # malformed: the PATCH engine says what is wrong with it
        change: Change | None = UNCHANGED
        kept: list[Any] = []
        for operation in operations:
            stripped, found = self._from_operation(operation)
            change = found if found is not UNCHANGED else change
            if stripped is not None:
                kept.append(stripped)
        return {**body, "Operations": kept}, change

    def _from_operation(self, operation: Any) -> tuple[Any, Change | None]:
        if not isinstance(operation, dict):
            return operation, UNCHANGED
        op = str(operation.get("op", "")).lower()
        path, value = operation.get("path"), operation.get("value")
        if isinstance(path, str) and path.strip().lower() in _NAMES:
            return None, (self._new(None) if op == "remove" else self._new(value))
        if path is None and isinstance(value, dict) and op in ("add", "replace"):
            value, change = self.from_resource(value)
            # An operation that held only the password is gone with it; the engine refuses empty no-path values.
            return ({**operation, "value": value} if value else None), change
        return operation, UNCHANGED

    def _new(self, password: Any) -> Change | None:
        if self.mode == "discard":
            return UNCHANGED
        if password is None or password == "":
            return Change(None)
        # Never quote the value: the detail goes back to the IdP and into the provisioning log.
        if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
            raise InvalidValue(
                f"The password does not meet this application's policy: a string of {MIN_LENGTH} to "
                f"{MAX_LENGTH:,} characters. It was not stored."
            )
        return Change(_HASHER.hash(password))


DISCARD = Passwords("discard")


def store_change(conn: Connection, directory_id: str, user_id: str, change: Change | None) -> None:
    """Write a request's password change, in the request's transaction."""
    if change is None:  # UNCHANGED
        return
    where = sa.and_(users.c.directory_id == directory_id, users.c.id == user_id)
    conn.execute(users.update().where(where).values(password_hash=change.hash))


def verify_password(db: Database, directory_id: str, user_id: str, password: str) -> bool:
    """Whether ``password`` is the one the IdP last sent for this user. False for an unknown user, a user without a
    password, and an inactive user (a disabled account must not sign in); the refusals take as long as a check."""
    with db.read() as conn:
        row = conn.execute(
            sa.select(users.c.password_hash, users.c.active).where(
                users.c.directory_id == directory_id, users.c.id == user_id
            )
        ).first()
    stored = row.password_hash if row is not None and row.password_hash else None
    matches: bool
    try:
        matches = _HASHER.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        matches = False
    return matches and stored is not None and row is not None and row.active is not False
