"""Readiness in the database: a candidate's recent answers, the blueprints open to them,
and the chance that they pass each (`GET /api/v1/reports/candidates/{id}/readiness`, the
dashboard and the candidate report).

Which answers count and how much is `readiness_rules.basis`; the model is
`irt.readiness` over the blueprint's pool (`ability.blueprint_pool`). An estimate costs
0.1-0.2 s of CPU (most of it finding how many more answers would make it useful), so it runs
in the heavy-work pool, and each instance keeps the last `ESTIMATES_KEPT` estimates by the
digest of everything they are computed from (the pool's parameters, the form rule, the
counted answers with their weights): an estimate is computed again only after the
candidate's next answer, a new calibration, a change of the blueprint or the bank, or the
next day (ages are whole days).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.access import may_see_user, sittings_of
from exam_service.auth.schemas import CurrentUser
from exam_service.calibration.service import ItemParameters, pool_parameters
from exam_service.db import UTCDateTime, utcnow
from exam_service.errors import Conflict, NotFound
from exam_service.exams import delivery
from exam_service.exams.ability import BlueprintPool, blueprint_pool
from exam_service.exams.blueprints import blueprint_scale, get_blueprint
from exam_service.exams.pool import question_pool
from exam_service.grading import irt, scoring
from exam_service.heavy import HeavyWork
from exam_service.models import (
    Accommodation,
    Attempt,
    AttemptItem,
    Blueprint,
    Objective,
    QuestionRevision,
    Response,
    Sitting,
    User,
)
from exam_service.reports import readiness_rules as rules
from exam_service.reports.schemas import ObjectiveReadiness, ReadinessReport

CLOSED = ("submitted", "expired")
ESTIMATES_KEPT = 1024
ESTIMATES: OrderedDict[bytes, irt.Readiness] = OrderedDict()
"""Estimates this process made, by the digest of their inputs (module docstring)."""
WHOLE_POOL_TITLE = "Every question of the blueprint"


# --- the candidate's answers --------------------------------------------------------------


async def candidate_answers(
    session: AsyncSession, user_id: int, now: datetime
) -> list[rules.Answer]:
    """The candidate's latest scored answer to each question within `rules.MAX_AGE_DAYS`:
    from closed attempts (one query; the database keeps each question's latest), and the
    answers checked in practice attempts still open, scored as grading will score them."""
    since = now - timedelta(days=rules.MAX_AGE_DAYS + 1)
    ended = type_coerce(
        func.coalesce(Attempt.submitted_at, Attempt.deadline, Attempt.started_at), UTCDateTime()
    )
    ranked = (
        select(
            QuestionRevision.question_id,
            AttemptItem.revision_id,
            AttemptItem.points,
            ended.label("at"),
            func.row_number()
            .over(
                partition_by=QuestionRevision.question_id,
                order_by=(ended.desc(), Attempt.id.desc()),
            )
            .label("rank"),
        )
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(QuestionRevision, QuestionRevision.id == AttemptItem.revision_id)
        .where(
            Attempt.user_id == user_id,
            Attempt.status.in_(CLOSED),
            AttemptItem.scored.is_(True),
            AttemptItem.points.is_not(None),
            ended >= since,
        )
        .subquery("ranked")
    )
    graded = await session.execute(
        select(ranked.c.question_id, ranked.c.revision_id, ranked.c.points, ranked.c.at).where(
            ranked.c.rank == 1
        )
    )
    answers = [
        rules.Answer(question_id, revision_id, float(points), at, "attempt")
        for question_id, revision_id, points, at in graded.all()
    ]
    checked = await session.execute(
        select(
            QuestionRevision.question_id,
            AttemptItem.revision_id,
            QuestionRevision.type,
            QuestionRevision.content,
            AttemptItem.layout,
            Response.answer,
            Response.saved_at,
            Attempt.settings,
        )
        .join(
            AttemptItem,
            (AttemptItem.attempt_id == Response.attempt_id)
            & (AttemptItem.position == Response.position),
        )
        .join(Attempt, Attempt.id == Response.attempt_id)
        .join(QuestionRevision, QuestionRevision.id == AttemptItem.revision_id)
        .where(
            Attempt.user_id == user_id,
            Attempt.status == "in_progress",
            Response.locked.is_(True),
            AttemptItem.scored.is_(True),
            Response.saved_at >= since,
        )
    )
    for question_id, revision_id, kind, content, layout, answer, saved_at, settings in checked:
        points = scoring.item_points(
            kind,
            delivery.display_key(kind, content, layout),
            answer,
            partial_credit=bool(settings.get("partial_credit")),
        )
        answers.append(rules.Answer(question_id, revision_id, points, saved_at, "practice"))
    return answers


async def open_blueprints(session: AsyncSession, user_id: int, now: datetime) -> list[Blueprint]:
    """The blueprints open to a candidate: those of their sittings that have not closed for
    them (their own closing time if they have one), then the self-study ones, by name."""
    own_close = (
        select(Accommodation.closes_at)
        .where(Accommodation.sitting_id == Sitting.id, Accommodation.user_id == user_id)
        .scalar_subquery()
    )
    closes = type_coerce(func.coalesce(own_close, Sitting.closes_at), UTCDateTime())
    sat = set(
        (
            await session.scalars(
                select(Sitting.blueprint_id).where(
                    Sitting.id.in_(sittings_of(user_id)), or_(closes.is_(None), closes > now)
                )
            )
        ).all()
    )
    rows = await session.scalars(
        select(Blueprint).where(or_(Blueprint.self_study.is_(True), Blueprint.id.in_(sat)))
    )
    return sorted(rows.all(), key=lambda b: (b.id not in sat, b.name, b.id))


# --- estimates ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Inputs:
    blueprint: Blueprint
    found: BlueprintPool
    basis: rules.Basis


def _digest(found: BlueprintPool, evidence: irt.Evidence) -> bytes:
    pool, form = found.pool, found.form
    digest = hashlib.blake2b(digest_size=20)
    for array in (pool.a, pool.b, pool.objective, evidence.item, evidence.score, evidence.weight):
        digest.update(array.tobytes())
        digest.update(b"|")
    shape = (pool.objectives, sorted(form.counts.items()), form.cut_percent, rules.TARGET_WIDTH)
    digest.update(repr(shape).encode())
    return digest.digest()


async def _estimates(heavy: HeavyWork, inputs: Sequence[_Inputs]) -> list[irt.Readiness]:
    """`irt.readiness` of each, from this process's estimates or in the heavy-work pool."""
    keys = [_digest(i.found, i.basis.evidence) for i in inputs]
    known = {key: ESTIMATES[key] for key in keys if key in ESTIMATES}
    missing = {key: i for key, i in zip(keys, inputs, strict=True) if key not in known}
    made = await asyncio.gather(
        *(
            heavy.run(
                irt.readiness,
                i.found.pool,
                i.found.form,
                i.basis.evidence,
                target_width=rules.TARGET_WIDTH,
            )
            for i in missing.values()
        )
    )
    known.update(zip(missing, made, strict=True))
    for key in keys:
        ESTIMATES[key] = known[key]
        ESTIMATES.move_to_end(key)
    while len(ESTIMATES) > ESTIMATES_KEPT:
        ESTIMATES.popitem(last=False)
    return [known[key] for key in keys]


@dataclass
class _Candidate:
    """What every blueprint's estimate for one candidate shares: read once."""

    user_id: int
    now: datetime
    answers: list[rules.Answer]
    parameters: dict[int, ItemParameters]
    current: dict[str, int]
    """Question id -> its current revision id (active questions)."""


async def _candidate(session: AsyncSession, user_id: int) -> _Candidate:
    now = utcnow()
    return _Candidate(
        user_id=user_id,
        now=now,
        answers=await candidate_answers(session, user_id, now),
        parameters=await pool_parameters(session),
        current={q.question_id: q.revision_id for q in await question_pool(session)},
    )


async def _inputs(
    session: AsyncSession, candidate: _Candidate, blueprint: Blueprint
) -> _Inputs | None:
    found = await blueprint_pool(session, blueprint, parameters=candidate.parameters)
    if found is None:
        return None
    index = found.index()
    pool_index = {
        question_id: index[revision_id]
        for question_id, revision_id in candidate.current.items()
        if revision_id in index
    }
    return _Inputs(blueprint, found, rules.basis(candidate.answers, pool_index, candidate.now))


async def _titles(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(
        select(Objective.code, Objective.title).where(Objective.code.in_(list(codes)))
    )
    return {code: title for code, title in rows.all()} | {irt.WHOLE_POOL: WHOLE_POOL_TITLE}


def _view(
    user_id: int, inputs: _Inputs, estimate: irt.Readiness, titles: dict[str, str]
) -> ReadinessReport:
    blueprint, found, basis = inputs.blueprint, inputs.found, inputs.basis
    back = {o.objective for o in estimate.holding_back if o.answered > 0}
    objectives = [
        ObjectiveReadiness(
            code=o.objective,
            title=titles.get(o.objective, o.objective),
            mastery=round(o.mastery, 1),
            low=round(o.low, 1),
            high=round(o.high, 1),
            below_cut=round(o.below_cut, 3),
            answered=round(o.answered, 2),
            right=round(o.right, 2),
            on_form=o.on_form,
            shortfall=round(o.shortfall, 2),
            holding_back=o.objective in back,
        )
        for o in estimate.objectives
        if o.on_form
    ]
    holding_back = [o.code for o in objectives if o.holding_back]
    scale = blueprint_scale(blueprint)
    low, high = round(estimate.low, 3), round(estimate.high, 3)
    return ReadinessReport(
        user_id=user_id,
        blueprint_id=blueprint.id,
        blueprint_name=blueprint.name,
        summary=rules.summary(
            blueprint.name,
            estimate.probability,
            estimate.low,
            estimate.high,
            basis.counted,
            estimate.more_questions,
            holding_back,
        ),
        probability=round(estimate.probability, 3),
        low=low,
        high=high,
        level=estimate.level,
        enough_data=rules.enough(estimate.low, estimate.high),
        target_width=rules.TARGET_WIDTH,
        more_questions=estimate.more_questions,
        expected_percent=round(estimate.expected_percent, 1),
        expected_scaled_score=scoring.scaled_score(estimate.expected_percent, scale),
        scale=scale,
        theta=round(estimate.theta, 3),
        theta_se=round(estimate.se, 3),
        cut_theta=None if estimate.cut_theta is None else round(estimate.cut_theta, 3),
        answers_counted=basis.counted,
        answers_weighted=round(basis.evidence.answered, 2),
        answers_left_out=basis.left_out,
        answers_too_old=basis.too_old,
        last_answer_at=basis.latest,
        holding_back=holding_back,
        objectives=objectives,
        pool_items=found.pool.size,
        calibrated_items=sum(
            1 for rid in found.revision_ids if found.parameters[rid].source == "calibrated"
        ),
    )


async def _reports(
    session: AsyncSession, heavy: HeavyWork, candidate: _Candidate, blueprints: Sequence[Blueprint]
) -> list[ReadinessReport]:
    inputs = [
        found for b in blueprints if (found := await _inputs(session, candidate, b)) is not None
    ]
    if not inputs:
        return []
    titles = await _titles(session, sorted({c for i in inputs for c in i.found.pool.objectives}))
    estimates = await _estimates(heavy, inputs)
    return [_view(candidate.user_id, i, e, titles) for i, e in zip(inputs, estimates, strict=True)]


# --- services -----------------------------------------------------------------------------


async def readiness_report(
    session: AsyncSession, heavy: HeavyWork, viewer: CurrentUser, user_id: int, blueprint_id: str
) -> ReadinessReport:
    """The chance that candidate `user_id` passes blueprint `blueprint_id` (the candidate
    themself, the instructor of one of their cohorts, an admin; others: 404)."""
    user = await session.get(User, user_id)
    if user is None or not await may_see_user(session, viewer, user_id):
        raise NotFound(f"there is no candidate {user_id} among yours")
    blueprint = await get_blueprint(session, blueprint_id)
    found = await _reports(session, heavy, await _candidate(session, user_id), [blueprint])
    if not found:
        raise Conflict(
            f"blueprint {blueprint_id!r} draws no scored question from the active bank, so "
            "there is nothing to pass yet; add questions on its objectives or change its counts"
        )
    return found[0]


async def open_readiness(
    session: AsyncSession, heavy: HeavyWork, user_id: int
) -> list[ReadinessReport]:
    """Readiness for every blueprint open to candidate `user_id` (`open_blueprints`) that
    draws at least one question; the caller has checked who may see it."""
    candidate = await _candidate(session, user_id)
    blueprints = await open_blueprints(session, user_id, candidate.now)
    return await _reports(session, heavy, candidate, blueprints)
