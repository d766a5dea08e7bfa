"""Per-objective scores of graded attempts as rows, for SQL mastery reports.

Revision ID: 35661c9ed3eb
Revises: 4e386f25a3a6
Create Date: 2026-11-28 22:26:43.756229
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "35661c9ed3eb"
down_revision: str | None = "4e386f25a3a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_objectives",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("possible", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["results.attempt_id"],
            name=op.f("fk_result_objectives_attempt_id_results"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_result_objectives_objective_id_objectives"),
        ),
        sa.PrimaryKeyConstraint("attempt_id", "objective_id", name=op.f("pk_result_objectives")),
    )
    with op.batch_alter_table("result_objectives", schema=None) as batch_op:
        batch_op.create_index("ix_result_objectives_objective_id", ["objective_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("result_objectives", schema=None) as batch_op:
        batch_op.drop_index("ix_result_objectives_objective_id")

    op.drop_table("result_objectives")
