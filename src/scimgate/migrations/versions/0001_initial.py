"""Directories, tokens, users, groups and group memberships.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "directories",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directories"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("display_prefix", sa.String(24), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name="fk_tokens_directory_id_directories", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_tokens_secret_hash"),
    )
    op.create_index("ix_tokens_directory_id", "tokens", ["directory_id"])
    op.create_table(
        "users",
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("user_name_key", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("display_name_key", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=True),
        sa.Column("attributes", _JSON, nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("last_modified", _TS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name="fk_users_directory_id_directories", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("directory_id", "id", name="pk_users"),
        sa.UniqueConstraint("directory_id", "user_name_key", name="uq_users_directory_id_user_name_key"),
    )
    op.create_index("ix_users_directory_id_external_id", "users", ["directory_id", "external_id"])
    op.create_index("ix_users_directory_id_display_name_key", "users", ["directory_id", "display_name_key"])
    op.create_table(
        "groups",
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("display_name_key", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("attributes", _JSON, nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("last_modified", _TS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name="fk_groups_directory_id_directories", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("directory_id", "id", name="pk_groups"),
        sa.UniqueConstraint("directory_id", "display_name_key", name="uq_groups_directory_id_display_name_key"),
    )
    op.create_index("ix_groups_directory_id_external_id", "groups", ["directory_id", "external_id"])
    op.create_table(
        "group_members",
        sa.Column("directory_id", sa.String(40), nullable=False),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("child_group_id", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id", "group_id"],
            ["groups.directory_id", "groups.id"],
            name="fk_group_members_directory_id_group_id_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["directory_id", "user_id"],
            ["users.directory_id", "users.id"],
            name="fk_group_members_directory_id_user_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["directory_id", "child_group_id"],
            ["groups.directory_id", "groups.id"],
            name="fk_group_members_directory_id_child_group_id_groups",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "(user_id = member_id AND child_group_id IS NULL) OR (child_group_id = member_id AND user_id IS NULL)",
            name="ck_group_members_one_member",
        ),
        sa.PrimaryKeyConstraint("directory_id", "group_id", "member_id", name="pk_group_members"),
    )
    op.create_index("ix_group_members_directory_id_member_id", "group_members", ["directory_id", "member_id"])


def downgrade() -> None:
    op.drop_table("group_members")
    op.drop_table("groups")
    op.drop_table("users")
    op.drop_table("tokens")
    op.drop_table("directories")
