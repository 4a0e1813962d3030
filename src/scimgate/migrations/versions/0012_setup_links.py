"""Setup links: a URL the operator gives a customer's IT admin to set up provisioning of one directory alone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "setup_links",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("display_prefix", sa.String(24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name="fk_setup_links_directory_id_directories", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_setup_links"),
        sa.UniqueConstraint("secret_hash", name="uq_setup_links_secret_hash"),
    )
    op.create_index("ix_setup_links_directory_id", "setup_links", ["directory_id"])


def downgrade() -> None:
    op.drop_index("ix_setup_links_directory_id", "setup_links")
    op.drop_table("setup_links")
