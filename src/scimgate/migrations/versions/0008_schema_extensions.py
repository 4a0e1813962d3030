"""Declared schema extensions (scimgate.scim.extensions), and what tolerant mode ignored in each logged request.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schema_extensions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("schema_id", sa.String(300), nullable=False),
        sa.Column("resource_type", sa.String(20), nullable=False),
        sa.Column("directory_id", sa.String(40), nullable=True),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schema_extensions"),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name="fk_schema_extensions_directory_id_directories",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_schema_extensions_directory_id", "schema_extensions", ["directory_id"])
    op.add_column("request_log", sa.Column("ignored", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("ignored")
    op.drop_index("ix_schema_extensions_directory_id", "schema_extensions")
    op.drop_table("schema_extensions")
