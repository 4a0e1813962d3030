"""Instance secrets: keys shared by every worker on one database (the first one seals paging cursors).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_instance_secrets"),
    )
    # Generated here, once per database, so that every worker of a deployment seals and opens cursors alike.
    op.bulk_insert(table, [{"name": "cursor", "value": secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.drop_table("instance_secrets")
