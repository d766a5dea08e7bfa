"""Item calibration and ability (issue 17): item response theory parameters per question
revision and model (`item_calibrations`), the one-row `calibration_state` that app
instances claim a calibration run on, each result's ability θ and its standard error
(`results.theta`, `results.theta_se`: null for attempts graded before), and the blueprint
option `scoring` (`raw`, the default for every existing blueprint, or `irt`).

Revision ID: b4385ea15161
Revises: 566508b40711
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b4385ea15161"
down_revision: str | None = "566508b40711"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "item_calibrations",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("facility", sa.Float(), nullable=False),
        sa.Column("a", sa.Float(), nullable=True),
        sa.Column("b", sa.Float(), nullable=True),
        sa.Column("se_a", sa.Float(), nullable=True),
        sa.Column("se_b", sa.Float(), nullable=True),
        sa.Column("infit", sa.Float(), nullable=True),
        sa.Column("outfit", sa.Float(), nullable=True),
        sa.Column("misfit", sa.Boolean(), nullable=False),
        sa.Column("calibrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["question_revisions.id"],
            name=op.f("fk_item_calibrations_revision_id_question_revisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("revision_id", "model", name=op.f("pk_item_calibrations")),
    )
    op.create_table(
        "calibration_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model", sa.String(length=10), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("graded_results", sa.Integer(), nullable=False),
        sa.Column("graded_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", JSON_TYPE, nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_calibration_state_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_state")),
    )
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("theta", sa.Float(), nullable=True))
        batch.add_column(sa.Column("theta_se", sa.Float(), nullable=True))
    with op.batch_alter_table("blueprints") as batch:
        batch.add_column(
            sa.Column("scoring", sa.String(length=10), server_default="raw", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("blueprints") as batch:
        batch.drop_column("scoring")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("theta_se")
        batch.drop_column("theta")
    op.drop_table("calibration_state")
    op.drop_table("item_calibrations")
