"""Email domains per directory: declared, verified by a DNS TXT record, and the directory's domain policy.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("directories") as batch:
        batch.add_column(sa.Column("domain_policy", sa.String(10), nullable=False, server_default="off"))
    op.create_table(
        "directory_domains",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(20), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name="fk_directory_domains_directory_id_directories",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_directory_domains"),
        sa.UniqueConstraint("directory_id", "domain", name="uq_directory_domains_directory_id_domain"),
    )


def downgrade() -> None:
    op.drop_table("directory_domains")
    with op.batch_alter_table("directories") as batch:
        batch.drop_column("domain_policy")
