"""What the setup page shows of one directory: the requests its IdP just sent, with the provisioning log's own
explanations, its users and groups, and the checklist that turns green as the setup works.

Every query here is scoped by the directory id of the setup link, never by anything the page's visitor sends.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.provisioning.log_search import LogFilter, failed, relative_path, search
from scimgate.store import browse
from scimgate.store.database import utc
from scimgate.store.tables import groups, request_log, users

RECENT = 20
SHOWN = 50
# Entra runs a provisioning cycle about every 40 minutes; Okta and the others push as changes happen. "The last
# cycle" is the 40 minutes up to the directory's latest request: long enough to cover a whole Entra cycle.
CYCLE = timedelta(minutes=40)


@dataclass(frozen=True)
class Checklist:
    connection_tested: bool
    first_user: bool
    first_group: bool
    no_recent_failures: bool

    def items(self) -> list[tuple[str, str, bool]]:
        """(key, what it means to the IT admin, done)."""
        return [
            (
                "connection_tested",
                "The IdP reached this directory with a valid token (Test Connection).",
                self.connection_tested,
            ),
            ("first_user", "A first user was created.", self.first_user),
            ("first_group", "A first group was pushed.", self.first_group),
            ("no_recent_failures", "No failed request in the last provisioning cycle.", self.no_recent_failures),
        ]


def recent_requests(conn: Connection, directory_id: str) -> list[dict[str, Any]]:
    """The directory's newest requests, as the operator's provisioning log shows them (reason and advice)."""
    rows = search(conn, LogFilter(directory_id=directory_id), limit=RECENT)
    return [
        {
            "id": row.id,
            "time": utc(row.time).strftime("%Y-%m-%d %H:%M:%S"),
            "request": f"{row.method} {relative_path(directory_id, row.path, row.query)}",
            "target": row.target or "",
            "status": row.status,
            "reason": row.reason or "",
            "advice": row.advice or "",
            "ignored": list(row.ignored or []),
        }
        for row in rows
    ]


def checklist(conn: Connection, directory_id: str) -> Checklist:
    log = request_log.c
    mine = log.directory_id == directory_id
    authenticated = sa.select(log.id).where(mine, log.token_id.is_not(None), log.status < 400).limit(1)
    latest = conn.execute(sa.select(sa.func.max(log.time)).where(mine)).scalar()
    quiet = False
    if latest is not None:
        since = utc(latest) - CYCLE
        failures = conn.execute(sa.select(sa.func.count()).where(mine, log.time >= since, failed())).scalar_one()
        quiet = failures == 0
    return Checklist(
        connection_tested=conn.execute(authenticated).first() is not None,
        first_user=_any(conn, users, directory_id),
        first_group=_any(conn, groups, directory_id),
        no_recent_failures=quiet,
    )


def _any(conn: Connection, table: sa.Table, directory_id: str) -> bool:
    return conn.execute(sa.select(table.c.id).where(table.c.directory_id == directory_id).limit(1)).first() is not None


def people(conn: Connection, directory_id: str) -> dict[str, Any]:
    """The first users and groups as scimgate holds them, and how many there are."""
    user_rows = conn.execute(
        sa.select(users.c.id, users.c.user_name, users.c.display_name, users.c.active)
        .where(users.c.directory_id == directory_id)
        .order_by(users.c.id)
        .limit(SHOWN)
    ).all()
    group_rows = conn.execute(
        sa.select(groups.c.id, groups.c.display_name)
        .where(groups.c.directory_id == directory_id)
        .order_by(groups.c.id)
        .limit(SHOWN)
    ).all()
    counts = browse.member_counts(conn, directory_id, [row.id for row in group_rows])
    return {
        "users": [
            {"user_name": r.user_name, "display_name": r.display_name or "", "active": r.active} for r in user_rows
        ],
        "groups": [{"display_name": r.display_name, "members": counts.get(r.id, 0)} for r in group_rows],
        "user_count": _count(conn, users, directory_id),
        "group_count": _count(conn, groups, directory_id),
    }


def _count(conn: Connection, table: sa.Table, directory_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).where(table.c.directory_id == directory_id)).scalar_one())
