"""A directory's email domains: declared, proved by a DNS TXT record, and the policy applied to users outside them.

Declaring a domain gives it a random token; the customer publishes ``scimgate-verification=<token>`` as a TXT
record at the domain or at ``_scimgate.<domain>`` (the second keeps the apex's records tidy), and presses Verify.
The token differs per directory, so a domain verified by one directory means nothing for another: a second
customer claiming the same domain has to publish its own record (which only the domain's owner can do). The
operator may also mark a domain verified on their own word (a customer known by contract, no DNS access).
The policy itself is applied in scimgate/scim/domains.py.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.directories.credentials import maybe_utc
from scimgate.directories.resolver import Resolver
from scimgate.ids import new_id
from scimgate.scim.domains import POLICIES, domain_key
from scimgate.store.database import Database, utc
from scimgate.store.tables import directories, directory_domains

RECORD_PREFIX = "scimgate-verification="
MAX_DOMAINS = 50  # per directory: a customer owns a handful; a loop in a script must not fill the table


class DomainError(ValueError):
    """A domain that cannot be declared (not a domain name, already declared, too many)."""


@dataclass(frozen=True)
class Domain:
    id: str
    directory_id: str
    domain: str
    token: str
    created_at: datetime
    verified_at: datetime | None
    verified_by: str | None
    checked_at: datetime | None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def record_value(self) -> str:
        """What the TXT record must hold."""
        return RECORD_PREFIX + self.token

    @property
    def record_names(self) -> tuple[str, str]:
        """Where the TXT record may be published."""
        return (f"_scimgate.{self.domain}", self.domain)


def _domain(row: sa.Row[Any]) -> Domain:
    return Domain(
        id=row.id,
        directory_id=row.directory_id,
        domain=row.domain,
        token=row.token,
        created_at=utc(row.created_at),
        verified_at=maybe_utc(row.verified_at),
        verified_by=row.verified_by,
        checked_at=maybe_utc(row.checked_at),
    )


def valid_domain(text: str) -> str:
    """The comparison form of a declared domain; DomainError for an address, a single label or a bad name."""
    text = text.strip()
    if text.count("@") == 1:  # pasted an address: keep its domain, as the IT admin meant
        text = text.split("@")[1]
    try:
        domain = domain_key(text)
    except ValueError as error:
        raise DomainError(str(error)) from None
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(0 < len(label) <= 63 for label in labels)
        or not all(c.isalnum() or c == "-" for label in labels for c in label)
        or any(label.startswith("-") or label.endswith("-") for label in labels)
    ):
        raise DomainError(f"{text[:80]!r} is not a domain name such as example.com")
    return domain


def list_domains(conn: Connection, directory_id: str) -> list[Domain]:
    query = sa.select(directory_domains).where(directory_domains.c.directory_id == directory_id)
    return [_domain(row) for row in conn.execute(query.order_by(directory_domains.c.domain))]


def get_domain(conn: Connection, directory_id: str, domain: str) -> Domain | None:
    try:
        key = valid_domain(domain)
    except DomainError:
        return None
    row = conn.execute(
        sa.select(directory_domains).where(
            directory_domains.c.directory_id == directory_id, directory_domains.c.domain == key
        )
    ).first()
    return _domain(row) if row is not None else None


def add_domain(conn: Connection, directory_id: str, domain: str) -> Domain:
    key = valid_domain(domain)
    held = list_domains(conn, directory_id)
    if any(d.domain == key for d in held):
        raise DomainError(f"{key} is already declared for this directory")
    if len(held) >= MAX_DOMAINS:
        raise DomainError(f"a directory declares at most {MAX_DOMAINS} domains")
    values = {
        "id": new_id("dom"),
        "directory_id": directory_id,
        "domain": key,
        "token": secrets.token_urlsafe(24),
        "created_at": datetime.now(UTC),
    }
    try:
        conn.execute(directory_domains.insert().values(**values))
    except sa.exc.IntegrityError:
        # The same domain added twice at once (a double click): the second finds the first's row. The transaction
        # is spoiled on PostgreSQL, so the error ends it: nothing of this request is written.
        raise DomainError(f"{key} is already declared for this directory") from None
    found = get_domain(conn, directory_id, key)
    assert found is not None
    return found


def remove_domain(conn: Connection, directory_id: str, domain: str) -> bool:
    found = get_domain(conn, directory_id, domain)
    if found is None:
        return False
    conn.execute(directory_domains.delete().where(directory_domains.c.id == found.id))
    return True


def mark_verified(conn: Connection, directory_id: str, domain: str, by: str = "operator") -> Domain | None:
    """Record the domain as verified (by ``dns`` or the ``operator``); None when the directory has no such domain."""
    found = get_domain(conn, directory_id, domain)
    if found is None:
        return None
    now = datetime.now(UTC)
    conn.execute(
        directory_domains.update()
        .where(directory_domains.c.id == found.id)
        .values(verified_at=found.verified_at or now, verified_by=found.verified_by or by, checked_at=now)
    )
    return get_domain(conn, directory_id, domain)


def published(domain: Domain, resolver: Resolver) -> bool:
    """Whether the domain's TXT record is published (at either name). Runs outside any transaction: a DNS lookup
    takes up to seconds."""
    return any(value.strip() == domain.record_value for name in domain.record_names for value in resolver.txt(name))


def note_checked(conn: Connection, domain: Domain) -> None:
    conn.execute(
        directory_domains.update().where(directory_domains.c.id == domain.id).values(checked_at=datetime.now(UTC))
    )


def get_policy(conn: Connection, directory_id: str) -> str | None:
    found = conn.execute(sa.select(directories.c.domain_policy).where(directories.c.id == directory_id)).scalar()
    return None if found is None else str(found)


def set_policy(conn: Connection, directory_id: str, policy: str) -> None:
    if policy not in POLICIES:
        raise DomainError(f"the domain policy is one of {', '.join(POLICIES)}")
    conn.execute(directories.update().where(directories.c.id == directory_id).values(domain_policy=policy))


def verify_by_dns(db: Database, resolver: Resolver, directory_id: str, domain: str) -> Domain | None:
    """Look the domain's TXT record up and mark it verified when it is there; the domain as it now stands (check
    ``verified``), or None when the directory has no such domain. The lookup holds no transaction open."""
    with db.read() as conn:
        found = get_domain(conn, directory_id, domain)
    if found is None:
        return None
    if found.verified:
        return found
    ok = published(found, resolver)
    with db.write() as conn:
        if ok:
            return mark_verified(conn, directory_id, found.domain, "dns")
        note_checked(conn, found)
        return get_domain(conn, directory_id, found.domain)
