"""The report of one sitting: every candidate of its roster with their attempts, the score
that counts under the sitting's grading method and their accommodation, who has not
started, and the cohort report's figures over the counted scores.

The database does the work over attempts: one statement ranks each candidate's graded
attempts by the grading method (a window function; `mean` is a GROUP BY) and joins the
per-candidate counts of attempts, so one row per candidate reaches Python, and those rows
are the report's own table. Mean, median, standard deviation, pass rate and the histogram
are taken from those rows (one counted score per candidate, at most the roster). Mastery
per objective and reliability are the cohort report's SQL aggregations
(`reports.service`) over the counted attempts: each candidate's counted attempt, or every
graded attempt under `mean`.

`counted_scores` in `exams/sittings.py` computes the same counted scores in Python for one
candidate's standing; the tests hold the two to the same answers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, Subquery, and_, case, cast, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.access import sitting_roster
from exam_service.auth.schemas import CurrentUser
from exam_service.db import utcnow
from exam_service.errors import InvalidInput
from exam_service.exams import sitting_rules
from exam_service.exams.blueprints import blueprint_scale, get_blueprint
from exam_service.exams.sitting_live import (
    accommodation_terms,
    close_expired_in,
    listed_in,
    own_terms,
)
from exam_service.exams.sittings import base_time_limit, owned_sitting
from exam_service.grading.scoring import Scale
from exam_service.models import Accommodation, Attempt, Cohort, Result, Sitting, User
from exam_service.reports import analysis
from exam_service.reports.schemas import (
    Bin,
    CandidateStatus,
    CohortName,
    SittingCandidate,
    SittingReport,
)
from exam_service.reports.service import _item_sums, _mastery, _method, _round

ATTEMPTS_COUNTED = {
    "highest": "each candidate's highest-scoring attempt",
    "first": "each candidate's first graded attempt",
    "last": "each candidate's last graded attempt",
    "mean": "every graded attempt (each candidate's score is their mean)",
}
RANKING = {
    "highest": (Result.scaled_score.desc(), Attempt.attempt_number, Attempt.id),
    "first": (Attempt.attempt_number, Attempt.id),
    "last": (Attempt.attempt_number.desc(), Attempt.id.desc()),
}
"""Per grading method, the order whose first attempt counts: as `sitting_rules.counted`
(graded attempts in the order started; of equal highest scores the earliest)."""


async def sitting_for_report(
    session: AsyncSession, viewer: CurrentUser, sitting_id: int, blueprint_id: str | None
) -> str:
    """For `?sitting_id=` on the cohort and item reports: the blueprint the report is over
    (the sitting's) if `viewer` owns the sitting (admins: any); NotFound otherwise, and
    InvalidInput for a `blueprint_id` that is not the sitting's."""
    sitting = await owned_sitting(session, viewer, sitting_id)
    if blueprint_id is not None and blueprint_id != sitting.blueprint_id:
        raise InvalidInput(
            f"sitting {sitting_id} is of blueprint {sitting.blueprint_id!r}, not "
            f"{blueprint_id!r}; leave blueprint_id out or send that one"
        )
    return sitting.blueprint_id


def counted_attempts(sitting: Sitting, scale: Scale) -> Subquery:
    """One row per candidate with a graded attempt in the sitting: `user_id`, `attempt_id`
    (null under `mean`), `score` (the counted scaled score) and `passed` (1 or 0)."""
    graded = (Attempt.sitting_id == sitting.id, Result.attempt_id == Attempt.id)
    if sitting.grading_method == "mean":
        mean = func.avg(Result.scaled_score * 1.0)
        return (
            select(
                Attempt.user_id.label("user_id"),
                cast(null(), Integer).label("attempt_id"),
                mean.label("score"),
                case((mean >= scale.pass_, 1), else_=0).label("passed"),
            )
            .where(*graded)
            .group_by(Attempt.user_id)
            .subquery("counted")
        )
    ranked = (
        select(
            Attempt.user_id.label("user_id"),
            Attempt.id.label("attempt_id"),
            Result.scaled_score.label("score"),
            case((Result.passed.is_(True), 1), else_=0).label("passed"),
            func.row_number()
            .over(partition_by=Attempt.user_id, order_by=RANKING[sitting.grading_method])
            .label("rank"),
        )
        .where(*graded)
        .subquery("ranked")
    )
    return (
        select(ranked.c.user_id, ranked.c.attempt_id, ranked.c.score, ranked.c.passed)
        .where(ranked.c.rank == 1)
        .subquery("counted")
    )


def chosen_attempts(sitting: Sitting, counted: Subquery) -> Subquery:
    """The attempts the mastery, reliability and raw figures are over (`attempt_id`,
    `user_id`): each candidate's counted one, or every graded one under `mean`."""
    if sitting.grading_method == "mean":
        every = (
            select(Attempt.id.label("attempt_id"), Attempt.user_id.label("user_id"))
            .join(Result, Result.attempt_id == Attempt.id)
            .where(Attempt.sitting_id == sitting.id)
        )
        return every.subquery("selected")
    return select(counted.c.attempt_id, counted.c.user_id).subquery("selected")


def _per_candidate(sitting: Sitting) -> Subquery:
    """Per candidate with attempts in the sitting: how many, the latest number, how many
    are graded, the one in progress, the first start and the last finish."""
    return (
        select(
            Attempt.user_id.label("user_id"),
            func.max(Attempt.attempt_number).label("used"),
            func.count(Result.attempt_id).label("graded"),
            func.max(case((Attempt.status == "in_progress", Attempt.id))).label("open_id"),
            func.min(Attempt.started_at).label("first_started"),
            func.max(Attempt.submitted_at).label("last_finished"),
        )
        .outerjoin(Result, Result.attempt_id == Attempt.id)
        .where(Attempt.sitting_id == sitting.id)
        .group_by(Attempt.user_id)
        .subquery("stats")
    )


async def _candidates(
    session: AsyncSession, sitting: Sitting, time_limit: int | None, scale: Scale
) -> list[SittingCandidate]:
    counted = counted_attempts(sitting, scale)
    stats = _per_candidate(sitting)
    rows = await session.execute(
        select(
            User.id,
            User.username,
            User.display_name,
            User.id.in_(sitting_roster(sitting.id)).label("on_roster"),
            stats.c.used,
            stats.c.graded,
            stats.c.open_id,
            stats.c.first_started,
            stats.c.last_finished,
            counted.c.score,
            counted.c.attempt_id,
            counted.c.passed,
            Accommodation.extra_time_seconds,
            Accommodation.time_multiplier,
            Accommodation.extra_attempts,
            Accommodation.closes_at,
        )
        .outerjoin(stats, stats.c.user_id == User.id)
        .outerjoin(counted, counted.c.user_id == User.id)
        .outerjoin(
            Accommodation,
            and_(Accommodation.sitting_id == sitting.id, Accommodation.user_id == User.id),
        )
        .where(listed_in(sitting.id))
        .order_by(User.username)
    )
    people = []
    for row in rows.all():
        terms = accommodation_terms(*row[12:16])
        used = int(row.used or 0)
        status: CandidateStatus = "not_started"
        if used:
            status = "in_progress" if row.open_id else "finished"
        people.append(
            SittingCandidate(
                user_id=row[0],
                username=row.username,
                display_name=row.display_name,
                on_roster=bool(row.on_roster),
                status=status,
                attempts_used=used,
                attempts_allowed=own_terms(sitting, time_limit, terms).attempts_allowed,
                graded_attempts=int(row.graded or 0),
                open_attempt_id=row.open_id,
                first_started_at=row.first_started,
                last_finished_at=row.last_finished,
                counted_score=None if row.score is None else round(float(row.score), 2),
                counted_attempt_id=row.attempt_id,
                passed=None if row.passed is None else bool(row.passed),
                accommodation=terms,
            )
        )
    return people


def histogram(scores: Sequence[float], scale: Scale, bins: int = 10) -> list[Bin]:
    """Counted scores in `bins` equal bins over the scale: low <= score < high, the last
    bin including the maximum (as the cohort report's)."""
    edges = analysis.histogram_edges(scale.min, scale.max, bins)
    span = (scale.max - scale.min) or 1
    counts = [0] * bins
    for score in scores:
        index = bins - 1 if score >= scale.max else int((score - scale.min) * bins // span)
        counts[max(0, min(bins - 1, index))] += 1
    return [Bin(low=low, high=high, count=counts[i]) for i, (low, high) in enumerate(edges)]


@dataclass(frozen=True)
class RawFigures:
    """Raw-score figures over the chosen attempts."""

    attempts: int
    mean: float | None
    sd: float | None
    items_per_attempt: float | None
    reliability: float | None
    sem: float | None


async def _raw_figures(session: AsyncSession, chosen: Subquery) -> RawFigures:
    """The cohort report's raw figures and reliability over the chosen attempts."""
    n, raw_sum, raw_squares, possible = (
        await session.execute(
            select(
                func.count(),
                func.sum(Result.raw_score),
                func.sum(Result.raw_score * Result.raw_score),
                func.sum(Result.raw_possible),
            ).join(chosen, chosen.c.attempt_id == Result.attempt_id)
        )
    ).one()
    n = int(n)
    if n == 0:
        return RawFigures(0, None, None, None, None, None)
    raw_sum, raw_squares, k = float(raw_sum or 0), float(raw_squares or 0), float(possible) / n
    raw_sd = analysis.sd(n, raw_sum, raw_squares)
    rel = analysis.reliability(
        await _item_sums(session, chosen), k, analysis.variance(n, raw_sum, raw_squares)
    )
    return RawFigures(n, raw_sum / n, raw_sd, k, rel, analysis.sem(raw_sd, rel))


async def sitting_report(
    session: AsyncSession, viewer: CurrentUser, sitting_id: int
) -> SittingReport:
    """The report of a sitting of `viewer`'s (admins: any); NotFound as for a sitting that
    does not exist otherwise. Attempts past their time are closed first, as the sweep would
    close them, so that the counted scores are final for everyone whose time is up."""
    await owned_sitting(session, viewer, sitting_id)  # someone else's: 404 before anything
    await close_expired_in(session, sitting_id)
    sitting = await owned_sitting(session, viewer, sitting_id)
    blueprint = await get_blueprint(session, sitting.blueprint_id)
    scale = blueprint_scale(blueprint)
    limit = base_time_limit(sitting, blueprint)
    candidates = await _candidates(session, sitting, limit, scale)
    chosen = chosen_attempts(sitting, counted_attempts(sitting, scale))
    raw = await _raw_figures(session, chosen)
    mastery = await _mastery(session, chosen, blueprint.raw_cut) if raw.attempts else []
    attempts = await session.scalar(
        select(func.count()).select_from(Attempt).where(Attempt.sitting_id == sitting.id)
    )
    cohorts = await session.execute(
        select(Cohort.id, Cohort.name)
        .where(Cohort.id.in_([c.cohort_id for c in sitting.cohorts]))
        .order_by(Cohort.id)
    )
    scores = [c.counted_score for c in candidates if c.counted_score is not None]
    n = len(scores)
    spread = analysis.sd(n, sum(scores), sum(s * s for s in scores))
    window = own_terms(sitting, limit, None)
    return SittingReport(
        sitting_id=sitting.id,
        sitting_name=sitting.name,
        blueprint_id=blueprint.id,
        blueprint_name=blueprint.name,
        state=sitting_rules.state(window, utcnow()),
        opens_at=sitting.opens_at,
        closes_at=sitting.closes_at,
        time_limit_seconds=limit,
        attempts_allowed=sitting.attempts_allowed,
        grading_method=sitting.grading_method,
        review_policy=sitting.review_policy or blueprint.review_policy,
        cohorts=[CohortName(id=i, name=name) for i, name in cohorts.all()],
        roster=sum(1 for c in candidates if c.on_roster),
        not_started=sum(1 for c in candidates if c.status == "not_started"),
        in_progress=sum(1 for c in candidates if c.status == "in_progress"),
        finished=sum(1 for c in candidates if c.status == "finished"),
        attempts=int(attempts or 0),
        attempts_counted=ATTEMPTS_COUNTED[sitting.grading_method],
        candidates_counted=n,
        scale=scale,
        mean=round(sum(scores) / n, 1) if n else None,
        median=statistics.median(scores) if n else None,
        sd=_round(spread, 1),
        pass_rate=round(sum(1 for c in candidates if c.passed) / n, 3) if n else None,
        histogram=histogram(scores, scale),
        objectives=mastery,
        reliability=_round(raw.reliability, 3),
        reliability_method=_method(blueprint.partial_credit),
        sem_raw=_round(raw.sem, 2),
        mean_raw=_round(raw.mean, 2),
        sd_raw=_round(raw.sd, 2),
        items_per_attempt=_round(raw.items_per_attempt, 1),
        candidates=candidates,
        generated_at=utcnow(),
    )


async def report_blueprint(
    session: AsyncSession, viewer: CurrentUser, blueprint_id: str | None, sitting_id: int | None
) -> str:
    """The blueprint of a cohort or item report: the one asked for, or with `sitting_id`
    the sitting's (see `sitting_for_report`)."""
    if sitting_id is not None:
        return await sitting_for_report(session, viewer, sitting_id, blueprint_id)
    if blueprint_id is None:
        raise InvalidInput(
            "send blueprint_id (GET /api/v1/blueprints lists them), or sitting_id for one "
            "sitting's attempts"
        )
    return blueprint_id
