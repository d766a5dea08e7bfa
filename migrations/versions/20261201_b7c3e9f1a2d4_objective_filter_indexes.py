"""Indexes for the question list's objective filter with 100,000 questions: an objective's
revisions straight from `ix_revision_objectives_objective_id_revision_id` (it replaces the
index on objective_id alone), and each one's question and number from
`ix_question_revisions_id_question` rather than from its row with the content. A domain
of 25,000 questions on SQLite: the page 107 -> 34 ms, the count 75 -> 45 ms.

Revision ID: b7c3e9f1a2d4
Revises: 8a41d2e6c0f3
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b7c3e9f1a2d4"
down_revision: str | None = "8a41d2e6c0f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_revision_objectives_objective_id_revision_id",
        "revision_objectives",
        ["objective_id", "revision_id"],
    )
    op.drop_index("ix_revision_objectives_objective_id", table_name="revision_objectives")
    op.create_index(
        "ix_question_revisions_id_question", "question_revisions", ["id", "question_id", "number"]
    )


def downgrade() -> None:
    op.drop_index("ix_question_revisions_id_question", table_name="question_revisions")
    op.create_index("ix_revision_objectives_objective_id", "revision_objectives", ["objective_id"])
    op.drop_index(
        "ix_revision_objectives_objective_id_revision_id", table_name="revision_objectives"
    )
