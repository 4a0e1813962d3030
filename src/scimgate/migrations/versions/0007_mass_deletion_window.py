"""Each directory counts its user deletions in a one-hour window, for the mass-deletion alarm
(scimgate.events.deletions); a user may hold a password hash (passwords=hash, scimgate.scim.passwords); each event
names the request and the credential that caused it (the audit trail).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("directories", sa.Column("deletions_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("directories", sa.Column("deletions", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("directories", sa.Column("mass_deletion_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("password_hash", sa.Text(), nullable=True))
    op.add_column("events", sa.Column("request_id", sa.String(40), nullable=True))
    op.add_column("events", sa.Column("token_id", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("token_id")
        batch.drop_column("request_id")
    with op.batch_alter_table("directories") as batch:
        batch.drop_column("mass_deletion_at")
        batch.drop_column("deletions")
        batch.drop_column("deletions_since")
