"""Paper exams and their forms; attempts remember the paper exam and form they came from.

Revision ID: 4e386f25a3a6
Revises: 643160637ce9
Create Date: 2026-11-28 21:27:50.986487
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4e386f25a3a6"
down_revision: str | None = "643160637ce9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blueprint_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("paper", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["blueprint_id"], ["blueprints.id"], name=op.f("fk_paper_exams_blueprint_id_blueprints")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_paper_exams_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_exams")),
    )
    with op.batch_alter_table("paper_exams", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_paper_exams_blueprint_id"), ["blueprint_id"], unique=False
        )

    op.create_table(
        "paper_forms",
        sa.Column("paper_exam_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=1), nullable=False),
        sa.Column(
            "items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["paper_exam_id"],
            ["paper_exams.id"],
            name=op.f("fk_paper_forms_paper_exam_id_paper_exams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_exam_id", "code", name=op.f("pk_paper_forms")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paper_exam_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("paper_form", sa.String(length=1), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_attempts_paper_exam_id"), ["paper_exam_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_attempts_paper_exam_id_paper_exams"),
            "paper_exams",
            ["paper_exam_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_attempts_paper_exam_id_paper_exams"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_attempts_paper_exam_id"))
        batch_op.drop_column("paper_form")
        batch_op.drop_column("paper_exam_id")

    op.drop_table("paper_forms")
    with op.batch_alter_table("paper_exams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_exams_blueprint_id"))

    op.drop_table("paper_exams")
