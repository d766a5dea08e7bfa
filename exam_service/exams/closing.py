"""Closing and grading attempts: by submit, on any request that finds one past its
deadline, and by the periodic sweep every instance runs. Exactly one caller grades each
attempt (see `close_attempt`)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.errors import database_unreachable
from exam_service.exams.ability import grade_with_ability, scored_answers
from exam_service.exams.delivery import LETTERS, display_key
from exam_service.exams.lanes import lane
from exam_service.exams.service import attempt_scale, load_attempt, objective_codes, visible_attempt
from exam_service.grading import numeric, scoring
from exam_service.metrics import GRADING_DURATION, GRADINGS, SWEEP_LAG
from exam_service.models import Attempt, Objective, Result, ResultObjective

logger = logging.getLogger(__name__)

ROW = [column.key for column in inspect(Attempt).column_attrs]
"""The attempt row's own attributes: what a caller refreshes after closing (a rollback, when
another caller closed it first, expires them all). A whole refresh would also re-run the
loader options the attempt was last read with (every item, revision and objective: about
5 ms of a submit's CPU)."""


async def objective_nodes(session: AsyncSession) -> list[scoring.Node]:
    parent = Objective.__table__.alias("parent")
    rows = await session.execute(
        select(Objective.code, Objective.title, Objective.level, parent.c.code)
        .outerjoin(parent, parent.c.id == Objective.parent_id)
        .order_by(Objective.id)
    )
    return [scoring.Node(code, title, level, up) for code, title, level, up in rows.all()]


async def grade_attempt(session: AsyncSession, attempt_id: int) -> Result:
    """Grade a just-closed attempt inside the caller's transaction."""
    attempt, responses = await load_attempt(session, attempt_id)
    settings = attempt.settings
    partial = bool(settings.get("partial_credit"))
    scored_items = []
    for item in attempt.items:
        response = responses.get(item.position)
        if response and response.answer and item.revision.type in ("single", "multiple"):
            shown = item.layout["options"]
            picked = (shown[LETTERS.index(letter)] for letter in response.answer)
            item.chosen = " ".join(sorted(picked))
        key = display_key(item.revision.type, item.revision.content, item.layout)
        if item.revision.type == "numeric" and response and response.answer is not None:
            item.chosen = numeric.chosen_text(key, response.answer)
        points = scoring.item_points(
            item.revision.type,
            key,
            response.answer if response else None,
            partial_credit=partial,
        )
        item.points = points
        scored_items.append(scoring.ScoredItem(item.scored, points, objective_codes(item.revision)))
    scale = attempt_scale(attempt)
    grade, ability = await grade_with_ability(
        session,
        scoring.grade(scored_items, await objective_nodes(session), scale),
        scored_answers([(i.revision_id, i.scored, i.points) for i in attempt.items]),
        blueprint_id=attempt.blueprint_id,
        method=settings.get("scoring", "raw"),
        scale=scale,
    )
    result = Result(
        attempt_id=attempt_id,
        raw_score=grade.raw_score,
        raw_possible=grade.raw_possible,
        raw_percent=grade.raw_percent,
        scaled_score=grade.scaled_score,
        passed=grade.passed,
        objectives=[vars(node) for node in grade.objectives],
        graded_at=utcnow(),
        theta=None if ability is None else round(ability.theta, 4),
        theta_se=None if ability is None else round(ability.se, 4),
    )
    session.add(result)
    for item in attempt.items:
        item.attempt_score = grade.raw_score
    await session.flush()
    ids = dict((await session.execute(select(Objective.code, Objective.id))).all())
    if grade.objectives:
        await session.execute(
            insert(ResultObjective),
            [
                {
                    "attempt_id": attempt_id,
                    "objective_id": ids[node.code],
                    "points": node.points,
                    "possible": node.possible,
                    "percent": 100 * node.points / node.possible,
                }
                for node in grade.objectives
            ],
        )
    return result


async def close_attempt(
    session: AsyncSession, attempt_id: int, *, expired: bool, now: datetime | None = None
) -> bool:
    """Close and grade in one transaction; True when this call did it.

    The guarded UPDATE (status still `in_progress`) lets exactly one caller through, however
    many submits, touches and sweeps in however many app instances race for it. An expired
    attempt's finish time is its deadline. Gradings run in the process's lanes
    (`lanes.py`), so a burst of them does not queue in front of the answer saves; `now` is
    when the caller decided (a submit's arrival), however long the lane took.
    """
    now = now or utcnow()
    async with lane(session):
        return await _close(session, attempt_id, expired=expired, now=now)


async def _close(session: AsyncSession, attempt_id: int, *, expired: bool, now: datetime) -> bool:
    started = time.perf_counter()
    guard = update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "in_progress")
    if expired:
        statement = guard.where(Attempt.closes_at < now).values(
            status="expired", submitted_at=Attempt.deadline
        )
    else:
        statement = guard.values(status="submitted", submitted_at=now)
    changed = (await session.execute(statement)).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        await session.rollback()
        return False
    await grade_attempt(session, attempt_id)
    await session.commit()
    GRADING_DURATION.observe(time.perf_counter() - started)
    GRADINGS.labels("expired" if expired else "submitted").inc()
    return True


async def close_if_expired(session: AsyncSession, attempt: Attempt) -> None:
    """Close an attempt whose time (with grace) is over, on any request that touches it.

    The callers have only read so far: while the grading waits for its lane, the request's
    connection goes back to the pool (a class coming back after its deadline would
    otherwise hold every connection while it waits)."""
    now = utcnow()
    if attempt.status == "in_progress" and attempt.closes_at and attempt.closes_at < now:
        async with lane(session, release=True):
            await close_attempt(session, attempt.id, expired=True, now=now)
        await session.refresh(attempt, ROW)


async def close_expired_for(session: AsyncSession, user_id: int) -> None:
    """Close the user's attempts that are past their time; the callers have only read so
    far (see `close_if_expired`)."""
    now = utcnow()
    ids = (
        await session.scalars(
            select(Attempt.id).where(
                Attempt.user_id == user_id,
                Attempt.status == "in_progress",
                Attempt.closes_at < now,
            )
        )
    ).all()
    if ids:
        async with lane(session, release=True):
            for attempt_id in ids:
                await close_attempt(session, attempt_id, expired=True, now=now)


async def sweep_expired(sessions: async_sessionmaker[AsyncSession], batch: int = 200) -> int:
    """Close and grade every attempt past its deadline and grace; returns how many this
    caller closed. Safe to run in every instance at once (see `close_attempt`)."""
    closed = 0
    async with sessions() as session:
        now = utcnow()
        due = (
            await session.execute(
                select(Attempt.id, Attempt.closes_at)
                .where(Attempt.status == "in_progress", Attempt.closes_at < now)
                .order_by(Attempt.closes_at)
                .limit(batch)
            )
        ).all()
        await session.rollback()
        for attempt_id, closes_at in due:
            if await close_attempt(session, attempt_id, expired=True, now=now):
                closed += 1
                if closes_at is not None:
                    SWEEP_LAG.observe((utcnow() - closes_at).total_seconds())
    return closed


async def sweep_forever(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """The periodic sweep each app instance runs in the background."""
    while True:
        try:
            closed = await sweep_expired(sessions)
            if closed:
                logger.info("closed %d expired attempt(s)", closed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep sweeping after a database hiccup
            if database_unreachable(exc):  # down or restarting: no traceback every interval
                logger.warning(
                    "the expiry sweep cannot reach the database; retrying in %.0f s", interval
                )
            else:
                logger.exception("the expiry sweep failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


async def submit(session: AsyncSession, me: CurrentUser, attempt_id: int) -> Attempt:
    """Close and grade the attempt; a second submit finds it closed and changes nothing.

    On time or late is judged by when the submit arrived: waiting for a lane behind other
    submits near the deadline does not make it late."""
    arrived = utcnow()
    attempt = await visible_attempt(session, me, attempt_id, owner_only=True)
    if attempt.status == "in_progress":
        late = attempt.closes_at is not None and attempt.closes_at < arrived
        async with lane(session, release=True):
            await close_attempt(session, attempt_id, expired=late, now=arrived)
        await session.refresh(attempt, ROW)
    return attempt
