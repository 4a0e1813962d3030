"""Secrets never reach the provisioning log, and nothing else is changed on their account.

Redaction goes by structure first: a value under a key that names a secret (``password``, ``client_secret``,
``access_token``…), the value of a PATCH operation whose path is such a key, a query parameter so named. Then, in
any other text, only values shaped like credentials go: scimgate's own tokens and client secrets, Standard Webhooks
secrets, JWTs, and what follows ``Bearer``/``Basic``/``Token`` when it looks like a credential (long and mixing
letters with digits or symbols, or Base64 of ``user:password``). Ordinary words stay: a group named "Basic Users"
or "Token Ring", a 401's "The bearer token is missing…" (issue 22: they used to be logged as ``[redacted]``).
Bodies are cut to a bounded size.
"""

import base64
import binascii
import functools
import json
import re
from typing import Any
from urllib.parse import unquote_plus

import orjson

REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "secret", "token", "authorization", "credential", "apikey", "api_key", "privatekey")
# Credentials recognisable by their own shape, wherever they appear.
_SHAPED = re.compile(
    r"scimgate_(?:at_|cs_)?[A-Za-z0-9_\-]{16,}"
    r"|whsec_[A-Za-z0-9+/=]{16,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
)
# An authorization scheme and what follows it: redacted only when what follows looks like a credential.
_SCHEME = re.compile(r"(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9\-._~+/]+=*)")

# In text that is not whole JSON (cut short, or malformed): "password": "…" and the like, value replaced.
_SECRET_PAIR = re.compile(
    r'("[^"]*(?i:password|secret|token|authorization|credential|api_?key)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"?'
)


_MAYBE_SECRET = re.compile(r"(?i)password|secret|token|authorization|credential|api_?key")
# The secret keys as ``_folded_secret`` compares them: lowercased, without ``-`` and ``_``.
_SQUASHED_KEYS = tuple(word.replace("_", "") for word in _SECRET_KEYS)
# An integer orjson would read as a float (beyond 64 bits): such a body is parsed by the standard library.
_LONG_NUMBER = re.compile(rb"\d{19}")
NOT_JSON = object()
"""What ``parse_body`` gives for a body that is not (complete) JSON."""
REPEATED_KEY = object()
"""What ``parse_body`` gives for JSON that repeats a key in one object."""
_UNPARSED = object()


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Duplicate
    return found


def _secret_key(key: str) -> bool:
    # Remembered for short keys: a log entry asks this of every key of both bodies, and IdPs send the same few dozen.
    # Not for long ones: a client could otherwise fill the cache with megabyte-long keys.
    return _short_secret_key(key) if len(key) <= 128 else _folded_secret(key)


@functools.lru_cache(maxsize=4096)
def _short_secret_key(key: str) -> bool:
    return _folded_secret(key)


def _folded_secret(key: str) -> bool:
    squashed = key.lower().replace("-", "").replace("_", "")
    return any(secret in squashed for secret in _SQUASHED_KEYS)


def _credential_like(word: str) -> bool:
    """Long, and mixing letters with digits, or three kinds of character: a generated secret, not a word. A
    random 16-character Base64 string fails this about once in 10^4; an English word or a name never passes."""
    if len(word) < 16:
        return False
    kinds = [
        any(c.islower() for c in word),
        any(c.isupper() for c in word),
        any(c.isdigit() for c in word),
        any(not c.isalnum() for c in word),
    ]
    return (kinds[2] and (kinds[0] or kinds[1])) or sum(kinds) >= 3


def _basic_credentials(word: str) -> bool:
    """Base64 of ``user:password`` (RFC 7617), however short."""
    try:
        decoded = base64.b64decode(word, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return ":" in decoded


def _scheme(match: re.Match[str]) -> str:
    scheme, space, word = match.groups()
    if _credential_like(word) or (scheme.lower() == "basic" and _basic_credentials(word)):
        return scheme + space + REDACTED
    return match.group(0)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out[key] = REDACTED if _secret_key(str(key)) else _redact(item)
        # A PATCH operation on a secret attribute, keys in any case: {"op": "replace", "Path": "password", ...}
        paths = [item for key, item in value.items() if str(key).lower() == "path"]
        if any(isinstance(path, str) and _secret_key(path) for path in paths):
            for key in value:
                if str(key).lower() == "value":
                    out[key] = REDACTED
        return out
    if isinstance(value, list):
        return [_redact(item) for item in value]
    if isinstance(value, str):
        return redact_shaped(value)
    return value


def redact_shaped(text: str) -> str:
    """Text with the values shaped like credentials replaced (nothing else)."""
    if not _hinted(text):  # most values: one scan instead of two substitutions
        return text
    return _SCHEME.sub(_scheme, _SHAPED.sub(REDACTED, text))


# What every match of _SHAPED or _SCHEME contains.
_HINTS = ("scimgate_", "whsec_", "eyj", "bearer", "basic", "token")
_HINT = re.compile("(?i)" + "|".join(_HINTS))


def parse_body(raw: bytes, unique_keys: bool = False) -> Any:
    """A body as JSON, ``NOT_JSON`` or ``REPEATED_KEY``: parsed once for both redaction and the search terms.
    ``unique_keys``: the SCIM handler already read it as JSON without repeated keys (``scim.http.read_json``), or
    scimgate wrote it (a response): then orjson reads it, about ten times faster than the standard library with a
    hook that checks every object's keys."""
    if not raw:
        return None
    if unique_keys and _LONG_NUMBER.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # a lone surrogate escape: the standard library reads it
            pass
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates)
    except _Duplicate:
        return REPEATED_KEY
    except (ValueError, RecursionError):  # not JSON, cut short, or nested deeper than the parser goes
        return NOT_JSON


def redact_body(raw: bytes, limit: int, document: Any = _UNPARSED) -> str | None:
    """The body as stored: JSON with secret values replaced, or text with credentials masked; at most ``limit``
    characters, marked when cut. ``document``: the body as ``parse_body`` read it, if it was."""
    if not raw:
        return None
    if document is _UNPARSED:  # a body parse_body already found not to be JSON is not parsed again
        document = parse_body(raw)
    if document is REPEATED_KEY:
        # {"path": "password", "value": "…", "path": "nickName"}: which key the reader sees decides what is
        # redacted, so a body with a repeated key is not kept at all (it was refused anyway).
        return "[not kept: the body repeats a key]"
    text = None
    if document is not NOT_JSON:
        # Most bodies (a user, a lookup's answer) have nothing to redact: kept as sent, without a walk or an encode.
        text = _nothing_to_redact(raw)
        if text is None:
            try:
                text = json.dumps(_redact(document), ensure_ascii=False)
            except RecursionError:
                text = None
    if text is None:
        text = raw.decode("utf-8", "replace")
        if _MAYBE_SECRET.search(text):
            # Without a parse, a secret's value cannot be told from the rest reliably: keep none of it.
            return "[not kept: the body is not complete JSON and names a password, secret or token]"
        text = redact_text(text)
    # Lone surrogates ("\ud800" in JSON) cannot be stored as UTF-8: shown as "?".
    text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) > limit:
        return text[:limit] + f"… [{len(text) - limit} more characters not kept]"
    return text


def _nothing_to_redact(raw: bytes) -> str | None:
    """The body's text if no key of it can name a secret and no value can hold a credential, told from the text
    itself, so that most bodies skip the walk through every key and value; else None. Every key and string is in
    the text as sent unless escaped; only a ``\\u`` escape can hide a letter, so a body with one is walked. A secret
    key is found as ``_secret_key`` finds it: lowercased, without ``-`` and ``_``. JSON may also come as UTF-16 or
    UTF-32 (the parser accepts them; their NUL bytes give them away): walked."""
    if b"\x00" in raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\\u" in text or _hinted(text):
        return None
    return None if _folded_secret(text) else text


def _hinted(text: str) -> bool:
    """Whether ``_HINT`` matches: for ASCII text, by substring searches, a tenth of the regex's time (an alternation
    under IGNORECASE is tried at every position). The regex stays for other text: IGNORECASE also lets letters such
    as U+017F (long s) or U+212A (Kelvin) match, which lowercasing does not reproduce."""
    if not text.isascii():
        return _HINT.search(text) is not None
    lowered = text.lower()
    return any(hint in lowered for hint in _HINTS)


def redact_text(text: str) -> str:
    return redact_shaped(_SECRET_PAIR.sub(lambda m: m.group(1) + f'"{REDACTED}"', text))


def redact_query(query: str | None) -> str | None:
    """A query string as stored: parameters named like secrets (``access_token=``) emptied, credentials masked
    (in the decoded value too: ``Bearer%20…``)."""
    if not query:
        return None
    parts = []
    for pair in query.split("&"):
        key, equals, value = pair.partition("=")
        if equals and _secret_key(unquote_plus(key)):
            parts.append(f"{key}={REDACTED}")
        elif redact_text(unquote_plus(value)) != unquote_plus(value):
            parts.append(f"{key}{equals}{REDACTED}")
        else:
            parts.append(pair)
    return redact_text("&".join(parts))
