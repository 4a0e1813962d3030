"""The provisioning log (every SCIM request, with its explanation when it failed), and counters that only go up.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("directory_id", sa.String(40), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("resource_type", sa.String(20), nullable=True),
        sa.Column("resource_id", sa.String(40), nullable=True),
        sa.Column("scim_type", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(60), nullable=True),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("token_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_request_log"),
    )
    op.create_index("ix_request_log_directory_id_time", "request_log", ["directory_id", "time"])
    op.create_index("ix_request_log_time", "request_log", ["time"])
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    # The feed continues from the highest position given so far.
    head = op.get_bind().execute(sa.text("SELECT coalesce(max(position), 0) FROM events")).scalar_one()
    op.bulk_insert(counters, [{"name": "feed_position", "value": head}])


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("request_log")
