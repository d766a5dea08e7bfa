"""Shared fixtures: a migrated database per backend (SQLite file and PostgreSQL), emptied
before each test; the app on top of it through its real HTTP interface; bank folders."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from exam_service import models  # noqa: F401
from exam_service.app import create_app
from exam_service.db import Base
from exam_service.migrate import upgrade
from exam_service.settings import Settings
from tests.backends import BACKENDS
from tests.factories import Person, make_cohort, make_people

FIXTURE_BANK = Path(__file__).parent / "fixtures" / "bank"
# The server the PostgreSQL runs use; each test run makes and drops its own databases.
POSTGRES_URL = os.environ.get(
    "EXAM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


class DatabaseFactory:
    """Makes empty databases of either backend and drops the PostgreSQL ones at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []

    def new(self, backend: str) -> str:
        name = f"exam_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp / name}.sqlite3"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, databases: DatabaseFactory) -> str:
    """One database per backend for the session, migrated to head."""
    url = databases.new(request.param)
    upgrade(url)
    return url


@pytest.fixture
async def db_url(migrated_url: str) -> str:
    """The backend's database, emptied of every row before the test."""
    engine = create_async_engine(migrated_url, poolclass=NullPool)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(text(f"DELETE FROM {table.name}"))
    await engine.dispose()
    return migrated_url


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    """A private copy of the test bank that a test may edit."""
    target = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, target)
    return target


@pytest.fixture
def settings(db_url: str, bank_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        bank_path=bank_dir,
        data_dir=tmp_path / "var",
        sweep_interval_seconds=0,
        calibration_interval_seconds=0,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def people(settings: Settings) -> dict[str, Person]:
    """The cast of the access tests: an admin, two instructors, two candidates; the
    instructor owns a cohort with the candidate in it (see `cohort_id`)."""
    return await make_people(
        settings,
        ("admin", "admin"),
        ("instructor", "instructor"),
        ("other-instructor", "instructor"),
        ("candidate", "candidate"),
        ("other-candidate", "candidate"),
    )


@pytest.fixture
async def cohort_id(settings: Settings, people: dict[str, Person]) -> int:
    return await make_cohort(settings, people["instructor"], [people["candidate"]])
