"""Blueprints get an owner: the instructor or admin who made one over the API may change
it; the bank's file blueprints (`origin = 'file'`) have none and change through `bank
import`. Blueprints made over the API before this revision keep no owner (admins may change
them).

Revision ID: 5b1e0c2d7a41
Revises: 9d2e4f7a1c30
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1e0c2d7a41"
down_revision: str | None = "9d2e4f7a1c30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blueprints") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_index("ix_blueprints_owner_id", ["owner_id"])
        batch.create_foreign_key("fk_blueprints_owner_id_users", "users", ["owner_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("blueprints") as batch:
        batch.drop_constraint("fk_blueprints_owner_id_users", type_="foreignkey")
        batch.drop_index("ix_blueprints_owner_id")
        batch.drop_column("owner_id")
