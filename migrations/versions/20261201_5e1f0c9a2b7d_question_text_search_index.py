"""An index for the question list's text search (GET /api/v1/questions?text=...), which
otherwise reads every revision's row: about 0.5 s per search with 100,000 questions.

PostgreSQL: trigram GIN indexes (pg_trgm) on lower(stem) and lower(question_id), which
serve the search's `lower(...) LIKE '%words%'` as it is. SQLite: an FTS5 table with the
trigram tokenizer over the same two columns (`question_search`, external content: it holds
only the index), kept by triggers; the search narrows to its matches first and then applies
the same LIKE (bank/service.py). Neither is in the models: `exam_service.migrate.modelled`
keeps them out of the comparison with the models.

A later migration that rebuilds `question_revisions` on SQLite (batch mode copies the table)
drops these triggers with the old table: it must create them again (`create_sqlite_search`).

Revision ID: 5e1f0c9a2b7d
Revises: 69f1c5793797
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e1f0c9a2b7d"
down_revision: str | None = "69f1c5793797"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE question_search USING fts5(stem, question_id, "
    "content='question_revisions', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER question_search_insert AFTER INSERT ON question_revisions BEGIN "
    "INSERT INTO question_search(rowid, stem, question_id) "
    "VALUES (new.id, new.stem, new.question_id); END",
    "CREATE TRIGGER question_search_delete AFTER DELETE ON question_revisions BEGIN "
    "INSERT INTO question_search(question_search, rowid, stem, question_id) "
    "VALUES ('delete', old.id, old.stem, old.question_id); END",
    "CREATE TRIGGER question_search_update AFTER UPDATE ON question_revisions BEGIN "
    "INSERT INTO question_search(question_search, rowid, stem, question_id) "
    "VALUES ('delete', old.id, old.stem, old.question_id); "
    "INSERT INTO question_search(rowid, stem, question_id) "
    "VALUES (new.id, new.stem, new.question_id); END",
    "INSERT INTO question_search(question_search) VALUES ('rebuild')",
]


def create_sqlite_search() -> None:
    for statement in SQLITE_SEARCH:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        create_sqlite_search()
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_question_revisions_stem_trgm ON question_revisions "
        "USING gin (lower(stem) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_question_revisions_question_id_trgm ON question_revisions "
        "USING gin (lower(question_id) gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS question_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS question_search")
        return
    op.execute("DROP INDEX IF EXISTS ix_question_revisions_question_id_trgm")
    op.execute("DROP INDEX IF EXISTS ix_question_revisions_stem_trgm")
