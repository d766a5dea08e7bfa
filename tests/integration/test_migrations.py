"""Migrations from empty to head, down to base and up again; no drift from the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from exam_service.db import Base
from exam_service.migrate import downgrade, head_revisions, modelled, upgrade
from tests.backends import BACKENDS
from tests.conftest import DatabaseFactory

TABLES = {"objectives", "questions", "question_revisions", "revision_objectives"}


def _tables_and_drift(connection: Connection) -> tuple[set[str], list[object]]:
    tables = set(inspect(connection).get_table_names())
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": modelled}
    )
    return tables, compare_metadata(context, Base.metadata)


async def _inspect(url: str) -> tuple[set[str], list[object]]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        result = await connection.run_sync(_tables_and_drift)
    await engine.dispose()
    return result


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_downgrade_upgrade(backend: str, databases: DatabaseFactory) -> None:
    # Sync on purpose: Alembic's env.py runs its own event loop.
    url = databases.new(backend)
    upgrade(url)
    tables, drift = asyncio.run(_inspect(url))
    assert tables >= TABLES
    assert drift == [], f"models and migrations disagree: {drift}"

    downgrade(url, "base")
    tables, _ = asyncio.run(_inspect(url))
    assert tables & TABLES == set()

    upgrade(url)
    tables, drift = asyncio.run(_inspect(url))
    assert tables >= TABLES and drift == []


def test_single_head() -> None:
    assert len(head_revisions()) == 1
