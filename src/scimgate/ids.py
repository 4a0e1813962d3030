"""Prefixed, time-ordered identifiers: ``dir_…``, ``usr_…``, ``grp_…``, ``tok_…``.

The prefix says what an id is (support tickets become greppable); the body is a ULID-style 48-bit millisecond
timestamp followed by 80 random bits in Crockford base32, so ids sort by creation time and list pages ordered by
``id`` are stable. Ids are never reused: Entra caches a resource's ``id`` as its anchor for as long as it exists.
"""

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    number = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[number & 31])
        number >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
