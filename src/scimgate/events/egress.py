"""Where webhooks may connect: public addresses only, unless the operator allowlists an internal receiver.

Issue 20, finding 6 (SSRF): a webhook URL could name loopback, a private network, the cloud metadata address
(169.254.169.254), an IPv4-mapped IPv6 address or a decimal IPv4 (``2130706434``), and the answer was readable in
the delivery log. Two checks now stand in the way:

- at registration (API, CLI), ``check_url`` refuses credentials in the URL and any *literal* address (in every
  numeric form a resolver would accept) that is not public, and ``localhost`` names (RFC 6761);
- at connect time, ``GuardedBackend`` resolves the host itself, checks *every* address it got, and connects to a
  checked address, never to the name: a name that resolves differently the second time (DNS rebinding) gains
  nothing. This is the check that matters; the first one only says early what would fail.

``webhook_allow_private`` (addresses, CIDR networks or exact host names) lets an operator reach an internal receiver.
"""

import asyncio
import errno
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2
from httpcore2 import SOCKET_OPTION, AnyIOBackend, AsyncNetworkBackend, AsyncNetworkStream

logger = logging.getLogger("scimgate.webhooks")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NOT_ALLOWED = "address not allowed"
CREDENTIALS = "credentials in URL not allowed"
# IPv6 forms that carry an IPv4 address a gateway may route to: NAT64 (RFC 6052) and the deprecated
# IPv4-compatible ::a.b.c.d. (IPv4-mapped and 6to4 have their own properties in ipaddress.)
ERROR_CLASSES = (
    NOT_ALLOWED,
    CREDENTIALS,
    "name not resolved",
    "timeout",
    "TLS error",
    "connection refused",
    "connection failed",
    "protocol error",
    "connection lost",
    "request failed",
)
_OTHER_CLASSES = re.compile(r"HTTP \d{3}|timeout: no complete answer within [\d.]+ s")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


class EgressRefused(Exception):
    """A connection webhooks may not make. Its message is one of the fixed classes above, safe to store."""


class UrlRefused(ValueError):
    """A webhook URL refused at registration (credentials, or an internal literal address)."""


@dataclass(frozen=True)
class EgressPolicy:
    """What besides public addresses webhooks may reach (the ``webhook_allow_private`` setting)."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "EgressPolicy":
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(_host_key(entry))
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return _host_key(host) in self.hosts

    def allows_address(self, address: Address) -> bool:
        candidates = [address, *([_embedded_v4(address)] if isinstance(address, ipaddress.IPv6Address) else [])]
        return any(c is not None and c in network for c in candidates for network in self.networks)

    def permits(self, host: str, address: Address) -> bool:
        return self.allows_host(host) or self.allows_address(address) or is_public(address)


PUBLIC_ONLY = EgressPolicy()
"""The default: no internal receiver allowed."""


def _host_key(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """A globally routable unicast address: not loopback, private, shared (CGNAT), link-local, multicast, reserved
    or unspecified, and (for IPv6) carrying no IPv4 address that is one of those."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _COMPATIBLE:
            return False
        embedded = _embedded_v4(address)
        if embedded is not None:
            return is_public(embedded)
    odd = address.is_multicast or address.is_reserved or address.is_unspecified or address.is_loopback
    return address.is_global and not (odd or address.is_link_local or address.is_private)


def _ipv4_part(text: str) -> int:
    """One part of an IPv4 address as inet_aton (and WHATWG URLs) read it: 0x… hex, 0… octal, else decimal."""
    if text[:2].lower() == "0x":
        return int(text[2:] or "0", 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8)
    return int(text, 10)


def literal_address(host: str) -> Address | None:
    """The address a URL host names literally, in any form a resolver accepts (``2130706434``, ``0177.1``,
    ``0x7f.0.0.1``, ``::ffff:127.0.0.2``); None for a name. ValueError for a host that looks numeric but is not
    an address: such a host is refused rather than guessed at."""
    host = host.strip("[]").rstrip(".")
    if ":" in host:
        return ipaddress.IPv6Address(host)
    parts = host.split(".")
    last = parts[-1].lower()
    if not (last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))):
        return None  # a name: the WHATWG URL rule, a host whose last label is a number is an IPv4 address
    invalid = ValueError(f"{host[:100]!r} is not a valid address")
    if len(parts) > 4 or not all(parts):
        raise invalid
    try:
        numbers = [_ipv4_part(part) for part in parts]
    except ValueError:
        raise invalid from None
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise invalid
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def check_url(url: str, policy: EgressPolicy) -> None:
    """Refuse, when a webhook is registered, what delivery would refuse anyway and a URL can show: credentials,
    and internal literal addresses or localhost names. Names are resolved only at delivery (GuardedBackend)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a webhook URL is an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise UrlRefused("a webhook URL may not carry credentials (user:password@); the signature authenticates")
    host = parts.hostname
    if policy.allows_host(host):
        return
    try:
        address = literal_address(host)
    except ValueError as error:
        raise UrlRefused(str(error)) from None
    local_name = _host_key(host) == "localhost" or _host_key(host).endswith(".localhost")
    if local_name or (address is not None and not (policy.allows_address(address) or is_public(address))):
        raise UrlRefused(
            f"{host[:100]} is a loopback, private, link-local, multicast or reserved address; webhooks reach "
            "public addresses only, unless the operator allows an internal receiver with webhook_allow_private"
        )


class GuardedBackend(AsyncNetworkBackend):
    """httpcore's network backend, but a TCP connection goes only to a resolved and checked address."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._inner = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await asyncio.wait_for(_resolve(host, port), timeout)
        refused = [address for address in addresses if not self.policy.permits(host, address)]
        if refused:
            # Every address is checked: a name answering one public and one internal address is refused whole.
            logger.warning("webhook connection to %r refused: it resolves to %s", host[:100], refused[0])
            raise EgressRefused(NOT_ALLOWED)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SOCKET_OPTION] | None = None
    ) -> AsyncNetworkStream:
        raise EgressRefused(NOT_ALLOWED)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int) -> list[Address]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """An httpx transport that connects through GuardedBackend and refuses URLs with credentials."""

    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False), network_backend=GuardedBackend(policy)
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.userinfo:
            raise EgressRefused(CREDENTIALS)
        return await super().handle_async_request(request)


def guarded_client(policy: EgressPolicy, timeout: float) -> httpx2.AsyncClient:
    """The client webhooks are sent with: guarded, no redirects, no proxy from the environment (the guard checks
    the receiver's address, so the connection must go there)."""
    return httpx2.AsyncClient(transport=GuardedTransport(policy), timeout=timeout, follow_redirects=False)


def error_class(error: BaseException) -> str:
    """What went wrong, as one of a few fixed phrases: never the exception's text, which could carry what an
    internal service answered or which ports are open."""
    if isinstance(error, EgressRefused):
        return str(error) if str(error) in (NOT_ALLOWED, CREDENTIALS) else NOT_ALLOWED
    chain = list(_causes(error))
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "name not resolved"
    if any(isinstance(e, TimeoutError | httpx2.TimeoutException | httpcore2.TimeoutException) for e in chain):
        return "timeout"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "TLS error"
    if any(isinstance(e, OSError) and e.errno == errno.ECONNREFUSED for e in chain):
        return "connection refused"
    if isinstance(error, httpx2.ConnectError):
        return "connection failed"
    if isinstance(error, httpx2.ProtocolError):
        return "protocol error"
    if isinstance(error, httpx2.NetworkError):
        return "connection lost"
    return "request failed"


def is_error_class(text: str) -> bool:
    """Whether ``text`` is one of the phrases a failed attempt is recorded with (``error_class``, ``HTTP 503``, the
    whole-attempt timeout)."""
    return text in ERROR_CLASSES or _OTHER_CLASSES.fullmatch(text) is not None


def _causes(error: BaseException) -> Iterable[BaseException]:
    seen: list[Any] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        yield current
        current = current.__cause__ or current.__context__
