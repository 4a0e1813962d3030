"""The admin page's reads: request statistics and quarantine warnings, searches, the log, events."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.provisioning.log_search import CREDENTIAL_SETUP, CREDENTIAL_UNKNOWN, failed
from scimgate.store.browse import page
from scimgate.store.database import utc
from scimgate.store.resources import StoredResource, keyset_page
from scimgate.store.tables import deliveries, delivery_attempts, events, request_log, users, webhook_endpoints
from scimgate.text import comparison_key

PAGE = 50


@dataclass(frozen=True)
class Notice:
    """A banner, and the log filter that lists exactly the requests it counts (its link)."""

    text: str
    status: str
    since: datetime
    resource: str = ""

    def query(self, directory_id: str) -> str:
        since = self.since.strftime("%Y-%m-%dT%H:%M")
        return urlencode({"directory": directory_id, "status": self.status, "resource": self.resource, "since": since})


@dataclass
class Stats:
    requests: int = 0
    failures: int = 0
    last_request: datetime | None = None
    credential_failures_last_hour: int = 0
    deletes_last_hour: int = 0
    users: int = 0
    unknown_credentials_last_hour: int = 0
    hour: datetime = datetime.min.replace(tzinfo=UTC)
    """Where "the last hour" began (floored to the minute, as the log's time filter takes it)."""
    day: datetime = datetime.min.replace(tzinfo=UTC)

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def warning(self) -> Notice | None:
        """Why Entra would quarantine this directory's provisioning job, if it would (Microsoft's documented rules:
        credential errors quarantine at once; otherwise when more than 40 % of operations fail); or a mass
        deletion in progress. Its link lists the requests it counts, so the count and the list agree."""
        remaining = self.users + self.deletes_last_hour
        if self.deletes_last_hour >= 20 and self.deletes_last_hour > 0.1 * remaining:
            share = self.deletes_last_hour / remaining
            return Notice(
                f"{self.deletes_last_hour} users were deleted in the last hour ({share:.0%} of the directory). If "
                "that was not intended (a scoping change, an unassigned group), stop the provisioning job in the IdP "
                "now; Entra's accidental-deletions threshold can also hold such changes for approval.",
                "204",
                self.hour,
                "User",
            )
        if self.credential_failures_last_hour:
            return Notice(
                f"{self.credential_failures_last_hour} request(s) in the last hour were refused for a credential "
                "this directory issued (revoked, expired, another directory's, or the directory disabled). Entra "
                "quarantines a job on credential errors (EncounteredQuarantineException): check the token.",
                "credential_setup",
                self.hour,
            )
        if self.requests >= 20 and self.error_rate > 0.4:
            return Notice(
                f"{self.error_rate:.0%} of the last 24 hours' requests failed ({self.failures} of {self.requests}). "
                "Entra quarantines a job when more than 40 % of its operations fail "
                "(EncounteredEscrowProportionThreshold): see the log for the reasons.",
                "failed",
                self.day,
            )
        return None

    def unknown_credentials(self) -> Notice | None:
        """Refusals of a token no directory issued, apart from the quarantine warning: most often a mistyped or
        truncated paste (the most common setup error), but also anyone's guesses, so they never raise an alarm."""
        if not self.unknown_credentials_last_hour:
            return None
        return Notice(
            f"{self.unknown_credentials_last_hour} request(s) in the last hour presented no token, or one no directory "
            "has: a mistyped or truncated paste in the IdP, or someone guessing. Each entry shows the token's first "
            "characters beside this directory's own.",
            "credential_unknown",
            self.hour,
        )


def notices(directories: list[Any], stats: dict[str, Stats]) -> list[tuple[Any, Notice]]:
    """Each directory's banners: the quarantine warning, then the unknown-credential notice."""
    found = []
    for directory in directories:
        if directory.id in stats:
            for notice in (stats[directory.id].warning(), stats[directory.id].unknown_credentials()):
                if notice is not None:
                    found.append((directory, notice))
    return found


def directory_stats(conn: Connection, now: datetime | None = None) -> dict[str, Stats]:
    # To the minute: the banners' links filter the log from these times, and the form's times are minutes.
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    day, hour = now - timedelta(hours=24), now - timedelta(hours=1)

    def last_hour(reasons: tuple[str, ...]) -> Any:
        refused = sa.and_(request_log.c.status == 401, request_log.c.time >= hour, request_log.c.reason.in_(reasons))
        return sa.func.sum(sa.case((refused, 1), else_=0))

    query = (
        sa.select(
            request_log.c.directory_id,
            sa.func.count(),
            sa.func.sum(sa.case((failed(), 1), else_=0)),
            sa.func.max(request_log.c.time),
            # A refused credential the directory issued (revoked, expired, another directory's, a disabled
            # directory): the IdP's own setup is wrong. Unknown tokens are counted apart: anyone can send one.
            last_hour(CREDENTIAL_SETUP),
            last_hour(CREDENTIAL_UNKNOWN),
        )
        .where(request_log.c.time >= day, request_log.c.directory_id.is_not(None))
        .group_by(request_log.c.directory_id)
    )
    deletes = sa.select(request_log.c.directory_id, sa.func.count()).where(
        request_log.c.time >= hour,
        request_log.c.method == "DELETE",
        request_log.c.resource_type == "User",
        request_log.c.status == 204,
    )
    deleted: dict[str, int] = {row[0]: row[1] for row in conn.execute(deletes.group_by(request_log.c.directory_id))}
    per_directory = sa.select(users.c.directory_id, sa.func.count()).group_by(users.c.directory_id)
    sizes: dict[str, int] = {row[0]: row[1] for row in conn.execute(per_directory)}
    return {
        row[0]: Stats(
            int(row[1]),
            int(row[2] or 0),
            utc(row[3]) if row[3] else None,
            int(row[4] or 0),
            int(deleted.get(row[0], 0)),
            int(sizes.get(row[0], 0)),
            int(row[5] or 0),
            hour,
            day,
        )
        for row in conn.execute(query)
    }


def search(conn: Connection, table: sa.Table, directory_id: str, q: str, after: str | None) -> list[StoredResource]:
    """Resources whose userName or displayName contains ``q`` (case-insensitively), or whose id or externalId is
    ``q``; a page at a time, by id."""
    if not q:
        return page(conn, table, directory_id, after, PAGE)
    key = comparison_key(q)
    pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = [
        table.c.display_name_key.like(pattern, escape="\\"),
        table.c.id == q,
        table.c.external_id == q,
    ]
    if table is users:
        matches.append(users.c.user_name_key.like(pattern, escape="\\"))
    where: sa.ColumnElement[bool] = sa.or_(*matches)
    if after is not None:
        where = sa.and_(where, table.c.id > after)
    return [row for row, _ in keyset_page(conn, table, directory_id, where, PAGE, [table.c.id], None)]


def log_entry(conn: Connection, entry_id: str) -> Any:
    return conn.execute(sa.select(request_log).where(request_log.c.id == entry_id)).first()


def recent_events(conn: Connection, directory_id: str | None, before: int | None) -> list[Any]:
    query = sa.select(events).where(events.c.position.is_not(None)).order_by(events.c.position.desc()).limit(PAGE)
    if directory_id:
        query = query.where(events.c.directory_id == directory_id)
    if before:
        query = query.where(events.c.position < before)
    return list(conn.execute(query))


FAILING_AFTER = 3
"""Failed attempts in a row (since the endpoint's last success) that turn its status red on the webhooks list."""


@dataclass(frozen=True)
class Health:
    """An endpoint at a glance: what waits, what gave up, and the failed attempts since its last success."""

    pending: int = 0
    failed: int = 0
    failures_in_a_row: int = 0

    @property
    def failing(self) -> bool:
        return self.failures_in_a_row >= FAILING_AFTER


def webhook_health(conn: Connection) -> dict[str, Health]:
    counts = sa.select(
        deliveries.c.endpoint_id,
        sa.func.sum(sa.case((deliveries.c.status == "pending", 1), else_=0)),
        sa.func.sum(sa.case((deliveries.c.status == "failed", 1), else_=0)),
    ).group_by(deliveries.c.endpoint_id)
    # Every attempt after the last success failed (a success moves last_success_at): they are the run of failures.
    since_success = (
        sa.select(deliveries.c.endpoint_id, sa.func.count())
        .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
        .where(
            sa.or_(
                webhook_endpoints.c.last_success_at.is_(None),
                delivery_attempts.c.attempted_at > webhook_endpoints.c.last_success_at,
            )
        )
        .group_by(deliveries.c.endpoint_id)
    )
    in_a_row: dict[str, int] = {row[0]: int(row[1]) for row in conn.execute(since_success)}
    return {row[0]: Health(int(row[1] or 0), int(row[2] or 0), in_a_row.get(row[0], 0)) for row in conn.execute(counts)}
