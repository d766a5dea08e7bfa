"""All score reports of a sitting as one ZIP (`GET /api/v1/sittings/{id}/score-reports.zip`),
streamed so that the server's memory stays flat however many candidates there are.

- What is in it: `index.csv`, the sitting report's table (every candidate, whether they
  started, their counted score) with the name of each candidate's file, then one PDF per
  counted attempt: each candidate's counted attempt under `highest`, `first` and `last`,
  every graded attempt under `mean` (where they all count), named
  `<username>-attempt-<n>.pdf`. Each report is the one its candidate gets from
  `GET /api/v1/attempts/{id}/report.pdf`, with the missed questions and explanations only
  when the review policy releases them to the candidate, so the files can be handed out.
- How it streams: the response body is an async generator. It reads one attempt's result
  at a time (a short transaction each, on one connection held for the stream),
  keeps a few PDFs rendering in the heavy-work pool (`IN_FLIGHT`), and writes each
  finished PDF as a stored (uncompressed: PDF streams are compressed already) ZIP entry
  into `ZipStream`, whose pieces are handed to the client after every entry.
  Nothing but the central directory (about 100 bytes an entry) grows with the sitting.
- What is fixed before the first byte: the access check, the closing of attempts whose
  time is up, and the list of files; a failure after that (the pool stays full for a
  minute) ends the stream early, and the client sees a truncated archive.
"""

from __future__ import annotations

import asyncio
import time
import zipfile
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from exam_service.auth.schemas import CurrentUser
from exam_service.errors import Busy
from exam_service.heavy import HeavyWork, default_workers
from exam_service.models import Attempt, Result, User
from exam_service.reports import pdf, service, tables
from exam_service.reports.schemas import ScoreReport
from exam_service.reports.sitting_report import sitting_report

BUSY_PATIENCE = 60.0
"""Seconds a stream waits for a place in a full heavy-work pool before it gives up."""


class _Sink:
    """A write-only, unseekable file that keeps what was written until `take`n; zipfile
    then writes each entry's sizes and CRC after its data (a data descriptor). A stored
    entry's data reaches it as the very bytes object given, which is kept, not copied."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(data if isinstance(data, bytes) else bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> list[bytes]:
        parts, self.parts = self.parts, []
        return parts


class ZipStream:
    """A ZIP archive written entry by entry: each call returns the pieces to send, in
    order (an entry's header, its data, its descriptor), without copying the data."""

    def __init__(self, date_time: tuple[int, int, int, int, int, int]) -> None:
        self.sink = _Sink()
        self.archive = zipfile.ZipFile(self.sink, "w", compression=zipfile.ZIP_STORED)
        self.date_time = date_time

    def add(self, name: str, data: bytes) -> list[bytes]:
        """The pieces of one stored entry."""
        entry = zipfile.ZipInfo(name, date_time=self.date_time)
        entry.compress_type = zipfile.ZIP_STORED
        entry.external_attr = 0o644 << 16
        self.archive.writestr(entry, data)
        return self.sink.take()

    def finish(self) -> list[bytes]:
        """The central directory and the end record."""
        self.archive.close()
        return self.sink.take()


@dataclass(frozen=True)
class ReportFile:
    name: str
    attempt_id: int
    candidate: CurrentUser
    """Whose report it is: it is drawn as they would see it."""


@dataclass(frozen=True)
class ZipPlan:
    sitting_id: int
    index: bytes
    files: list[ReportFile]


async def zip_plan(session: AsyncSession, viewer: CurrentUser, sitting_id: int) -> ZipPlan:
    """The files of the sitting's ZIP (see the module docstring); NotFound for a sitting
    that is not `viewer`'s, as the sitting report."""
    report = await sitting_report(session, viewer, sitting_id)
    query = (
        select(Attempt.id, Attempt.attempt_number, User.id, User.username, User.role)
        .join(User, User.id == Attempt.user_id)
        .join(Result, Result.attempt_id == Attempt.id)
        .where(Attempt.sitting_id == sitting_id)
        .order_by(User.username, Attempt.attempt_number, Attempt.id)
    )
    if report.grading_method != "mean":
        counted = [c.counted_attempt_id for c in report.candidates if c.counted_attempt_id]
        query = query.where(Attempt.id.in_(counted))
    names = {c.user_id: c.display_name for c in report.candidates}
    files: list[ReportFile] = []
    by_user: dict[int, list[str]] = {}
    for attempt_id, number, user_id, username, role in (await session.execute(query)).all():
        name = f"{username}-attempt-{number}.pdf"
        candidate = CurrentUser(user_id, username, role, names.get(user_id, username))
        files.append(ReportFile(name, attempt_id, candidate))
        by_user.setdefault(user_id, []).append(name)
    return ZipPlan(sitting_id, tables.sitting_csv(report, by_user), files)


async def _render(heavy: HeavyWork, report: ScoreReport, paper: str) -> bytes:
    """The report's PDF from the pool, waiting (up to BUSY_PATIENCE) while it is full:
    halfway through a stream a 503 can no longer be sent."""
    waited = 0.0
    while True:
        try:
            return await heavy.run(pdf.score_report_pdf, report, paper=paper)
        except Busy:
            if waited >= BUSY_PATIENCE:
                raise
            await asyncio.sleep(0.5)
            waited += 0.5


def in_flight(heavy: HeavyWork) -> int:
    """PDFs rendering at once: one per worker and one waiting, at most four."""
    return min(4, (heavy.workers or default_workers()) + 1)


async def zip_chunks(
    engine: AsyncEngine, heavy: HeavyWork, plan: ZipPlan, paper: str
) -> AsyncIterator[bytes]:
    """The ZIP's bytes, an entry at a time (see the module docstring)."""
    archive = ZipStream(time.gmtime()[:6])
    for part in archive.add("index.csv", plan.index):
        yield part
    pending: deque[tuple[str, asyncio.Task[bytes]]] = deque()
    window = in_flight(heavy)
    # One connection for the whole stream, a short transaction per report: the pool hands
    # out its connections in turn, and each SQLite connection fills its own page cache.
    connection = await engine.connect()
    try:
        for file in plan.files:
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                report = await service.score_report(session, file.candidate, file.attempt_id)
            pending.append((file.name, asyncio.create_task(_render(heavy, report, paper))))
            if len(pending) >= window:
                name, job = pending.popleft()
                for part in archive.add(name, await job):
                    yield part
        while pending:
            name, job = pending.popleft()
            for part in archive.add(name, await job):
                yield part
        for part in archive.finish():
            yield part
    finally:
        for _, job in pending:
            job.cancel()
        await connection.close()
