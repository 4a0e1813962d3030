"""How case-insensitive attribute values compare: the key behind uniqueness, ``eq`` filters and lookups.

NFKC, then Unicode case folding, then NFKC again (folding can leave a string unnormalised). This is stronger than
``lower()``: ``Alice@X.com``, ``alice@x.com`` and the full-width ``ａlice@x.com`` all share one key, so they are
one ``userName`` (RFC 7644 §7.8 asks for prepared comparison; RFC 8265's UsernameCaseMapped profile maps width and
case the same way). The key is computed here, in Python, for both SQLite and PostgreSQL, because SQLite's
``lower()`` folds only ASCII and the two backends must agree.
"""

import unicodedata


def comparison_key(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
