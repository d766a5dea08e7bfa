"""Run Alembic migrations from code, and tell whether a database is at the head revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from exam_service.settings import ROOT

MIGRATIONS = ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def _ensure_sqlite_folder(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    _ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(""))
    return set(script.get_heads())


async def current_revisions(connection: AsyncConnection) -> set[str]:
    """The revisions recorded in the database; empty when it was never migrated."""
    try:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:  # no alembic_version table: never migrated
        await connection.rollback()
        return set()
    return {row[0] for row in rows}


NOT_MODELLED = (
    "question_search",
    "ix_question_revisions_stem_trgm",
    "ix_question_revisions_question_id_trgm",
)
"""Schema that migrations make but the models do not describe: the question search's
SQLite FTS5 table (with its shadow tables) and PostgreSQL trigram indexes."""


def modelled(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's `include_name`: leave the NOT_MODELLED objects out of comparisons."""
    return not (name and name.startswith(NOT_MODELLED))
