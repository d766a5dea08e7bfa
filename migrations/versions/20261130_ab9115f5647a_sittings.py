"""Sittings: a blueprint scheduled for cohorts with a window, attempt rules, an optional
access code and per-candidate accommodations. Attempts name their sitting and their number
in it (unique per sitting and candidate, so two racing starts cannot both take the last
attempt). Blueprints get `self_study`: startable without a sitting.

Blueprints that exist before this revision become self-study, since every candidate could
start them until now; new blueprints are not unless they say so (the default bank's files
say so, and `bank import` keeps file blueprints as their files say).

Revision ID: ab9115f5647a
Revises: 5b1e0c2d7a41
Create Date: 2026-11-30 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ab9115f5647a"
down_revision: str | None = "5b1e0c2d7a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blueprints") as batch:
        batch.add_column(
            sa.Column("self_study", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(sa.text("UPDATE blueprints SET self_study = true"))

    op.create_table(
        "sittings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("blueprint_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts_allowed", sa.Integer(), nullable=True),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=True),
        sa.Column("grading_method", sa.String(length=10), nullable=False),
        sa.Column("review_policy", sa.String(length=20), nullable=True),
        sa.Column("access_code_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blueprint_id"], ["blueprints.id"], name=op.f("fk_sittings_blueprint_id_blueprints")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_sittings_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sittings")),
    )
    with op.batch_alter_table("sittings") as batch:
        batch.create_index(batch.f("ix_sittings_blueprint_id"), ["blueprint_id"], unique=False)
        batch.create_index(batch.f("ix_sittings_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "sitting_cohorts",
        sa.Column("sitting_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_sitting_cohorts_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["sitting_id"],
            ["sittings.id"],
            name=op.f("fk_sitting_cohorts_sitting_id_sittings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sitting_id", "cohort_id", name=op.f("pk_sitting_cohorts")),
    )
    with op.batch_alter_table("sitting_cohorts") as batch:
        batch.create_index(batch.f("ix_sitting_cohorts_cohort_id"), ["cohort_id"], unique=False)

    op.create_table(
        "accommodations",
        sa.Column("sitting_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("extra_time_seconds", sa.Integer(), nullable=True),
        sa.Column("time_multiplier", sa.Float(), nullable=True),
        sa.Column("extra_attempts", sa.Integer(), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "extra_time_seconds IS NULL OR time_multiplier IS NULL",
            name=op.f("ck_accommodations_one_kind_of_extra_time"),
        ),
        sa.ForeignKeyConstraint(
            ["sitting_id"],
            ["sittings.id"],
            name=op.f("fk_accommodations_sitting_id_sittings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_accommodations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("sitting_id", "user_id", name=op.f("pk_accommodations")),
    )
    with op.batch_alter_table("accommodations") as batch:
        batch.create_index(batch.f("ix_accommodations_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("sitting_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("attempt_number", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_attempts_sitting_id_sittings", "sittings", ["sitting_id"], ["id"]
        )
        batch.create_unique_constraint(
            "uq_attempts_sitting_id_user_id_attempt_number",
            ["sitting_id", "user_id", "attempt_number"],
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_constraint("uq_attempts_sitting_id_user_id_attempt_number", type_="unique")
        batch.drop_constraint("fk_attempts_sitting_id_sittings", type_="foreignkey")
        batch.drop_column("attempt_number")
        batch.drop_column("sitting_id")
    with op.batch_alter_table("accommodations") as batch:
        batch.drop_index(batch.f("ix_accommodations_user_id"))
    op.drop_table("accommodations")
    with op.batch_alter_table("sitting_cohorts") as batch:
        batch.drop_index(batch.f("ix_sitting_cohorts_cohort_id"))
    op.drop_table("sitting_cohorts")
    with op.batch_alter_table("sittings") as batch:
        batch.drop_index(batch.f("ix_sittings_owner_id"))
        batch.drop_index(batch.f("ix_sittings_blueprint_id"))
    op.drop_table("sittings")
    with op.batch_alter_table("blueprints") as batch:
        batch.drop_column("self_study")
