"""Chosen options move from `item_choices` onto `attempt_items.chosen`, and each item row
gets its attempt's raw score (`attempt_score`).

The item report then reads one table in one pass for facility, discrimination and option
shares; on PostgreSQL, joint statistics of the columns it groups by let the planner see
how few groups there are. Existing choices are carried over; so are the per-objective rows
of attempts graded before `result_objectives` existed (rebuilt from `results.objectives`).

Revision ID: 9d2e4f7a1c30
Revises: 35661c9ed3eb
Create Date: 2026-11-28 23:10:14
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "9d2e4f7a1c30"
down_revision: str | None = "35661c9ed3eb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
STATISTICS = "st_attempt_items_revision_id_scored_chosen_points"

attempt_items = sa.table(
    "attempt_items",
    sa.column("attempt_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("revision_id", sa.Integer()),
    sa.column("chosen", sa.Text()),
    sa.column("attempt_score", sa.Float()),
)
item_choices = sa.table(
    "item_choices",
    sa.column("attempt_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("option_id", sa.String(100)),
    sa.column("revision_id", sa.Integer()),
)
results = sa.table(
    "results",
    sa.column("attempt_id", sa.Integer()),
    sa.column("raw_score", sa.Float()),
    sa.column("objectives", sa.JSON()),
)
result_objectives = sa.table(
    "result_objectives",
    sa.column("attempt_id", sa.Integer()),
    sa.column("objective_id", sa.Integer()),
    sa.column("points", sa.Float()),
    sa.column("possible", sa.Integer()),
    sa.column("percent", sa.Float()),
)
objectives = sa.table("objectives", sa.column("id", sa.Integer()), sa.column("code", sa.String()))


def _in_batches(rows: list[dict[str, Any]], write: Any) -> None:
    for start in range(0, len(rows), BATCH):
        write(rows[start : start + BATCH])


def upgrade() -> None:
    with op.batch_alter_table("attempt_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempt_score", sa.Float(), nullable=True))

    bind = op.get_bind()
    chosen: dict[tuple[int, int], list[str]] = {}
    for attempt_id, position, option_id in bind.execute(
        sa.select(item_choices.c.attempt_id, item_choices.c.position, item_choices.c.option_id)
    ):
        chosen.setdefault((attempt_id, position), []).append(option_id)
    update = (
        attempt_items.update()
        .where(
            attempt_items.c.attempt_id == sa.bindparam("a"),
            attempt_items.c.position == sa.bindparam("p"),
        )
        .values(chosen=sa.bindparam("c"))
    )
    _in_batches(
        [{"a": a, "p": p, "c": " ".join(sorted(ids))} for (a, p), ids in chosen.items()],
        lambda batch: bind.execute(update, batch),
    )
    bind.execute(
        attempt_items.update().values(
            attempt_score=sa.select(results.c.raw_score)
            .where(results.c.attempt_id == attempt_items.c.attempt_id)
            .scalar_subquery()
        )
    )
    _backfill_result_objectives(bind)
    if bind.dialect.name == "postgresql":
        # the item report groups by these three columns: without joint statistics the
        # planner multiplies their distinct counts, expects a huge result and will not
        # aggregate in parallel
        op.execute(
            f"CREATE STATISTICS {STATISTICS} (ndistinct) "
            "ON revision_id, scored, chosen, points FROM attempt_items"
        )

    with op.batch_alter_table("item_choices", schema=None) as batch_op:
        batch_op.drop_index("ix_item_choices_revision_id_option_id")
    op.drop_table("item_choices")


def _backfill_result_objectives(bind: Any) -> None:
    """Rows for results graded before the table existed, from the stored per-node JSON."""
    ids = dict(bind.execute(sa.select(objectives.c.code, objectives.c.id)).all())
    missing = bind.execute(
        sa.select(results.c.attempt_id, results.c.objectives).where(
            ~sa.exists().where(result_objectives.c.attempt_id == results.c.attempt_id)
        )
    ).all()
    rows = [
        {
            "attempt_id": attempt_id,
            "objective_id": ids[node["code"]],
            "points": node["points"],
            "possible": node["possible"],
            "percent": 100 * node["points"] / node["possible"],
        }
        for attempt_id, nodes in missing
        for node in nodes or []
        if node.get("code") in ids and node.get("possible")
    ]
    _in_batches(rows, lambda batch: bind.execute(result_objectives.insert(), batch))


def downgrade() -> None:
    op.create_table(
        "item_choices",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.String(length=100), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_item_choices_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["question_revisions.id"],
            name=op.f("fk_item_choices_revision_id_question_revisions"),
        ),
        sa.PrimaryKeyConstraint(
            "attempt_id", "position", "option_id", name=op.f("pk_item_choices")
        ),
    )
    with op.batch_alter_table("item_choices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_item_choices_revision_id_option_id", ["revision_id", "option_id"], unique=False
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    rows = [
        {"attempt_id": a, "position": p, "option_id": option_id, "revision_id": r}
        for a, p, r, text in bind.execute(
            sa.select(
                attempt_items.c.attempt_id,
                attempt_items.c.position,
                attempt_items.c.revision_id,
                attempt_items.c.chosen,
            ).where(attempt_items.c.chosen.is_not(None))
        )
        for option_id in text.split()
    ]
    _in_batches(rows, lambda batch: bind.execute(item_choices.insert(), batch))
    with op.batch_alter_table("attempt_items", schema=None) as batch_op:
        batch_op.drop_column("attempt_score")
        batch_op.drop_column("chosen")
