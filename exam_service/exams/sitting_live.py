"""The live view of a sitting (`GET /api/v1/sittings/{id}/progress`): for every candidate
of its roster the latest attempt (started, submitted or expired, and the time left) and
their accommodation. The instructor's page asks for it every few seconds, so it is a few
statements whatever the roster's size: the attempts are ranked in SQL and one row per
candidate comes back.

Who is listed (here and in the sitting's reports): the members of the sitting's cohorts,
and anyone who made an attempt in it and has since left them (`on_roster` false), so that
no attempt drops out of sight.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.access import sitting_roster
from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.exams import sitting_rules
from exam_service.exams.blueprints import get_blueprint
from exam_service.exams.closing import close_attempt
from exam_service.exams.schemas import AccommodationTerms, LiveCandidate, SittingProgress
from exam_service.exams.sittings import base_time_limit, owned_sitting
from exam_service.models import Accommodation, Attempt, Result, Sitting, User


async def close_expired_in(session: AsyncSession, sitting_id: int) -> int:
    """Close and grade the sitting's attempts past their deadline and grace (as the sweep
    would a few seconds later), so that what is shown is what counts; returns how many
    this call closed. A closer that loses the race rolls the session back, which expires
    what it had loaded: load the sitting again afterwards."""
    now = utcnow()
    due = (
        await session.scalars(
            select(Attempt.id).where(
                Attempt.sitting_id == sitting_id,
                Attempt.status == "in_progress",
                Attempt.closes_at < now,
            )
        )
    ).all()
    closed = 0
    for attempt_id in due:
        closed += await close_attempt(session, attempt_id, expired=True, now=now)
    return closed


def listed_in(sitting_id: int) -> ColumnElement[bool]:
    """A WHERE clause on `User`: on the sitting's roster, or with an attempt in it."""
    made = select(Attempt.user_id).where(Attempt.sitting_id == sitting_id)
    return User.id.in_(sitting_roster(sitting_id)) | User.id.in_(made)


def accommodation_terms(
    extra_time: int | None, multiplier: float | None, attempts: int | None, close: datetime | None
) -> AccommodationTerms | None:
    """The accommodation columns of an outer join: None when the candidate has none."""
    if attempts is None:  # extra_attempts is never null in a row that exists
        return None
    return AccommodationTerms(extra_time, multiplier, attempts, close)


def own_terms(
    sitting: Sitting, time_limit: int | None, terms: AccommodationTerms | None
) -> sitting_rules.Terms:
    """A candidate's terms from the sitting and their accommodation columns."""
    extra = None
    if terms is not None:
        extra = sitting_rules.Extra(
            extra_time_seconds=terms.extra_time_seconds,
            time_multiplier=terms.time_multiplier,
            extra_attempts=terms.extra_attempts,
            closes_at=terms.closes_at,
        )
    return sitting_rules.terms(
        opens_at=sitting.opens_at,
        closes_at=sitting.closes_at,
        time_limit_seconds=time_limit,
        attempts_allowed=sitting.attempts_allowed,
        extra=extra,
    )


async def sitting_progress(
    session: AsyncSession, viewer: CurrentUser, sitting_id: int
) -> SittingProgress:
    """The live view of a sitting of `viewer`'s (admins: any); others get NotFound as for
    a sitting that does not exist."""
    await owned_sitting(session, viewer, sitting_id)  # someone else's: 404 before anything
    await close_expired_in(session, sitting_id)
    sitting = await owned_sitting(session, viewer, sitting_id)
    blueprint = await get_blueprint(session, sitting.blueprint_id)
    limit = base_time_limit(sitting, blueprint)
    now = utcnow()
    ranked = (
        select(
            Attempt.id,
            Attempt.user_id,
            Attempt.attempt_number,
            Attempt.status,
            Attempt.source,
            Attempt.started_at,
            Attempt.deadline,
            Attempt.submitted_at,
            func.max(Attempt.attempt_number).over(partition_by=Attempt.user_id).label("used"),
            func.row_number()
            .over(
                partition_by=Attempt.user_id,
                order_by=(Attempt.attempt_number.desc(), Attempt.id.desc()),
            )
            .label("rank"),
        )
        .where(Attempt.sitting_id == sitting.id)
        .subquery("ranked")
    )
    latest = select(ranked).where(ranked.c.rank == 1).subquery("latest")
    rows = await session.execute(
        select(
            User.id,
            User.username,
            User.display_name,
            User.id.in_(sitting_roster(sitting.id)).label("on_roster"),
            latest.c.id,
            latest.c.attempt_number,
            latest.c.status,
            latest.c.source,
            latest.c.started_at,
            latest.c.deadline,
            latest.c.submitted_at,
            latest.c.used,
            Result.scaled_score,
            Result.passed,
            Accommodation.extra_time_seconds,
            Accommodation.time_multiplier,
            Accommodation.extra_attempts,
            Accommodation.closes_at,
        )
        .outerjoin(latest, latest.c.user_id == User.id)
        .outerjoin(Result, Result.attempt_id == latest.c.id)
        .outerjoin(
            Accommodation,
            and_(Accommodation.sitting_id == sitting.id, Accommodation.user_id == User.id),
        )
        .where(listed_in(sitting.id))
        .order_by(User.username)
    )
    candidates = []
    for row in rows.all():
        terms = accommodation_terms(*row[14:18])
        rules = own_terms(sitting, limit, terms)
        running = row.status == "in_progress"
        candidates.append(
            LiveCandidate(
                user_id=row[0],
                username=row.username,
                display_name=row.display_name,
                state=row.status or "not_started",
                attempts_used=int(row.used or 0),
                attempts_allowed=rules.attempts_allowed,
                attempt_id=row[4],
                attempt_number=row.attempt_number,
                source=row.source,
                started_at=row.started_at,
                deadline=row.deadline,
                seconds_left=max(0, math.floor((row.deadline - now).total_seconds()))
                if running and row.deadline
                else None,
                submitted_at=row.submitted_at,
                scaled_score=row.scaled_score,
                passed=row.passed,
                accommodation=terms,
                on_roster=bool(row.on_roster),
            )
        )
    window = sitting_rules.terms(
        opens_at=sitting.opens_at,
        closes_at=sitting.closes_at,
        time_limit_seconds=limit,
        attempts_allowed=sitting.attempts_allowed,
        extra=None,
    )
    state = sitting_rules.state(window, now)
    return SittingProgress(
        sitting_id=sitting.id,
        name=sitting.name,
        blueprint_id=sitting.blueprint_id,
        state=state,
        opens_at=sitting.opens_at,
        closes_at=sitting.closes_at,
        seconds_until_open=math.ceil((sitting.opens_at - now).total_seconds())
        if state == "upcoming"
        else None,
        seconds_left=max(0, math.floor((sitting.closes_at - now).total_seconds()))
        if state == "open" and sitting.closes_at
        else None,
        server_time=now,
        time_limit_seconds=limit,
        roster=sum(1 for c in candidates if c.on_roster),
        not_started=sum(1 for c in candidates if c.state == "not_started"),
        in_progress=sum(1 for c in candidates if c.state == "in_progress"),
        finished=sum(1 for c in candidates if c.state in ("submitted", "expired")),
        candidates=candidates,
    )
