"""The options chosen on single and multiple items, for distractor analysis.

Revision ID: 643160637ce9
Revises: b7dc4bc406ad
Create Date: 2026-11-28 21:07:06.781286
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "643160637ce9"
down_revision: str | None = "b7dc4bc406ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_choices",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.String(length=100), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_item_choices_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["question_revisions.id"],
            name=op.f("fk_item_choices_revision_id_question_revisions"),
        ),
        sa.PrimaryKeyConstraint(
            "attempt_id", "position", "option_id", name=op.f("pk_item_choices")
        ),
    )
    with op.batch_alter_table("item_choices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_item_choices_revision_id_option_id", ["revision_id", "option_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("item_choices", schema=None) as batch_op:
        batch_op.drop_index("ix_item_choices_revision_id_option_id")

    op.drop_table("item_choices")
