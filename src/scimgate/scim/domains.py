"""A directory's email-domain policy, applied to the users its IdP writes.

The risk (issue 23): one customer's IdP provisions ``ceo@othercompany.com`` into its directory, and the application
later links that user to an SSO login by email. A directory therefore declares the domains it owns and proves them
(scimgate/directories/domains.py); its policy says what happens to a user whose userName or any email is outside
them: ``off`` nothing, ``flag`` accepted with ``domain_verified: false`` (the normalised user, its events, a warning
on the provisioning log), ``enforce`` refused with a 400 before anything is written.

A verified domain covers itself and its subdomains (``example.com`` covers ``eu.example.com``): whoever can publish a
TXT record at ``example.com`` controls every name under it, so the proof extends down; never up (verifying
``eu.example.com`` says nothing of ``example.com``) nor sideways (``notexample.com``). Comparison is
case-insensitive. A userName that is no address (no ``@``) carries no domain and is not checked.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.context import current_request
from scimgate.scim.errors import InvalidValue, Reason
from scimgate.store.hot import Statement
from scimgate.store.tables import directories, directory_domains
from scimgate.text import comparison_key

Policy = Literal["off", "flag", "enforce"]
POLICIES: tuple[str, ...] = get_args(Policy)


def domain_key(domain: str) -> str:
    """The comparison form of a domain: lower case, no trailing dot, IDNA (so ``bücher.example`` and its
    ``xn--`` form are one domain). Raises ValueError for what is no domain name."""
    cleaned = domain.strip().rstrip(".").lower()
    try:
        encoded = cleaned.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{domain[:80]!r} is not a domain name") from None
    return encoded


def address_domain(value: Any) -> str | None:
    """The domain of an email address, in comparison form; None when the value is no address.

    The value is read as scimgate compares names (``comparison_key``: NFKC and case folding), so a full-width ``＠``
    or a small ``﹫`` is an ``@`` here as it is for uniqueness and filters (and for an application that normalises
    the same way). A value with more than one ``@``, or whose domain part is no host name (``victim.com
    .example.com``, ``victim.com#.example.com``), is judged by the text after its first ``@``, which no verified
    domain covers: a consumer splitting it another way must not read a verified domain into it.
    """
    if not isinstance(value, str):
        return None
    key = comparison_key(value)
    if "@" not in key:
        return None
    host = key.split("@", 1)[1]
    try:
        domain = domain_key(host)
    except ValueError:
        return host or "(empty)"
    return domain if _HOST.fullmatch(domain) else (host or "(empty)")


def covered(domain: str, verified: Iterable[str]) -> bool:
    """Whether ``domain`` is a verified domain or a subdomain of one (never a string that is no host name)."""
    if not _HOST.fullmatch(domain):
        return False
    return any(domain == owned or domain.endswith("." + owned) for owned in verified)


# A host name in comparison form (lower case ASCII, IDNA-encoded): labels of letters, digits and inner hyphens.
_HOST = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")


def user_domains(document: dict[str, Any]) -> list[str]:
    """The domains a user's userName and emails are at, in order, each once."""
    values = [document.get("userName")]
    values += [e.get("value") for e in document.get("emails") or [] if isinstance(e, dict)]
    found: list[str] = []
    for value in values:
        domain = address_domain(value)
        if domain is not None and domain not in found:
            found.append(domain)
    return found


@dataclass(frozen=True)
class DomainPolicy:
    mode: str = "off"
    verified: frozenset[str] = frozenset()

    def outside(self, document: dict[str, Any]) -> list[str]:
        """The user's domains that no verified domain covers."""
        return [d for d in user_domains(document) if not covered(d, self.verified)]

    def verdict(self, document: dict[str, Any]) -> bool | None:
        """The normalised user's ``domain_verified``: None while the policy is off (nothing was checked)."""
        return None if self.mode == "off" else not self.outside(document)

    def check(self, document: dict[str, Any], before: dict[str, Any] | None = None) -> None:
        """Refuse (enforce) or note (flag) a user written with addresses outside the verified domains.

        An update is refused only for a domain it brings in: a user already held (from before the policy) can
        still be deactivated or renamed, because blocking a deprovisioning would be the worse failure."""
        if self.mode == "off":
            return
        outside = self.outside(document)
        if not outside:
            return
        already = set(user_domains(before)) if before is not None else set()
        new = [d for d in outside if d not in already]
        if self.mode == "enforce" and new:
            raise InvalidValue(refusal(new[0]), reason=Reason.DOMAIN_NOT_VERIFIED)
        note_unverified(outside)


def refusal(domain: str) -> str:
    return (
        f"The domain {domain} is not a verified email domain of this directory, and the directory refuses users "
        "outside its verified domains. Add the domain on the setup page (or `scimgate domain add`) and publish "
        "the TXT record it shows, then press Verify; or remove the address from the user in the IdP."
    )


def note_unverified(domains: list[str]) -> None:
    """Put the warning on the current request's provisioning-log row."""
    context = current_request.get()
    if context is not None:
        context.unverified_domains.extend(d for d in domains if d not in context.unverified_domains)


# Every write reads it: built once, run on the DB-API cursor (scimgate.store.hot).
_MODE = Statement(sa.select(directories.c.domain_policy).where(directories.c.id == sa.bindparam("directory_id")))


def policy_of(conn: Connection, directory_id: str) -> DomainPolicy:
    mode = _MODE.scalar(conn, {"directory_id": directory_id})
    if mode is None or mode == "off":
        return DomainPolicy()
    rows = conn.execute(
        sa.select(directory_domains.c.domain).where(
            directory_domains.c.directory_id == directory_id, directory_domains.c.verified_at.is_not(None)
        )
    )
    return DomainPolicy(mode, frozenset(row.domain for row in rows))
