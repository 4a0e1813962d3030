"""How dateTime values compare: as the UTC instant each one names, at millisecond precision.

Values are stored exactly as the IdP sent them (Entra compares what it reads back with what it sent and re-sends
any difference), so ``2025-06-01T00:00:00+02:00`` stays that text; filters and sorting compare the instant it names
(``2025-05-31T22:00:00Z``), computed in SQL by the same rule on both backends (``scimgate.store.sql.instant``):
this module's ``instant`` registered on every SQLite connection, and its PostgreSQL twin ``scimgate_instant()``
(migration 0015).

The accepted form is xsd:dateTime (XML Schema Part 2 §3.2.7, which RFC 7643 §2.3.5 names) for years 0001 to
9999: ``YYYY-MM-DDThh:mm:ss``, an optional fraction of a second, and an optional zone, ``Z`` or ``±hh:mm`` up to
14 hours. A value without a zone is read as UTC. Digits past the millisecond are ignored, because ``meta.created``
and ``meta.lastModified`` are kept and compared at millisecond precision (issue 19): one rule for every dateTime.
"""

import re
from datetime import UTC, datetime, timedelta

_LEXICAL = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(Z|([+-])([0-9]{2}):([0-9]{2}))?"
)
_MAX_ZONE_MINUTES = 14 * 60


def instant(value: object) -> datetime | None:
    """The UTC instant an xsd:dateTime names, truncated to the millisecond; None for anything else: another form
    (a date alone, a space for ``T``, no seconds), an impossible date or time, a zone past ±14:00, an instant
    outside years 1–9999 in UTC, or a value that is not a string."""
    if not isinstance(value, str):
        return None
    match = _LEXICAL.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _zone, sign, zone_hours, zone_minutes = match.groups()
    milliseconds = int((fraction or "")[:3].ljust(3, "0"))
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), milliseconds * 1000, tzinfo=UTC
        )
    except ValueError:
        return None
    offset = 0
    if sign is not None:
        if int(zone_minutes) > 59:
            return None
        offset = int(zone_hours) * 60 + int(zone_minutes)
        if offset > _MAX_ZONE_MINUTES:
            return None
        offset = offset if sign == "+" else -offset
    try:
        return local - timedelta(minutes=offset)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC time in datetime's range
        return None


def sqlite_instant(value: object) -> str | None:
    """``instant`` as SQLite compares it: the text SQLAlchemy stores a UTC datetime as (``YYYY-MM-DD
    HH:MM:SS.ffffff``, the form of the ``created`` columns), so a bound datetime compares with it as text."""
    found = instant(value)
    if found is None:
        return None
    # Not strftime: its %Y does not pad years before 1000 on every platform.
    return (
        f"{found.year:04d}-{found.month:02d}-{found.day:02d} "
        f"{found.hour:02d}:{found.minute:02d}:{found.second:02d}.{found.microsecond:06d}"
    )
