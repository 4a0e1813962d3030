"""Users' and groups' created and lastModified at the precision meta shows (milliseconds).

Stored with microseconds, a value read from meta and sent back in a filter (``meta.lastModified gt "…"``) matched
the resource itself. New writes store milliseconds (scimgate.scim.render.change_time); this rounds the old ones
down, which changes nothing any client has seen: meta always showed milliseconds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("users", "groups"):
        for column in ("created", "last_modified"):
            if sqlite:
                # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite: keep the milliseconds, zero the rest.
                op.execute(
                    f"UPDATE {table} SET {column} = substr({column}, 1, 23) || '000' "
                    f"WHERE length({column}) = 26 AND substr({column}, 24, 3) != '000'"
                )
            else:
                op.execute(
                    f"UPDATE {table} SET {column} = date_trunc('milliseconds', {column}) "
                    f"WHERE {column} <> date_trunc('milliseconds', {column})"
                )


def downgrade() -> None:
    pass  # nothing to undo: the finer digits were never shown
