"""Bearer tokens: generated, shown once, stored as a hash, checked in constant time.

A token is ``scimgate_`` followed by 32 random bytes in URL-safe base64 (256 bits). The prefix lets secret
scanners recognise a leaked token. Only the SHA-256 of the token is stored: the token has full entropy, so a fast
hash is enough (no password-style stretching is needed) and a stolen database does not reveal working tokens.
"""

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "scimgate_"
_DISPLAY_CHARS = len(TOKEN_PREFIX) + 4


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(token: str) -> str:
    return token[:_DISPLAY_CHARS]


def hashes_match(stored_hash: str, presented_hash: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), presented_hash.encode())
