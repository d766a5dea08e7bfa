"""When calibration runs and who runs it: the background run each app instance polls for,
and the command's run now, coordinated through the one row of `calibration_state`.

A run is claimed with a guarded UPDATE that succeeds only while nobody holds the lease
(`LEASE`) and, for the background run, when the last run started at least an interval ago;
on an empty table the row's primary key lets one insert win. So however many app instances
poll, one of them runs it per interval, and `exam-service calibrate` does not run beside a
background run. The background run is skipped when nothing was graded since the last one
(the count of results and their latest `graded_at` are unchanged). Reading the responses
and the fit run in a heavy-work process, so requests never wait for them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exam_service.calibration.service import RunSummary, graded_so_far, run_calibration
from exam_service.db import utcnow
from exam_service.errors import Busy, Conflict, database_unreachable
from exam_service.grading import irt
from exam_service.heavy import HeavyWork
from exam_service.models import CalibrationState

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=30)
"""How long a claimed run holds off every other: longer than any run (100,000 attempts of
50 items fit in about 5 s); an instance that dies mid-run delays the next one this long."""
POLL_SECONDS = 60
"""How often each instance asks whether a background run is due (never more often than
the interval itself)."""


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def _claim(
    session: AsyncSession, owner: str, now: datetime, *, not_since: datetime | None
) -> bool:
    """Take the lease with a guarded UPDATE (or, on an empty table, by inserting the row:
    the primary key lets one insert win); True when this caller got it. With `not_since`,
    only when the last run started no later than that."""
    guard = update(CalibrationState).where(
        CalibrationState.id == 1,
        or_(CalibrationState.claimed_until.is_(None), CalibrationState.claimed_until < now),
    )
    if not_since is not None:
        guard = guard.where(
            or_(CalibrationState.started_at.is_(None), CalibrationState.started_at <= not_since)
        )
    claim = {"claimed_by": owner, "claimed_until": now + LEASE, "started_at": now}
    changed = (await session.execute(guard.values(**claim))).rowcount  # type: ignore[attr-defined]
    if changed == 1:
        await session.commit()
        return True
    exists = await session.scalar(select(CalibrationState.id).where(CalibrationState.id == 1))
    if exists is not None:
        await session.rollback()
        return False
    try:
        await session.execute(insert(CalibrationState).values(id=1, graded_results=0, **claim))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def _release(
    session: AsyncSession, owner: str, *, started_at: datetime | None | Literal["keep"] = "keep"
) -> None:
    """Give the lease back (after a skip or a failure); `started_at` puts back the time of
    the run before, so that the next poll tries again."""
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
    if started_at != "keep":
        values["started_at"] = started_at
    await session.rollback()
    await session.execute(
        update(CalibrationState)
        .where(CalibrationState.id == 1, CalibrationState.claimed_by == owner)
        .values(**values)
    )
    await session.commit()


async def calibrate_now(
    session: AsyncSession,
    *,
    model: irt.Model | None = None,
    heavy: HeavyWork | None = None,
    by: str = "command",
    min_responses: int = irt.MIN_RESPONSES,
) -> RunSummary:
    """Run a calibration now, whatever was graded (`exam-service calibrate`): Conflict
    while another run holds the lease. `model` defaults to the model in use; without
    `heavy` the fit runs in this process."""
    now = utcnow()
    if not await _claim(session, by, now, not_since=None):
        state = await session.get(CalibrationState, 1)
        holder = state.claimed_by if state else "another process"
        until = state.claimed_until if state else None
        raise Conflict(
            f"a calibration run by {holder} is under way"
            + (f" (its lease ends at {until:%Y-%m-%d %H:%M:%S} UTC)" if until else "")
            + "; run this again when it has finished"
        )
    try:
        return await run_calibration(
            session, model=model, heavy=heavy, by=by, min_responses=min_responses
        )
    except BaseException:
        await _release(session, by)
        raise


async def calibrate_if_due(
    sessions: async_sessionmaker[AsyncSession],
    heavy: HeavyWork | None,
    interval: float,
    owner: str,
) -> RunSummary | None:
    """The background run: claim it when the last one started at least `interval` seconds
    ago and nobody holds the lease, skip it when nothing was graded since, otherwise run
    it. Returns what the run did, or None when this caller did not run one. Safe in every
    instance at once: the claim lets one through."""
    async with sessions() as session:
        now = utcnow()
        state = await session.get(CalibrationState, 1)
        before = state.started_at if state else None
        seen = (state.graded_results, state.graded_until) if state and state.finished_at else None
        await session.rollback()
        if not await _claim(session, owner, now, not_since=now - timedelta(seconds=interval)):
            return None
        try:
            graded = await graded_so_far(session)
            if graded[0] == 0 or graded == seen:
                logger.debug("calibration skipped: nothing graded since the last run")
                await _release(session, owner)
                return None
            return await run_calibration(
                session, model=None, heavy=heavy, by=owner, min_responses=irt.MIN_RESPONSES
            )
        except BaseException:
            try:
                await _release(session, owner, started_at=before)
            except Exception:  # the lease runs out by itself
                logger.warning("could not release the calibration lease; it ends by itself")
            raise


async def calibrate_forever(
    sessions: async_sessionmaker[AsyncSession], heavy: HeavyWork, interval: float
) -> None:
    """Each app instance's background calibration: every `POLL_SECONDS` (or `interval`, if
    shorter) it asks whether a run is due (`calibrate_if_due`)."""
    owner = instance_name()
    poll = min(interval, POLL_SECONDS)
    while True:
        await asyncio.sleep(poll)
        try:
            summary = await calibrate_if_due(sessions, heavy, interval, owner)
        except asyncio.CancelledError:
            raise
        except Busy:
            logger.warning("the heavy-work pool is full; calibration tries again in %.0f s", poll)
            continue
        except Exception as exc:  # try again at the next poll
            if database_unreachable(exc):
                logger.warning(
                    "the background calibration cannot reach the database; retrying in %.0f s",
                    poll,
                )
            else:
                logger.exception("the background calibration failed; retrying in %.0f s", poll)
            continue
        if summary is not None:
            logger.info("calibration: %s", describe(summary))


def describe(summary: RunSummary, names: Mapping[int, str] | None = None) -> str:
    """One line saying what a run did, e.g. for the command and the log."""
    model = "Rasch" if summary.model == "rasch" else "2PL"
    named = names or {}
    shown = [named.get(r, f"revision {r}") for r in summary.misfits]
    misfits = f" ({', '.join(shown[:10])}{', ...' if len(shown) > 10 else ''})" if shown else ""
    unsettled = "" if summary.converged else f"; not converged in {summary.iterations} iterations"
    return (
        f"{model} from {summary.attempts:,} graded attempts ({summary.responses:,} responses) "
        f"in {summary.seconds:.1f} s (read {summary.read_seconds:.1f} s, fit "
        f"{summary.fit_seconds:.1f} s, store {summary.store_seconds:.1f} s): "
        f"{summary.estimated} items estimated, {summary.too_few} skipped for fewer than "
        f"{summary.min_responses} responses, {summary.no_variation} answered all right or all "
        f"wrong, {len(shown)} misfit{'' if len(shown) == 1 else 's'}{misfits}{unsettled}"
    )
