"""How case-insensitive attribute values compare (the key behind uniqueness, ``eq`` filters and lookups), and
which strings can be stored at all.

NFKC, then Unicode case folding, then NFKC again (folding can leave a string unnormalised). This is stronger than
``lower()``: ``Alice@X.com``, ``alice@x.com`` and the full-width ``ａlice@x.com`` all share one key, so they are
one ``userName`` (RFC 7644 §7.8 asks for prepared comparison; RFC 8265's UsernameCaseMapped profile maps width and
case the same way). The key is computed here, in Python, for both SQLite and PostgreSQL, because SQLite's
``lower()`` folds only ASCII and the two backends must agree.
"""

import re
import unicodedata

# NUL is refused by PostgreSQL text columns; an unpaired surrogate cannot be encoded as UTF-8 by either database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def comparison_key(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def storable(value: str) -> bool:
    """Whether a string can be stored and compared: no NUL character, no unpaired surrogate."""
    return _UNSTORABLE.search(value) is None
