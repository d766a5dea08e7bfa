"""Revocable sign-ins (issue 20, accounts): each user's token version, raised to end all of
their sign-ins (deactivation, a role change, a new password), with the time it or
`is_active` last changed, which every instance polls; and the tokens ended one by one by
signing out, kept until they would have expired.

Revision ID: 69f1c5793797
Revises: c3d91f0a7e25
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "69f1c5793797"
down_revision: str | None = "c3d91f0a7e25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("access_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_users_access_changed_at", ["access_changed_at"])
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_revoked_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    with op.batch_alter_table("revoked_tokens") as batch:
        batch.create_index("ix_revoked_tokens_user_id", ["user_id"])
        batch.create_index("ix_revoked_tokens_expires_at", ["expires_at"])
        batch.create_index("ix_revoked_tokens_revoked_at", ["revoked_at"])


def downgrade() -> None:
    op.drop_table("revoked_tokens")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_access_changed_at")
        batch.drop_column("access_changed_at")
        batch.drop_column("token_version")
