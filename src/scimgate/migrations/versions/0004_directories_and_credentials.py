"""Directories get a tenant key, an IdP, a status and a last-request time; tokens get names and expiry; OAuth
client-credentials clients and their secrets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("directories") as batch:
        batch.add_column(sa.Column("external_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("idp", sa.String(20), nullable=False, server_default="generic"))
        batch.add_column(sa.Column("disabled_at", _TS, nullable=True))
        batch.add_column(sa.Column("last_request_at", _TS, nullable=True))
        batch.create_index("ix_directories_external_id", ["external_id"])
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("access_token_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name="fk_oauth_clients_directory_id_directories",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_clients"),
    )
    op.create_index("ix_oauth_clients_directory_id", "oauth_clients", ["directory_id"])
    op.create_table(
        "client_secrets",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("display_prefix", sa.String(24), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["oauth_clients.id"], name="fk_client_secrets_client_id_oauth_clients", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_client_secrets"),
        sa.UniqueConstraint("secret_hash", name="uq_client_secrets_secret_hash"),
    )
    op.create_index("ix_client_secrets_client_id", "client_secrets", ["client_id"])
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("expires_at", _TS, nullable=True))
        batch.add_column(sa.Column("client_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            "fk_tokens_client_id_oauth_clients", "oauth_clients", ["client_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_tokens_client_id", ["client_id"])


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_client_id")
        batch.drop_constraint("fk_tokens_client_id_oauth_clients", type_="foreignkey")
        batch.drop_column("client_id")
        batch.drop_column("expires_at")
        batch.drop_column("name")
    op.drop_table("client_secrets")
    op.drop_table("oauth_clients")
    with op.batch_alter_table("directories") as batch:
        batch.drop_index("ix_directories_external_id")
        batch.drop_column("last_request_at")
        batch.drop_column("disabled_at")
        batch.drop_column("idp")
        batch.drop_column("external_id")
