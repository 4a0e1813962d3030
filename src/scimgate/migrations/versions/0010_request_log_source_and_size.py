"""The provisioning log records each request's source address and the bytes of text it keeps (its size cap).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("source", sa.String(64), nullable=True))
    op.add_column("request_log", sa.Column("size", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("size")
        batch.drop_column("source")
