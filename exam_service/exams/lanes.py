"""Lanes: at most `LANES` attempt start or grading runs at once in one process.

A start (draw, 30-odd rows written) or a grading (load, score, write) costs tens of
milliseconds of the event loop's time, in pieces between its database round trips; an
answer save costs a few. The loop runs ready work first come, first served, so when a
class starts at once, or its submits and the sweeps' closes arrive together near the
deadlines, hundreds of such pieces queue and every save waits behind all of them: that was
the exam-day save tail (`bench/cohort_day.py`). In a lane, starts and gradings wait
their turn for one another, a save waits behind at most `LANES` pieces of them, and the
lane rests after each (`REST`), which leaves the loop and the machine room for the saves.

What changes is who waits: a start or a submit in a burst waits longer, a save does not.
A submit is judged on time by when it arrived, not when its lane came free
(`closing.submit`), and a start's deadline counts from when its attempt is made.

Starts, submits and touches of an expired attempt take their lane before they write,
after reads only (`release=True`): a request that must wait hands its connection back to
the pool meanwhile, so a class waiting for the lane does not drain the pool (a class
coming back after its deadline once held every connection of SQLite's pool, and saves
that needed one waited 30 s and failed). The sweep and paper answers take one where
their grading begins. A task already
in a lane (a start that closes the candidate's expired attempts first), and any task it
creates, does not queue for a second one.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

LANES = 1
"""Starts and gradings at once per process. On the cohort-day bench (500 candidates, two
instances on PostgreSQL) one lane gave a save p99 of 10.6 ms against 23.3 ms with two, and
starts no slower (p99 0.77 against 0.75 s): a second lane only lets two bursts' worth of
work into the loop's queue."""

REST = 2.0
"""After each start or grading, its lane rests for this multiple of the time the work took
(at most `REST_MAX_S`) before the next may use it; the request itself does not wait for
the rest. In a burst, starts and gradings then take at most about a third of the loop's
time, and the database's and the machine's share of the burst is spread out the same way:
a class that starts at once waits a little longer for its exams (500 at once: p99 about
1.2 s), and its answers are saved as fast as ever. Alone, a start or submit never meets a
resting lane."""
REST_MAX_S = 0.25

_lanes: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("in_lane", default=False)


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _lanes.get(loop)
    if semaphore is None:
        semaphore = _lanes[loop] = asyncio.Semaphore(LANES)
    return semaphore


@asynccontextmanager
async def lane(session: AsyncSession, *, release: bool = False) -> AsyncIterator[None]:
    """Run the body in one of the process's lanes, waiting for one if all are taken.

    `release=True` says the session has only read so far: if it must wait, its transaction
    is ended (nothing to write) and its connection goes back to the pool meanwhile. (With
    changes pending in the session it keeps its connection and waits.)"""
    if _inside.get():
        yield
        return
    semaphore = _semaphore()
    must_wait = semaphore.locked()
    if release and must_wait and session.in_transaction() and not _unwritten(session):
        await session.commit()  # nothing to write: only the read transaction ends
    await semaphore.acquire()
    loop = asyncio.get_running_loop()
    began = loop.time()
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)
        rest = min((loop.time() - began) * REST, REST_MAX_S)
        loop.call_later(rest, semaphore.release)


def _unwritten(session: AsyncSession) -> bool:
    """Whether the session holds changes it has not flushed yet."""
    return bool(session.new or session.dirty or session.deleted)
