"""`GET /api/v1/sittings`: each sitting as the person asking sees it. A candidate sees
the sittings of their cohorts with their own terms (accommodations applied): upcoming
with the time until opening, open with the time left in the window and the attempts
left, closed with their results and whether each review is released; where they stand
(`Standing`) says whether a start would be accepted now, in the words a refusal would
use. Staff see their own sittings (admins: all) with the sittings' cohorts."""

from __future__ import annotations

import math
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exam_service.auth.access import sittings_of
from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.exams import sitting_rules
from exam_service.exams.closing import close_expired_for
from exam_service.exams.results import review_release, rule_for, window_close
from exam_service.exams.schemas import SittingAttempt, SittingEntry, Standing
from exam_service.exams.sittings import list_owned, terms_of
from exam_service.models import Attempt, Blueprint, Result, Sitting


def _seconds(later: datetime, now: datetime) -> int:
    return max(0, math.floor((later - now).total_seconds()))


def _entry(
    sitting: Sitting, blueprint: Blueprint, rules: sitting_rules.Terms, now: datetime
) -> SittingEntry:
    state = sitting_rules.state(rules, now)
    return SittingEntry(
        id=sitting.id,
        name=sitting.name,
        blueprint_id=sitting.blueprint_id,
        state=state,
        opens_at=rules.opens_at,
        closes_at=rules.closes_at,
        seconds_until_open=math.ceil((rules.opens_at - now).total_seconds())
        if state == "upcoming"
        else None,
        seconds_left=_seconds(rules.closes_at, now)
        if state == "open" and rules.closes_at
        else None,
        server_time=now,
        time_limit_seconds=rules.time_limit_seconds,
        attempts_allowed=rules.attempts_allowed,
        grading_method=sitting.grading_method,
        review_policy=sitting.review_policy or blueprint.review_policy,
        access_code_required=sitting.access_code_hash is not None,
    )


async def sitting_entries(session: AsyncSession, viewer: CurrentUser) -> list[SittingEntry]:
    """`GET /api/v1/sittings`: a candidate's sittings with their own terms and standing;
    staff's own sittings (admins: all) with their cohorts."""
    now = utcnow()
    if viewer.role in ("admin", "instructor"):
        owned = await list_owned(session, viewer)
        blueprints = await _blueprints(session, {s.blueprint_id for s in owned})
        return [
            msgspec.structs.replace(
                _entry(
                    s,
                    blueprints[s.blueprint_id],
                    terms_of(s, blueprints[s.blueprint_id], None),
                    now,
                ),
                cohort_ids=[c.cohort_id for c in s.cohorts],
            )
            for s in owned
        ]
    await close_expired_for(session, viewer.id)
    sittings = (
        await session.scalars(
            select(Sitting)
            .where(Sitting.id.in_(sittings_of(viewer.id)))
            .options(selectinload(Sitting.accommodations))
            .order_by(Sitting.opens_at.desc(), Sitting.id.desc())
        )
    ).all()
    blueprints = await _blueprints(session, {s.blueprint_id for s in sittings})
    rows = await session.execute(
        select(Attempt, Result)
        .outerjoin(Result, Result.attempt_id == Attempt.id)
        .where(Attempt.user_id == viewer.id, Attempt.sitting_id.in_([s.id for s in sittings]))
        .order_by(Attempt.attempt_number)
    )
    mine: dict[int, list[tuple[Attempt, Result | None]]] = {}
    for attempt, result in rows.all():
        assert attempt.sitting_id is not None
        mine.setdefault(attempt.sitting_id, []).append((attempt, result))
    entries = []
    for sitting in sittings:
        blueprint = blueprints[sitting.blueprint_id]
        own = next((a for a in sitting.accommodations if a.user_id == viewer.id), None)
        rules = terms_of(sitting, blueprint, own)
        standing = _standing(sitting, blueprint, rules, viewer, mine.get(sitting.id, []), now)
        entries.append(
            msgspec.structs.replace(_entry(sitting, blueprint, rules, now), standing=standing)
        )
    return entries


def _standing(
    sitting: Sitting,
    blueprint: Blueprint,
    rules: sitting_rules.Terms,
    viewer: CurrentUser,
    attempts: list[tuple[Attempt, Result | None]],
    now: datetime,
) -> Standing:
    used = max((a.attempt_number or 0 for a, _ in attempts), default=0)
    closes = window_close(sitting, [a.closes_at for a in sitting.accommodations])
    shown = []
    for attempt, result in attempts:
        released, _ = review_release(attempt, viewer, now, rule_for(attempt, sitting, closes))
        shown.append(
            SittingAttempt(
                id=attempt.id,
                attempt_number=attempt.attempt_number or 0,
                status=attempt.status,
                started_at=attempt.started_at,
                deadline=attempt.deadline,
                submitted_at=attempt.submitted_at,
                scaled_score=result.scaled_score if result else None,
                passed=result.passed if result else None,
                review_available=released and result is not None,
            )
        )
    running = [a.id for a, _ in attempts if a.status == "in_progress"]
    refusal = sitting_rules.refusal(sitting.id, rules, now, used)
    if refusal is None and len(running) >= blueprint.max_open_attempts:
        last = running[-1]
        refusal = f"attempt {last} is in progress; continue it (GET /api/v1/attempts/{last})"
    of = f" of {rules.attempts_allowed}" if rules.attempts_allowed is not None else ""
    code = "; send the access code with it" if sitting.access_code_hash else ""
    note = f"you may start attempt {used + 1}{of}{code}"
    graded = [(a.id, float(r.scaled_score)) for a, r in attempts if r is not None]
    counts = sitting_rules.counted(sitting.grading_method, graded)
    return Standing(
        attempts_used=used,
        attempts_left=sitting_rules.attempts_left(rules, used),
        can_start=refusal is None,
        start_note=refusal or note,
        open_attempt_id=running[-1] if running else None,
        counted_score=counts.score if counts else None,
        attempts=shown,
    )


async def _blueprints(session: AsyncSession, ids: set[str]) -> dict[str, Blueprint]:
    rows = await session.scalars(select(Blueprint).where(Blueprint.id.in_(ids)))
    return {row.id: row for row in rows.all()}
