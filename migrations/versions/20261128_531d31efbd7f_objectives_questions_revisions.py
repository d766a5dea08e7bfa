"""Objectives, questions and their immutable revisions.

Revision ID: 531d31efbd7f
Revises:
Create Date: 2026-11-28 20:30:41.110511
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "531d31efbd7f"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objectives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("weight", sa.Double(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["objectives.id"], name=op.f("fk_objectives_parent_id_objectives")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objectives")),
        sa.UniqueConstraint("code", name=op.f("uq_objectives_code")),
    )
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objectives_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "questions",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_table(
        "question_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("difficulty", sa.String(length=20), nullable=False),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=True),
        sa.Column("case_title", sa.String(length=300), nullable=True),
        sa.Column("case_scenario", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_question_revisions_question_id_questions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_revisions")),
        sa.UniqueConstraint(
            "question_id", "number", name=op.f("uq_question_revisions_question_id_number")
        ),
    )
    with op.batch_alter_table("question_revisions", schema=None) as batch_op:
        batch_op.create_index("ix_question_revisions_content_hash", ["content_hash"], unique=False)

    op.create_table(
        "revision_objectives",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_revision_objectives_objective_id_objectives"),
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["question_revisions.id"],
            name=op.f("fk_revision_objectives_revision_id_question_revisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("revision_id", "objective_id", name=op.f("pk_revision_objectives")),
    )
    with op.batch_alter_table("revision_objectives", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revision_objectives_objective_id"), ["objective_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("revision_objectives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revision_objectives_objective_id"))

    op.drop_table("revision_objectives")
    with op.batch_alter_table("question_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_question_revisions_content_hash")

    op.drop_table("question_revisions")
    op.drop_table("questions")
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objectives_parent_id"))

    op.drop_table("objectives")
