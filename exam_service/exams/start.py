"""Opening an attempt: draw an exam from the blueprint and the pool, fix the settings
grading and review will need, and store it."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.errors import Conflict
from exam_service.exams import assembly
from exam_service.exams.blueprints import blueprint_scale, exam_spec, get_blueprint
from exam_service.exams.closing import close_expired_for
from exam_service.exams.pool import objective_parents, question_pool, recently_seen
from exam_service.models import Attempt, AttemptItem, Blueprint


def snapshot(row: Blueprint) -> dict[str, Any]:
    """The blueprint settings grading and review need, fixed for the attempt's life."""
    return {
        "name": row.name,
        "scale": msgspec.to_builtins(blueprint_scale(row)),
        "partial_credit": row.partial_credit,
        "review_policy": row.review_policy,
        "grace_seconds": row.grace_seconds,
        "time_limit_seconds": row.time_limit_seconds,
    }


async def start_attempt(session: AsyncSession, me: CurrentUser, blueprint_id: str) -> int:
    """Draw an exam for `me` from the blueprint and open it; returns the attempt id."""
    blueprint = await get_blueprint(session, blueprint_id)
    open_count = await session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.user_id == me.id,
            Attempt.blueprint_id == blueprint_id,
            Attempt.status == "in_progress",
        )
    )
    if open_count and open_count >= blueprint.max_open_attempts:
        await close_expired_for(session, me.id)
        open_ids = (
            await session.scalars(
                select(Attempt.id).where(
                    Attempt.user_id == me.id,
                    Attempt.blueprint_id == blueprint_id,
                    Attempt.status == "in_progress",
                )
            )
        ).all()
        if len(open_ids) >= blueprint.max_open_attempts:
            raise Conflict(
                f"you already have {len(open_ids)} open attempt(s) at {blueprint_id!r} "
                f"(attempt {', '.join(map(str, open_ids))}); submit one before starting "
                f"another (this blueprint allows {blueprint.max_open_attempts} at a time)"
            )
    seed = secrets.randbits(62)
    try:
        drawn = assembly.assemble(
            exam_spec(blueprint),
            await question_pool(session),
            await objective_parents(session),
            seed,
            await recently_seen(session, me.id),
        )
    except assembly.ShortOfQuestions as exc:
        raise Conflict(str(exc)) from None
    now = utcnow()
    deadline = (
        now + timedelta(seconds=blueprint.time_limit_seconds)
        if blueprint.time_limit_seconds
        else None
    )
    attempt = Attempt(
        user_id=me.id,
        blueprint_id=blueprint.id,
        seed=seed,
        status="in_progress",
        source="online",
        mode=blueprint.mode,
        started_at=now,
        deadline=deadline,
        closes_at=deadline + timedelta(seconds=blueprint.grace_seconds) if deadline else None,
        settings=snapshot(blueprint),
        items=[
            AttemptItem(
                position=d.position,
                revision_id=d.revision_id,
                scored=d.scored,
                layout=assembly.layout_of(d),
            )
            for d in drawn
        ],
    )
    session.add(attempt)
    await session.commit()
    return attempt.id
