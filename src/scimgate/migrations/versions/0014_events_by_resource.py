"""A user's or a group's events are found by index at any age: the event's object id (and, for membership events,
its group id) in columns of their own, filled from ``data`` for the events written before.

Until now the admin pages looked for a resource's events among the directory's newest 10,000 only, by reading
``data``: a user who had not changed since was shown without history.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEMBERSHIP = sa.text("group_id IS NOT NULL")


def upgrade() -> None:
    op.add_column("events", sa.Column("object_id", sa.String(40), nullable=True))
    op.add_column("events", sa.Column("group_id", sa.String(40), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE events SET object_id = json_extract(data, '$.object.id'), "
            "group_id = json_extract(data, '$.group.id')"
        )
    else:
        op.execute("UPDATE events SET object_id = data->'object'->>'id', group_id = data->'group'->>'id'")
    op.create_index("ix_events_directory_id_object_id_sequence", "events", ["directory_id", "object_id", "sequence"])
    op.create_index(
        "ix_events_directory_id_group_id_sequence",
        "events",
        ["directory_id", "group_id", "sequence"],
        sqlite_where=_MEMBERSHIP,
        postgresql_where=_MEMBERSHIP,
    )


def downgrade() -> None:
    op.drop_index("ix_events_directory_id_group_id_sequence", "events")
    op.drop_index("ix_events_directory_id_object_id_sequence", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("group_id")
        batch.drop_column("object_id")
