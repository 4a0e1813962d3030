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

from scimgate.scim.errors import InvalidSyntax, InvalidValue
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
class PasswordChange:
    """What a request does to the stored hash: nothing, set it (to ``hash``), or clear it (``hash`` None)."""

    hash: str | None


UNCHANGED: PasswordChange | None = None


@dataclass(frozen=True)
class Passwords:
    """What to do with the passwords IdPs send (the ``passwords`` setting)."""

    mode: Mode = "discard"

    def from_resource(self, payload: Any) -> tuple[Any, PasswordChange | None]:
        """A POST or PUT body without its password, and what to do with the stored hash."""
        if not isinstance(payload, dict):
            return payload, UNCHANGED
        sent = [key for key in payload if isinstance(key, str) and key.lower() in _NAMES]
        if not sent:
            return payload, UNCHANGED  # a PUT without a password keeps the one there is
        if len(sent) > 1:  # {"password": …, "Password": …}: which one? Refused, as other duplicate keys are.
            raise InvalidSyntax("The password appears more than once (keys differing only in case).")
        rest = {key: value for key, value in payload.items() if key != sent[0]}
        return rest, self._new(payload[sent[0]])

    def from_patch(self, body: Any) -> tuple[Any, PasswordChange | None]:
        """A PATCH body without its password operations, and what they do to the stored hash (the last one wins;
        only it is hashed, so a PATCH of 20,000 password operations costs one hash, not 20,000)."""
        key = _key(body, "operations")
        if key is None or not isinstance(body[key], list):
            return body, UNCHANGED  # malformed: the PATCH engine says what is wrong with it
        last: tuple[Any] | None = None  # (the value,) of the last password operation; (None,) for a remove
        kept: list[Any] = []
        for operation in body[key]:
            stripped, found = _from_operation(operation)
            last = found if found is not None else last
            if stripped is not None:
                kept.append(stripped)
        if last is None:
            return body, UNCHANGED
        return {**body, key: kept}, self._new(last[0])

    def announced(self, change: PasswordChange | None) -> list[str]:
        """``["password"]`` for the user.updated event's ``changed`` when the kept password changed (with
        passwords=hash: an application signing users in with it revokes their sessions on it)."""
        return ["password"] if self.mode == "hash" and change is not UNCHANGED else []

    def _new(self, password: Any) -> PasswordChange:
        if self.mode == "discard" or password is None or password == "":
            # Discarding also forgets a hash kept while passwords=hash: switching back never revives an old one.
            return PasswordChange(None)
        # Never quote the value: the detail goes back to the IdP and into the provisioning log.
        if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
            raise InvalidValue(
                f"The password does not meet this application's policy: a string of {MIN_LENGTH} to "
                f"{MAX_LENGTH:,} characters. It was not stored."
            )
        return PasswordChange(_HASHER.hash(password))


def only_password(body: Any) -> bool:
    """Whether a PATCH body, its password operations taken out, has no operation left."""
    key = _key(body, "operations")
    return key is not None and body[key] == []


def _key(mapping: Any, name: str) -> str | None:
    """The key of ``mapping`` that is ``name`` in any case (the PATCH engine reads keys that way), if one is."""
    if not isinstance(mapping, dict):
        return None
    return next((key for key in mapping if isinstance(key, str) and key.lower() == name), None)


def _from_operation(operation: Any) -> tuple[Any, tuple[Any] | None]:
    """The operation without its password (None when nothing else is left), and (the password,) if it had one.
    Anything the engine would refuse (an unknown op, a malformed operation) is left to the engine, password and
    all: it refuses the whole PATCH without quoting values."""
    op_key, path_key, value_key = _key(operation, "op"), _key(operation, "path"), _key(operation, "value")
    op = operation.get(op_key) if op_key else None
    if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
        return operation, None
    path = operation.get(path_key) if path_key else None
    value = operation.get(value_key) if value_key else None
    if isinstance(path, str) and path.strip().lower() in _NAMES:
        return None, ((None if op.lower() == "remove" else value),)
    if not path and isinstance(value, dict) and op.lower() in ("add", "replace") and value_key is not None:
        sent = [key for key in value if isinstance(key, str) and key.lower() in _NAMES]
        if len(sent) != 1:
            return operation, None  # none, or duplicates the engine refuses
        rest = {key: item for key, item in value.items() if key != sent[0]}
        # An operation that held only the password is gone with it; the engine refuses empty no-path values.
        return ({**operation, value_key: rest} if rest else None), (value[sent[0]],)
    return operation, None


DISCARD = Passwords("discard")


def store_change(conn: Connection, directory_id: str, user_id: str, change: PasswordChange | None) -> None:
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
