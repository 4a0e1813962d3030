"""Bearer tokens and client secrets: generated, shown once, stored as a hash, checked in constant time.

A token is ``scimgate_`` followed by 32 random bytes in URL-safe base64 (256 bits). The prefix lets secret
scanners recognise a leaked token. Only the SHA-256 of the token is stored: the token has full entropy, so a fast
hash is enough (no password-style stretching is needed) and a stolen database does not reveal working tokens.
"""

import hashlib
import hmac
import re
import secrets

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
TOKEN_PREFIX = "scimgate_"
ACCESS_TOKEN_PREFIX = "scimgate_at_"  # OAuth access tokens (directories/oauth.py)
CLIENT_SECRET_PREFIX = "scimgate_cs_"  # OAuth client secrets
SETUP_LINK_PREFIX = "scimgate_sl_"  # the secret part of a setup link's URL (directories/links.py)


def generate_token(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(token: str) -> str:
    """The kind's prefix and four characters of the random part: enough to tell a directory's credentials apart,
    and 20 bits of 256, so nothing a guesser can use."""
    kinds = (ACCESS_TOKEN_PREFIX, CLIENT_SECRET_PREFIX, SETUP_LINK_PREFIX, TOKEN_PREFIX, "")
    prefix = next(p for p in kinds if token.startswith(p))
    return token[: len(prefix) + 4]


def is_id(given: str, kind: str) -> bool:
    """Whether ``given`` has the form of an id of ``kind`` ("tok", "lnk"…: scimgate.ids), so an error may repeat it."""
    return given.startswith(f"{kind}_") and len(given) <= 40


def shown_id(given: str, kind: str) -> str:
    """How an error names what a caller gave for an id of ``kind``: quoted when it has an id's form, else only its
    kind's prefix and four characters. A secret pasted where its id goes (or arguments given in the wrong order) is a
    common slip, and errors end up in a terminal's scrollback and in API clients' logs (issue 22)."""
    if is_id(given, kind):
        return repr(given)
    return f"{display_prefix(given)}… (not an id, which looks like {kind}_…; not repeated here)"


def hashes_match(stored_hash: str, presented_hash: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), presented_hash.encode())
