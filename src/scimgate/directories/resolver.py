"""DNS TXT lookups for domain verification, behind a small interface the tests replace with a fake object.

Only TXT records are read, with a short timeout: a verification is a button an IT admin presses, so an
unreachable DNS server must answer "not found yet" in seconds, never hang the request.
"""

from typing import Protocol

import dns.exception
import dns.resolver

LOOKUP_SECONDS = 5.0


class Resolver(Protocol):
    def txt(self, name: str) -> list[str]:
        """The TXT strings published at ``name`` (each record's strings joined, as RFC 7208 §3.3 joins them); an
        empty list when there are none or the lookup failed."""
        ...


class DnsResolver:
    """The system's DNS resolver (dnspython), as configured in /etc/resolv.conf."""

    def txt(self, name: str) -> list[str]:
        try:
            answer = dns.resolver.resolve(name, "TXT", lifetime=LOOKUP_SECONDS)
        except (dns.exception.DNSException, ValueError):
            return []
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
