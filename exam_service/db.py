"""Database engine and session setup, and the declarative Base every table derives from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from exam_service.settings import DEFAULT_SQLITE_BUSY_MS

# Stable constraint names, so Alembic can drop and alter constraints on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# WAL lets readers run beside the one writer; synchronous=FULL makes every commit durable
# before it returns, which the answer-save guarantee relies on.
def sqlite_pragmas(busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_MS) -> tuple[str, ...]:
    """What every SQLite connection of the service runs first."""
    return (
        "PRAGMA foreign_keys=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
    )


def create_engine(url: str, sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_MS) -> AsyncEngine:
    """An async engine for `url`, with the per-connection SQLite settings applied."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        pragmas = sqlite_pragmas(sqlite_busy_timeout_ms)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in pragmas:
                cursor.execute(pragma)
            cursor.close()

        event.listen(engine.sync_engine, "connect", on_connect)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def one_session(url: str) -> AsyncIterator[AsyncSession]:
    """A session on its own engine, disposed afterwards: for commands and scripts that do
    one piece of work outside the app."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


MAX_ID = 2_147_483_647
"""Ids are 32-bit on PostgreSQL; larger numbers are refused before they reach a query."""
