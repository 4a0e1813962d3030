"""Rate limits: a budget per directory, a cap on its requests in progress, and a budget of failed credentials per
source address.

Both are token buckets kept in each worker's memory (a worker enforces its share; with N workers a directory gets up
to N times the budget, which errs on the side of letting provisioning through). The defaults let an Entra or Okta
initial sync through untouched: Microsoft requires at least 25 requests a second per tenant, and a 429 that
persists can put an Entra job in quarantine, so the per-directory budget is well above that with a large burst; its
purpose is to keep one runaway directory from starving the others.

The failed-credential budget slows down guessing: once a source has spent it, its wrong credentials get 429 (with no
diagnosis for the provisioning log). Right credentials are always checked and accepted — tokens, secrets and the
operator key have 256 bits, so checking them helps no guesser — so an IdP behind the same proxy as a guesser keeps
provisioning. Only the admin password, which could be guessed, is refused outright while its source is over budget.
"""

import math
import time
from dataclasses import dataclass, field

from scimgate.config import Settings


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBuckets:
    """``rate`` tokens a second, up to ``burst``, per key. ``rate`` 0 switches the limit off."""

    rate: float
    burst: float
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    _MAX_KEYS = 100_000

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost``; 0.0 when allowed, else the seconds until it would be."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._MAX_KEYS:
                self._buckets.clear()  # simpler than LRU; a full refill only forgives past spending
            bucket = self._buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def exhausted(self, key: str) -> float:
        """Seconds until ``key`` has a token again (0.0: it has one now), without spending."""
        if self.rate <= 0:
            return 0.0
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (time.monotonic() - bucket.updated) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


def per_minute(count: float) -> TokenBuckets:
    """``count`` a minute, all of them at once if need be (0: no limit)."""
    return TokenBuckets(count / 60, max(count, 1))


@dataclass
class InFlight:
    """Requests in progress per key (a directory) in this worker, at most ``limit`` at once.

    A rate limit counts arrivals, not work: 23 slow searches in 20 s were far under it, yet held every thread of the
    pool and made another directory's one-row read take 58 s (issue 20, finding 2). Counted on the event loop, so
    no lock is needed.
    """

    limit: int
    _counts: dict[str, int] = field(default_factory=dict)

    def enter(self, key: str) -> bool:
        """Take a place for ``key``; False (taking nothing) when it has ``limit`` in progress already."""
        held = self._counts.get(key, 0)
        if held >= self.limit:
            return False
        self._counts[key] = held + 1
        return True

    def leave(self, key: str) -> None:
        held = self._counts.pop(key, 1) - 1
        if held > 0:
            self._counts[key] = held


@dataclass
class RateLimits:
    per_directory: TokenBuckets
    failures: TokenBuckets
    """Failed credentials per source address (SCIM tokens, the operator key, admin sign-in, OAuth clients)."""
    in_flight: InFlight = field(default_factory=lambda: InFlight(16))
    """SCIM requests in progress per directory."""
    per_client: TokenBuckets = field(default_factory=lambda: per_minute(10))
    """Access tokens minted per OAuth client (issue 20, finding 14), charged once its credentials are right."""

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimits":
        failures = per_minute(settings.auth_failures_per_minute)
        per_directory = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
        return cls(
            per_directory,
            failures,
            in_flight=InFlight(settings.directory_concurrency),
            per_client=per_minute(settings.oauth_tokens_per_minute),
        )

    def failed_credential(self, source: str) -> float:
        """Count one failed credential from ``source``: 0.0, or (over budget, counting nothing) the seconds it must
        wait, for a 429 with Retry-After. Every face (SCIM, management API, OAuth, admin sign-in) answers so."""
        wait = self.failures.exhausted(source)
        if not wait:
            self.failures.take(source)
        return wait


def retry_after(seconds: float) -> str:
    """An integer Retry-After, at least 1."""
    return str(max(1, math.ceil(seconds)))
