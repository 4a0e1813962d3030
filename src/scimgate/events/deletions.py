"""The mass-deletion alarm (security plan J3): deleting more than a tenth of a directory's users within an hour.

Entra deletes (or disables) every user that falls out of a provisioning job's scope: unassigning one large group or
editing a scoping filter can offboard a company in minutes. Entra's own guard ("accidental deletions threshold",
off unless an admin sets it) holds such changes at the IdP; scimgate cannot tell a mistake from a layoff, so the
deletions go ahead, and it raises the alarm where the application and the operator will see it: a
``directory.mass_deletion`` event in the feed and to webhooks (written in the deletion's transaction, so it is also
the durable audit record), a warning in the log, and a banner on the admin page (scimgate.admin.queries).

Each directory counts its user deletions in a window that opens at the first deletion and lasts an hour. Counting
the remaining users costs a read of up to 9 × the deletions, so past 200 deletions it is done sixteen times
per doubling of the count (at 256, 272, 288, …, 512, 544, …), not on each: the alarm may come up to a sixteenth
later, and a million-user directory never pays a scan per DELETE.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.events.types import DirectoryMassDeletion
from scimgate.store.database import utc
from scimgate.store.tables import directories, users

WINDOW = timedelta(hours=1)
MIN_DELETIONS = 20
# More than a tenth of the users there were: deleted > (remaining + deleted) / 10, i.e. remaining < 9 × deleted.
_REMAINING_PER_DELETION = 9


def count_user_deletion(conn: Connection, directory_id: str, now: datetime) -> DirectoryMassDeletion | None:
    """Count one user deletion (call it in the deletion's transaction); the alarm's event if this one sets it off."""
    fresh = sa.or_(directories.c.deletions_since.is_(None), directories.c.deletions_since <= now - WINDOW)
    row = conn.execute(
        directories.update()
        .where(directories.c.id == directory_id)
        .values(
            deletions=sa.case((fresh, 1), else_=directories.c.deletions + 1),
            deletions_since=sa.case((fresh, now), else_=directories.c.deletions_since),
        )
        .returning(
            directories.c.deletions,
            directories.c.deletions_since,
            directories.c.mass_deletion_at,
            directories.c.name,
            directories.c.external_id,
            directories.c.idp,
        )
    ).one()
    deleted, since = row.deletions, utc(row.deletions_since)
    if deleted < MIN_DELETIONS or (row.mass_deletion_at is not None and utc(row.mass_deletion_at) >= since):
        return None  # too few yet, or this window's alarm already went off
    if not time_to_look(deleted):
        return None
    limit = _REMAINING_PER_DELETION * deleted
    remaining = conn.execute(
        sa.select(sa.func.count()).select_from(
            sa.select(users.c.id).where(users.c.directory_id == directory_id).limit(limit).subquery()
        )
    ).scalar_one()
    if remaining >= limit:
        return None
    conn.execute(directories.update().where(directories.c.id == directory_id).values(mass_deletion_at=now))
    directory = {"id": directory_id, "name": row.name, "external_id": row.external_id, "idp": row.idp}
    return DirectoryMassDeletion(directory, deleted=deleted, since=since.isoformat(), remaining=remaining)


def time_to_look(deleted: int) -> bool:
    """Whether to count the remaining users at this many deletions: each time up to 200, then sixteen times per
    doubling (a look costs up to 9 × ``deleted`` rows read, so looking at each deletion would be quadratic)."""
    return deleted < 200 or deleted % (1 << (deleted.bit_length() - 5)) == 0
