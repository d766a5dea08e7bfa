"""The answer-save hot path: one guarded upsert per save on a raw-driver connection.

This is what a whole cohort hammers at once (bench/answer_save.py measures it against a
bare upsert on the same server), so it skips the ORM: the attempt's shape is cached per
process, and ownership, status and deadline are checked by the upsert itself.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exam_service.auth.schemas import CurrentUser
from exam_service.db import sqlite_pragmas, utcnow
from exam_service.errors import Conflict, InvalidInput, NotFound
from exam_service.exams.delivery import AnswerRejected, AnswerSpec, answer_spec, check_answer
from exam_service.exams.service import missing_attempt, utc_clock
from exam_service.metrics import ANSWER_SAVES, LATE_SAVES
from exam_service.models import Attempt, AttemptItem, QuestionRevision, Response
from exam_service.settings import DEFAULT_SQLITE_BUSY_MS


@dataclass(frozen=True)
class AnswerRow:
    """One save as the upsert writes it."""

    attempt_id: int
    position: int
    answer: Any
    """The answer as checked and normalised (`delivery.check_answer`)."""
    flagged: bool
    saved_at: datetime
    user_id: int
    """Who saves: the upsert writes only into this user's attempt."""


@dataclass(frozen=True)
class SavedAnswer:
    """What the candidate is told after a save."""

    answer: Any
    saved_at: datetime
    seconds_left: int | None
    """Until the attempt's deadline (grace not counted); None when untimed."""


@dataclass(frozen=True)
class AttemptShape:
    """What a save needs to know about an attempt; it never changes after the start, except
    that adaptive practice appends questions (a save to a position past the cached ones
    reads the shape again)."""

    user_id: int
    deadline: datetime | None
    closes_at: datetime | None
    items: dict[int, AnswerSpec]


# The guarded upsert of the hot path, written once per driver. It inserts only when the
# attempt is this user's, still open and within its deadline plus grace (the server's
# clock), and never overwrites an answer locked by a practice-mode check. On PostgreSQL it
# takes a share lock on the attempt row, so a submit that is closing the attempt waits
# for the save to commit, and a save that comes after the close sees it closed.
POSTGRES_UPSERT = """
INSERT INTO responses (attempt_id, position, answer, flagged, locked, saved_at)
SELECT attempts.id, $2, $3::jsonb, $4, false, $5 FROM attempts
WHERE attempts.id = $1 AND attempts.user_id = $6 AND attempts.status = 'in_progress'
  AND (attempts.closes_at IS NULL OR attempts.closes_at >= $5)
FOR SHARE OF attempts
ON CONFLICT (attempt_id, position) DO UPDATE
SET answer = excluded.answer, flagged = excluded.flagged, saved_at = excluded.saved_at
WHERE responses.locked IS false
"""
SQLITE_UPSERT = """
INSERT INTO responses (attempt_id, position, answer, flagged, locked, saved_at)
SELECT attempts.id, ?2, ?3, ?4, 0, ?5 FROM attempts
WHERE attempts.id = ?1 AND attempts.user_id = ?6 AND attempts.status = 'in_progress'
  AND (attempts.closes_at IS NULL OR attempts.closes_at >= ?5)
ON CONFLICT (attempt_id, position) DO UPDATE
SET answer = excluded.answer, flagged = excluded.flagged, saved_at = excluded.saved_at
WHERE responses.locked = 0
"""
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy stores a UTC datetime in SQLite; the raw upsert must write the same."""


class PostgresAnswers:
    """The upsert on its own asyncpg pool: one round trip per save."""

    def __init__(self, dsn: str, size: int) -> None:
        self.dsn, self.size = dsn, size
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=self.size)

    async def write(self, row: AnswerRow) -> int:
        status = await self.pool.execute(
            POSTGRES_UPSERT,
            row.attempt_id,
            row.position,
            json.dumps(row.answer),
            row.flagged,
            row.saved_at,
            row.user_id,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def connections(self) -> tuple[int, int]:
        """(in use, open) connections of the pool."""
        if self.pool is None:
            return 0, 0
        held = self.pool.get_size()
        return held - self.pool.get_idle_size(), held


class SqliteAnswers:
    """The upsert on one aiosqlite connection. SQLite has one writer at a time anyway;
    queueing saves here, instead of letting pooled connections race for the file lock
    and back off, keeps the tail latency low (p99 from about 1.5 s to about 0.1 s)."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.connection: Any = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        import aiosqlite

        self.connection = await aiosqlite.connect(self.path)
        for pragma in sqlite_pragmas(self.busy_timeout_ms):
            await self.connection.execute(pragma)

    async def write(self, row: AnswerRow) -> int:
        stamp = row.saved_at.astimezone(UTC).strftime(SQLITE_TIME)
        values = (row.attempt_id, row.position, json.dumps(row.answer), int(row.flagged))
        async with self.lock:
            cursor = await self.connection.execute(SQLITE_UPSERT, (*values, stamp, row.user_id))
            await self.connection.commit()
            return int(cursor.rowcount)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    def connections(self) -> tuple[int, int]:
        """(in use, open): the one connection, in use while a save holds it."""
        if self.connection is None:
            return 0, 0
        return int(self.lock.locked()), 1


@dataclass
class ResponseWriter:
    """Saves answers with one guarded upsert on the writer's own raw-driver connection.

    The answer's shape is checked against the attempt's items, which are cached per
    process (they never change); ownership, status and deadline are checked by the upsert
    itself (see POSTGRES_UPSERT). When it writes nothing, a slow path finds out why and
    says so. The raw driver skips the ORM's per-statement work: this path is what a
    cohort hammers (bench/answer_save.py measures it against a bare upsert).
    """

    engine: AsyncEngine
    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_MS
    capacity: int = 20_000
    pool_size: int = 16
    shapes: OrderedDict[int, AttemptShape] = field(default_factory=OrderedDict)
    answers: PostgresAnswers | SqliteAnswers | None = None
    opening: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _answers(self) -> PostgresAnswers | SqliteAnswers:
        if self.answers is None:
            async with self.opening:
                if self.answers is None:
                    url = self.engine.url
                    store: PostgresAnswers | SqliteAnswers
                    if url.get_backend_name() == "postgresql":
                        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
                        store = PostgresAnswers(dsn, self.pool_size)
                    else:
                        store = SqliteAnswers(url.database or "", self.sqlite_busy_timeout_ms)
                    await store.open()
                    self.answers = store
        return self.answers

    async def close(self) -> None:
        if self.answers is not None:
            await self.answers.close()
            self.answers = None

    def connections(self) -> tuple[int, int]:
        """(in use, open) connections of the save path, for /metrics."""
        return (0, 0) if self.answers is None else self.answers.connections()

    async def shape(self, attempt_id: int, *, fresh: bool = False) -> AttemptShape | None:
        cached = None if fresh else self.shapes.get(attempt_id)
        if cached is not None:
            self.shapes.move_to_end(attempt_id)
            return cached
        async with self.engine.connect() as connection:
            head = (
                await connection.execute(
                    select(Attempt.user_id, Attempt.deadline, Attempt.closes_at).where(
                        Attempt.id == attempt_id
                    )
                )
            ).first()
            if head is None:
                return None
            rows = await connection.execute(
                select(
                    AttemptItem.position,
                    QuestionRevision.type,
                    QuestionRevision.content,
                    AttemptItem.layout,
                )
                .join(QuestionRevision, QuestionRevision.id == AttemptItem.revision_id)
                .where(AttemptItem.attempt_id == attempt_id)
            )
            return self._keep(attempt_id, head.user_id, head.deadline, head.closes_at, rows.all())

    def remember(self, attempt: Attempt) -> None:
        """Keep the shape of an attempt this process has just opened, from the objects the
        start wrote (its items with their revisions loaded): the candidate's first save
        then reads nothing, and a class's first saves come in the same seconds as its
        starts."""
        items = (
            (item.position, item.revision.type, item.revision.content, item.layout)
            for item in attempt.items
        )
        self._keep(attempt.id, attempt.user_id, attempt.deadline, attempt.closes_at, items)

    def _keep(
        self,
        attempt_id: int,
        user_id: int,
        deadline: datetime | None,
        closes_at: datetime | None,
        items: Iterable[tuple[int, str, dict[str, Any], dict[str, Any]]],
    ) -> AttemptShape:
        """Cache the shape made of the attempt's head and its items, each as (position,
        type, content, layout)."""
        specs = {
            position: answer_spec(kind, content, layout)
            for position, kind, content, layout in items
        }
        shape = AttemptShape(user_id, deadline, closes_at, specs)
        self.shapes[attempt_id] = shape
        if len(self.shapes) > self.capacity:
            self.shapes.popitem(last=False)
        return shape

    async def save(
        self, me: CurrentUser, attempt_id: int, position: int, answer: Any, flagged: bool
    ) -> SavedAnswer:
        """Store the answer durably; returns it as stored, when, and the seconds left."""
        shape = await self.shape(attempt_id)
        if shape is None or shape.user_id != me.id:
            raise missing_attempt(attempt_id)
        spec = shape.items.get(position)
        if spec is None and position > max(shape.items, default=0):
            # adaptive practice may have served it since the shape was cached
            shape = await self.shape(attempt_id, fresh=True)
            if shape is None:
                raise missing_attempt(attempt_id)
            spec = shape.items.get(position)
        if spec is None:
            raise NotFound(
                f"attempt {attempt_id} has no question {position}; positions run from 1 to "
                f"{len(shape.items)}"
            )
        try:
            stored = check_answer(spec, answer)
        except AnswerRejected as exc:
            raise InvalidInput(f"question {position}: {exc}") from None
        now = utcnow()
        store = await self._answers()
        written = await store.write(AnswerRow(attempt_id, position, stored, flagged, now, me.id))
        if written != 1:
            await self._explain_refusal(attempt_id, position, now)
        ANSWER_SAVES.inc()
        left = None
        if shape.deadline is not None:
            left = max(0, math.floor((shape.deadline - now).total_seconds()))
        return SavedAnswer(stored, now, left)

    async def _explain_refusal(self, attempt_id: int, position: int, now: datetime) -> None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        Attempt.status, Attempt.deadline, Attempt.closes_at, Attempt.submitted_at
                    ).where(Attempt.id == attempt_id)
                )
            ).one()
            locked = await connection.scalar(
                select(Response.locked).where(
                    Response.attempt_id == attempt_id, Response.position == position
                )
            )
        if row.status == "in_progress" and locked:
            raise Conflict(
                f"question {position} of attempt {attempt_id} was checked in practice mode; "
                "its answer is locked"
            )
        deadline = row.deadline or row.submitted_at or now
        LATE_SAVES.labels("submitted" if row.status == "submitted" else "expired").inc()
        if row.status == "submitted":
            closed = f"was submitted at {utc_clock(row.submitted_at or now)}"
        else:
            closed = f"closed at {utc_clock(row.closes_at or now)}"
        raise Conflict(
            f"attempt {attempt_id} {closed} (deadline {utc_clock(deadline)}); answers can no "
            "longer be saved",
            extra={
                "deadline": deadline.isoformat(),
                "attempt_status": row.status if row.status != "in_progress" else "expired",
            },
        )
