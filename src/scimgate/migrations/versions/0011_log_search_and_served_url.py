"""The provisioning log is searched by what an admin knows (userName, group name, externalId, email, resource id,
filter values) through an index of terms; each entry names its target, and a refused credential's prefix. And the
public URL the last ``serve`` ran at, for the management commands.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("request_log", sa.Column("target", sa.String(200), nullable=True))
    op.add_column("request_log", sa.Column("presented_prefix", sa.String(24), nullable=True))
    # Entries written before this revision have no terms: they are found by the other filters, and by request id.
    op.create_table(
        "request_log_terms",
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("term", sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["request_log.id"],
            name="fk_request_log_terms_entry_id_request_log",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "term", name="pk_request_log_terms"),
    )
    op.create_index("ix_request_log_terms_term_entry_id", "request_log_terms", ["term", "entry_id"])
    # A directory's page of the log, newest first, without sorting all its entries (bench/log_search.py).
    op.create_index("ix_request_log_directory_id_id", "request_log", ["directory_id", "id"])
    op.create_table(
        "instance_settings",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_instance_settings"),
    )


def downgrade() -> None:
    op.drop_table("instance_settings")
    op.drop_index("ix_request_log_directory_id_id", "request_log")
    op.drop_table("request_log_terms")
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("presented_prefix")
        batch.drop_column("target")
