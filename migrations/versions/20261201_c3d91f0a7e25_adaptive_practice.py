"""Adaptive practice (issue 17, item 4): a blueprint's stop rule (`blueprints.adaptive`,
JSON: `target_se`, `min_items`; null for the defaults and for the other modes) and why an
adaptive attempt stopped serving questions (`attempts.adaptive_stop`: `length`,
`precision` or `pool`; null while it goes on).

Revision ID: c3d91f0a7e25
Revises: b4385ea15161
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c3d91f0a7e25"
down_revision: str | None = "b4385ea15161"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("blueprints") as batch:
        batch.add_column(sa.Column("adaptive", JSON_TYPE, nullable=True))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("adaptive_stop", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("adaptive_stop")
    with op.batch_alter_table("blueprints") as batch:
        batch.drop_column("adaptive")
