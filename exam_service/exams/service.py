"""Reading attempts: which ones a user may see, an attempt with its items and answers,
lists, results and the time left. Opening, saving, closing and reviewing live in their
own modules (`start.py`, `answers.py`, `closing.py`, `results.py`)."""

from __future__ import annotations

import math
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from exam_service.auth.access import may_see_user, visible_to
from exam_service.auth.schemas import CurrentUser
from exam_service.errors import NotFound
from exam_service.grading.scoring import Scale
from exam_service.models import (
    Attempt,
    AttemptItem,
    QuestionRevision,
    Response,
    Result,
    RevisionObjective,
)


def attempt_scale(attempt: Attempt) -> Scale:
    """The scale fixed in the attempt's settings when it started."""
    return msgspec.convert(attempt.settings["scale"], Scale)


def utc_clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def missing_attempt(attempt_id: int) -> NotFound:
    return NotFound(f"there is no attempt {attempt_id} of yours; GET /api/v1/attempts lists them")


async def visible_attempt(
    session: AsyncSession, viewer: CurrentUser, attempt_id: int, *, owner_only: bool = False
) -> Attempt:
    """The attempt if the viewer may see it (or act on it, with `owner_only`); NotFound
    otherwise, exactly as for an attempt that does not exist."""
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None:
        raise missing_attempt(attempt_id)
    if owner_only:
        if attempt.user_id != viewer.id:
            raise missing_attempt(attempt_id)
    elif not await may_see_user(session, viewer, attempt.user_id):
        raise missing_attempt(attempt_id)
    return attempt


async def load_attempt(
    session: AsyncSession, attempt_id: int, *, objectives: bool = True
) -> tuple[Attempt, dict[int, Response]]:
    """An attempt with its items and their revisions, and its responses by position.

    `objectives=False` leaves out each revision's objectives (two queries and a hundred-odd
    rows fewer): what the candidate is shown of an attempt does not name them, and a whole
    class starting at once pays for every query here."""
    revisions = selectinload(Attempt.items).selectinload(AttemptItem.revision)
    if objectives:
        revisions = revisions.selectinload(QuestionRevision.objectives).selectinload(
            RevisionObjective.objective
        )
    attempt = await session.scalar(
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .options(revisions)
        .execution_options(populate_existing=True)
    )
    if attempt is None:
        raise missing_attempt(attempt_id)
    responses = {
        r.position: r
        for r in (
            await session.scalars(select(Response).where(Response.attempt_id == attempt_id))
        ).all()
    }
    return attempt, responses


async def new_attempt(
    session: AsyncSession, attempt: Attempt
) -> tuple[Attempt, dict[int, Response]]:
    """The attempt this session just opened (`start.py`), for the start's reply: the attempt
    and its items are the objects the start wrote, so only their revisions are read, in one
    query, and there are no responses yet. Under half the CPU time of `load_attempt`, paid
    once per candidate when a whole class starts at once."""
    wanted = {item.revision_id for item in attempt.items}
    revisions = {
        r.id: r
        for r in (
            await session.scalars(select(QuestionRevision).where(QuestionRevision.id.in_(wanted)))
        ).all()
    }
    for item in attempt.items:
        set_committed_value(item, "revision", revisions[item.revision_id])
    return attempt, {}


async def items_and_responses(
    session: AsyncSession, attempt_id: int
) -> tuple[list[AttemptItem], dict[int, Response]]:
    """An attempt's items in order, each with its revision and objectives, and its saved
    responses by position, for an attempt row already in hand."""
    items = await session.scalars(
        select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id)
        .order_by(AttemptItem.position)
        .options(
            selectinload(AttemptItem.revision)
            .selectinload(QuestionRevision.objectives)
            .selectinload(RevisionObjective.objective)
        )
    )
    responses = await session.scalars(select(Response).where(Response.attempt_id == attempt_id))
    return list(items.all()), {r.position: r for r in responses.all()}


def seconds_left(attempt: Attempt, now: datetime) -> int | None:
    if attempt.status != "in_progress" or attempt.deadline is None:
        return None
    return max(0, math.floor((attempt.deadline - now).total_seconds()))


def objective_codes(revision: QuestionRevision) -> tuple[str, ...]:
    return tuple(link.objective.code for link in revision.objectives)


async def list_attempts(
    session: AsyncSession,
    viewer: CurrentUser,
    *,
    user_id: int | None,
    blueprint_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
    sitting_id: int | None = None,
) -> list[tuple[Attempt, Result | None]]:
    """The attempts `viewer` may see, newest first, narrowed by the filters given."""
    query = select(Attempt, Result).outerjoin(Result, Result.attempt_id == Attempt.id)
    query = query.where(visible_to(viewer, Attempt.user_id))
    if user_id is not None:
        query = query.where(Attempt.user_id == user_id)
    if blueprint_id is not None:
        query = query.where(Attempt.blueprint_id == blueprint_id)
    if sitting_id is not None:
        query = query.where(Attempt.sitting_id == sitting_id)
    if status is not None:
        query = query.where(Attempt.status == status)
    rows = await session.execute(
        query.order_by(Attempt.started_at.desc(), Attempt.id.desc()).limit(limit).offset(offset)
    )
    return [(attempt, result) for attempt, result in rows.all()]


async def result_of(session: AsyncSession, attempt_id: int) -> Result | None:
    return await session.get(Result, attempt_id)
