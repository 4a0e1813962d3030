"""Secrets never reach the provisioning log: passwords, tokens and anything that looks like a credential are
replaced before a body is stored, and bodies are cut to a bounded size."""

import json
import re
from typing import Any
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "secret", "token", "authorization", "credential", "apikey", "api_key", "privatekey")
# scimgate's own credentials, Standard Webhooks secrets, and any bearer or basic credential in free text.
_SECRET_TEXT = re.compile(
    r"(scimgate_(?:at_|cs_)?[A-Za-z0-9_\-]{8,}|whsec_[A-Za-z0-9+/=]{8,}|(?i:bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*)"
)

# In text that is not whole JSON (cut short, or malformed): "password": "…" and the like, value replaced.
_SECRET_PAIR = re.compile(
    r'("[^"]*(?i:password|secret|token|authorization|credential|api_?key)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"?'
)


_MAYBE_SECRET = re.compile(r"(?i)password|secret|token|authorization|credential|api_?key")


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Duplicate
    return found


def _secret_key(key: str) -> bool:
    folded = key.lower().replace("-", "").replace("_", "")
    return any(word.replace("_", "") in folded for word in _SECRET_KEYS)


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
        return _SECRET_TEXT.sub(REDACTED, value)
    return value


def redact_body(raw: bytes, limit: int) -> str | None:
    """The body as stored: JSON with secret values replaced, or text with credentials masked; at most ``limit``
    characters, marked when cut."""
    if not raw:
        return None
    try:
        text = json.dumps(_redact(json.loads(raw, object_pairs_hook=_no_duplicates)), ensure_ascii=False)
    except _Duplicate:
        # {"path": "password", "value": "…", "path": "nickName"}: which key the reader sees decides what is
        # redacted, so a body with a repeated key is not kept at all (it was refused anyway).
        return "[not kept: the body repeats a key]"
    except (ValueError, RecursionError):  # not JSON, cut short, or nested deeper than the parser goes
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


def redact_text(text: str) -> str:
    return _SECRET_TEXT.sub(REDACTED, _SECRET_PAIR.sub(lambda m: m.group(1) + f'"{REDACTED}"', text))


def redact_query(query: str | None) -> str | None:
    """A query string as stored: parameters named like secrets (``access_token=``) emptied, credentials masked."""
    if not query:
        return None
    parts = []
    for pair in query.split("&"):
        key, equals, _value = pair.partition("=")
        parts.append(f"{key}={REDACTED}" if equals and _secret_key(unquote_plus(key)) else pair)
    return redact_text("&".join(parts))
