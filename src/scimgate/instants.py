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

That is the form values are written in, and the one stored values are compared by. The value a filter compares
with (``filter_instant``) may also take the other ISO 8601 forms filters have always taken, a date alone above all.
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


def filter_instant(value: object) -> datetime | None:
    """The instant a filter compares a dateTime with: an xsd:dateTime, read as ``instant`` reads it, or any other
    ISO 8601 form ``datetime.fromisoformat`` reads, as filters on ``meta.lastModified`` always took them (IdPs and
    scripts send ``meta.lastModified gt "2024-01-01"``): a date alone is that day's midnight UTC, a time without
    a zone is UTC, ``12:00`` is ``12:00:00``, a space may stand for ``T``, a zone may be ``±hhmm`` or ``±hh`` up to
    24 hours. Truncated to the millisecond, like the values compared. None for anything else (``"soon"``, a year
    alone, ``24:00``, lower-case ``t``/``z``) and for an instant outside years 1–9999 in UTC."""
    found = instant(value)
    if found is not None or not isinstance(value, str):
        return found
    try:
        parsed = datetime.fromisoformat(value)
        utc = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 at +01:00 has no UTC time in range
        return None
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


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
