"""The question list with 100,000 questions: `question_revisions.current_status`, the
question's status copied onto its current revision (null on earlier revisions), so that
the list filters and counts current revisions from indexes on this table alone instead
of joining each matching revision to its question (a whole domain, 25,416 questions:
the count 111 -> 27 ms on PostgreSQL, 50 -> 20 ms on SQLite).

Indexes: `ix_question_revisions_current` (current_status, question_id, id) for the pages
in question order; `ix_question_revisions_id_current` (id, current_status, type,
difficulty, question_id) replaces `ix_question_revisions_id_question` for the revision ids
that the objective and text filters find; `ix_question_revisions_listing` gets
current_status in place of number.

SQLite: the search index's update trigger (migration 5e1f0c9a2b7d) fired on any update of
a revision and rewrote its trigram entries; it now fires only when the stem or the
question id change, so that setting current_status does not touch the search index. A
later migration that rebuilds `question_revisions` must create it as `SQLITE_UPDATE_TRIGGER`
here does.

Revision ID: e4a7c2d91b36
Revises: b7c3e9f1a2d4
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4a7c2d91b36"
down_revision: str | None = "b7c3e9f1a2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_UPDATE = (
    "INSERT INTO question_search(question_search, rowid, stem, question_id) "
    "VALUES ('delete', old.id, old.stem, old.question_id); "
    "INSERT INTO question_search(rowid, stem, question_id) "
    "VALUES (new.id, new.stem, new.question_id); END"
)
SQLITE_UPDATE_TRIGGER = (
    "CREATE TRIGGER question_search_update AFTER UPDATE OF stem, question_id "
    "ON question_revisions BEGIN " + SEARCH_UPDATE
)
SQLITE_OLD_UPDATE_TRIGGER = (
    "CREATE TRIGGER question_search_update AFTER UPDATE ON question_revisions BEGIN "
    + SEARCH_UPDATE
)
FILL = (
    "UPDATE question_revisions SET current_status = (SELECT questions.status FROM questions "
    "WHERE questions.id = question_revisions.question_id "
    "AND questions.current_revision = question_revisions.number)"
)


def _listing(columns: list[str]) -> None:
    op.drop_index("ix_question_revisions_listing", table_name="question_revisions")
    op.create_index("ix_question_revisions_listing", "question_revisions", columns)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS question_search_update")
        op.execute(SQLITE_UPDATE_TRIGGER)
    op.add_column(
        "question_revisions", sa.Column("current_status", sa.String(length=20), nullable=True)
    )
    op.execute(FILL)
    op.drop_index("ix_question_revisions_id_question", table_name="question_revisions")
    op.create_index(
        "ix_question_revisions_id_current",
        "question_revisions",
        ["id", "current_status", "type", "difficulty", "question_id"],
    )
    op.create_index(
        "ix_question_revisions_current",
        "question_revisions",
        ["current_status", "question_id", "id"],
    )
    _listing(["type", "difficulty", "current_status", "question_id"])
    # every revision's row was rewritten: fresh statistics, or the list's plans ignore the
    # new indexes (PostgreSQL's autovacuum later also marks the pages all visible again)
    op.execute("ANALYZE question_revisions")


def downgrade() -> None:
    _listing(["type", "difficulty", "question_id", "number"])
    op.drop_index("ix_question_revisions_current", table_name="question_revisions")
    op.drop_index("ix_question_revisions_id_current", table_name="question_revisions")
    op.create_index(
        "ix_question_revisions_id_question", "question_revisions", ["id", "question_id", "number"]
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place (3.35+); batch mode would copy the table and lose
        # the search index's triggers
        op.execute("ALTER TABLE question_revisions DROP COLUMN current_status")
        op.execute("DROP TRIGGER IF EXISTS question_search_update")
        op.execute(SQLITE_OLD_UPDATE_TRIGGER)
    else:
        op.drop_column("question_revisions", "current_status")
