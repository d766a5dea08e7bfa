"""Opening an attempt: check that it may start (a self-study blueprint, or a sitting the
candidate is in, within its window and attempts), draw an exam from the blueprint and the
pool, fix the settings grading and review will need and the deadline, and store it."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.passwords import verify_password
from exam_service.auth.schemas import CurrentUser
from exam_service.bank.templates import TemplateError
from exam_service.db import utcnow
from exam_service.errors import Conflict, Forbidden
from exam_service.exams import adaptive, assembly, sitting_rules, sittings
from exam_service.exams.blueprints import blueprint_scale, exam_spec, get_blueprint
from exam_service.exams.closing import close_expired_for
from exam_service.exams.lanes import lane
from exam_service.exams.pool import objective_parents, question_pool, recently_seen
from exam_service.models import Accommodation, Attempt, AttemptItem, Blueprint

logger = logging.getLogger(__name__)


def undrawable(exc: TemplateError) -> Conflict:
    """The refusal when a question template of the blueprint cannot be drawn (an attempt's
    start or a paper exam's forms)."""
    return Conflict(
        f"a question template of this blueprint cannot be drawn: {exc}; an instructor "
        "should correct it (exam-service bank lint finds such templates)"
    )


def snapshot(row: Blueprint) -> dict[str, Any]:
    """The blueprint settings grading and review need, fixed for the attempt's life (and
    an adaptive attempt's stop rule)."""
    settings = {
        "name": row.name,
        "scale": msgspec.to_builtins(blueprint_scale(row)),
        "partial_credit": row.partial_credit,
        "review_policy": row.review_policy,
        "grace_seconds": row.grace_seconds,
        "time_limit_seconds": row.time_limit_seconds,
        "scoring": row.scoring,
    }
    if row.mode == "adaptive":
        settings["adaptive"] = adaptive.stop_settings(row)
    return settings


def _refuse_outside_sittings(me: CurrentUser, blueprint: Blueprint) -> None:
    if blueprint.self_study or me.role in ("admin", "instructor"):
        return
    raise Forbidden(
        f"blueprint {blueprint.id!r} is taken only in a sitting your instructor schedules; "
        'GET /api/v1/sittings lists yours: start one with {"sitting_id": N}'
    )


async def start_attempt(session: AsyncSession, me: CurrentUser, blueprint_id: str) -> Attempt:
    """Draw an exam for `me` from the blueprint, outside any sitting, and open it; returns
    the attempt, with its items, as written. Anyone may start a self-study blueprint; staff
    may start any blueprint (to preview it: they read every question with its key anyway);
    a candidate starts the others only in a sitting (`start_in_sitting`)."""
    blueprint = await get_blueprint(session, blueprint_id)
    _refuse_outside_sittings(me, blueprint)
    return await _open(session, me, blueprint)


START_TRIES = 3
"""Starts in one sitting racing for the same attempt number: each retry re-reads the
attempts used, so a loser is refused by the rules or takes the next number."""


async def start_in_sitting(
    session: AsyncSession, me: CurrentUser, sitting_id: int, access_code: str | None
) -> Attempt:
    """Open an attempt for `me` in the sitting; returns it, with its items, as written.

    Refused with NotFound when `me` is not in the sitting's cohorts (as for a sitting that
    does not exist), with Conflict before it opens, after the candidate's close, or past
    their attempts allowed (each saying what and when), and with Forbidden for a missing or
    wrong access code. The attempt's deadline follows `sitting_rules.deadline`. Its number
    is unique per sitting and candidate in the database, so two parallel starts cannot both
    take a last attempt.
    """
    code_checked = False
    for _ in range(START_TRIES):
        sitting = await sittings.sitting_to_sit(session, me, sitting_id)
        blueprint = await get_blueprint(session, sitting.blueprint_id)
        accommodation = await session.get(Accommodation, (sitting.id, me.id))
        terms = sittings.terms_of(sitting, blueprint, accommodation)
        used = await sittings.attempts_used(session, sitting.id, me.id)
        refusal = sitting_rules.refusal(sitting.id, terms, utcnow(), used)
        if refusal is not None:
            raise Conflict(refusal)
        if sitting.access_code_hash is not None and not code_checked:
            if not access_code:
                raise Forbidden(
                    f"sitting {sitting_id} needs its access code: send it as access_code "
                    "(your instructor gives it out)"
                )
            if not await verify_password(sitting.access_code_hash, access_code):
                raise Forbidden(
                    f"the access code for sitting {sitting_id} is wrong; check it with your "
                    "instructor and try again"
                )
            code_checked = True
        place = Place(
            sitting.id,
            used + 1,
            terms,
            sittings.base_time_limit(sitting, blueprint),
        )
        try:
            return await _open(session, me, blueprint, place)
        except IntegrityError:
            await session.rollback()
            logger.info(
                "attempt %d of user %d in sitting %d was taken by a parallel start; looking again",
                place.number,
                me.id,
                sitting_id,
            )
    raise Conflict(
        f"several starts in sitting {sitting_id} raced for the same attempt; send the start again"
    )


class Place(NamedTuple):
    """Where an attempt in a sitting sits: the sitting, the attempt's number there, the
    candidate's terms and the time limit before any extra time."""

    sitting_id: int
    number: int
    terms: sitting_rules.Terms
    base_limit: int | None


async def _open(
    session: AsyncSession, me: CurrentUser, blueprint: Blueprint, place: Place | None = None
) -> Attempt:
    """Draw and open the attempt in one of the process's lanes (`lanes.py`): a class
    starting at once waits for one another here, not in front of the answer saves. The
    callers have only read so far."""
    async with lane(session, release=True):
        return await _draw_and_open(session, me, blueprint, place)


async def _draw_and_open(
    session: AsyncSession, me: CurrentUser, blueprint: Blueprint, place: Place | None
) -> Attempt:
    blueprint_id = blueprint.id
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
    if blueprint.mode == "adaptive":
        # one question now; POST /api/v1/attempts/{id}/next serves the others
        drawn = [await adaptive.first_item(session, blueprint, me.id, seed)]
    else:
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
        except TemplateError as exc:
            raise undrawable(exc) from None
    now = utcnow()
    settings = snapshot(blueprint)
    if place is None:
        limit = blueprint.time_limit_seconds
        deadline = now + timedelta(seconds=limit) if limit else None
    else:
        settings["time_limit_seconds"] = place.base_limit
        deadline = sitting_rules.deadline(
            now, place.terms.time_limit_seconds, place.terms.closes_at
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
        settings=settings,
        sitting_id=place.sitting_id if place else None,
        attempt_number=place.number if place else None,
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
    return attempt
