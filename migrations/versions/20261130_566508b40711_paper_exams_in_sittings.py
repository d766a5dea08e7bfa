"""A paper exam may belong to a sitting: its answer sheets default to the sitting's roster
and its graded paper answers are attempts in the sitting. Deleting a sitting nobody has
started leaves its paper exams standing on their own (`ON DELETE SET NULL`).

Revision ID: 566508b40711
Revises: ab9115f5647a
Create Date: 2026-11-30 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "566508b40711"
down_revision: str | None = "ab9115f5647a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("paper_exams") as batch:
        batch.add_column(sa.Column("sitting_id", sa.Integer(), nullable=True))
        batch.create_index("ix_paper_exams_sitting_id", ["sitting_id"])
        batch.create_foreign_key(
            "fk_paper_exams_sitting_id_sittings",
            "sittings",
            ["sitting_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("paper_exams") as batch:
        batch.drop_constraint("fk_paper_exams_sitting_id_sittings", type_="foreignkey")
        batch.drop_index("ix_paper_exams_sitting_id")
        batch.drop_column("sitting_id")
