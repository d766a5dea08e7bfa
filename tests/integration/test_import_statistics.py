"""A big bank import leaves fresh planner statistics behind (and on PostgreSQL vacuumed
tables), so the question list's plans use its indexes at once rather than after
autovacuum gets to the tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from exam_service import cli
from tests.factories import import_folder


async def _analyzed(db_url: str) -> bool:
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                found = await connection.scalar(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                )
                if not found:
                    return False
                rows = await connection.scalar(
                    text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'question_revisions'")
                )
                return bool(rows)
            # vacuumed too: the list's counts read the indexes alone on all-visible pages
            row = (
                await connection.execute(
                    text(
                        "SELECT last_analyze, last_vacuum FROM pg_stat_user_tables "
                        "WHERE relname = 'question_revisions'"
                    )
                )
            ).one()
            return row.last_analyze is not None and row.last_vacuum is not None
    finally:
        await engine.dispose()


async def test_a_big_import_analyzes_the_bank_tables(
    db_url: str, bank_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "ANALYZE_AFTER", 5)  # the test bank has 7 questions
    counts = await import_folder(db_url, bank_dir)
    assert counts.created >= 5
    assert await _analyzed(db_url)
