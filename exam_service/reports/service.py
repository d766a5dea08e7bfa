"""Report queries: cohort summary, per-objective mastery, item analysis, candidate trends.

Every figure over many attempts is a SQL aggregation (GROUP BY, window functions, a
recursive CTE for the objective tree) whose result has one row per bin, objective,
question revision or option; `analysis.py` turns those sums into statistics. The same
statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, Subquery, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.schemas import CurrentUser
from exam_service.auth.service import owned_cohort
from exam_service.bank.format import ScaleFile
from exam_service.errors import NotFound
from exam_service.exams.service import get_blueprint, may_see_user
from exam_service.models import (
    CURRENT_REVISION,
    Attempt,
    AttemptItem,
    Cohort,
    CohortMember,
    ItemChoice,
    Objective,
    Question,
    QuestionRevision,
    Result,
    ResultObjective,
    RevisionObjective,
    User,
)
from exam_service.reports import analysis
from exam_service.reports.schemas import (
    Bin,
    CandidateAttempt,
    CandidateReport,
    CohortReport,
    ItemReport,
    ItemStats,
    NodeMastery,
    ObjectiveTrend,
    OptionShare,
)

CLOSED = ("submitted", "expired")


def _f(value: Any) -> float:
    return float(value or 0)


def selected_attempts(
    blueprint_id: str, users: Select[Any] | None, counted: str = "all"
) -> Subquery:
    """Closed attempts at the blueprint (by `users` when given): every one, or each
    candidate's first or last."""
    ranked = select(
        Attempt.id.label("attempt_id"),
        Attempt.user_id.label("user_id"),
        func.row_number()
        .over(partition_by=Attempt.user_id, order_by=(Attempt.started_at, Attempt.id))
        .label("first_rank"),
        func.row_number()
        .over(
            partition_by=Attempt.user_id,
            order_by=(Attempt.started_at.desc(), Attempt.id.desc()),
        )
        .label("last_rank"),
    ).where(Attempt.blueprint_id == blueprint_id, Attempt.status.in_(CLOSED))
    if users is not None:
        ranked = ranked.where(Attempt.user_id.in_(users))
    inner = ranked.subquery("ranked")
    chosen = select(inner.c.attempt_id, inner.c.user_id)
    if counted == "first":
        chosen = chosen.where(inner.c.first_rank == 1)
    elif counted == "last":
        chosen = chosen.where(inner.c.last_rank == 1)
    return chosen.subquery("selected")


def cohort_members(cohort_id: int) -> Select[Any]:
    return select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)


def staff_members(viewer: CurrentUser) -> Select[Any] | None:
    """The users whose attempts an instructor may analyse: their cohorts' members."""
    if viewer.role == "admin":
        return None
    return (
        select(CohortMember.user_id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(Cohort.owner_id == viewer.id)
    )


# --- cohort -------------------------------------------------------------------------------


async def _median(session: AsyncSession, chosen: Subquery, n: int) -> float | None:
    if n == 0:
        return None
    ordered = (
        select(Result.scaled_score)
        .join(chosen, chosen.c.attempt_id == Result.attempt_id)
        .order_by(Result.scaled_score)
    )
    # the middle value, or the two middle values of an even count
    middle = ordered.offset((n - 1) // 2).limit(1 if n % 2 else 2)
    values = (await session.scalars(middle)).all()
    return sum(values) / len(values)


async def _histogram(
    session: AsyncSession, chosen: Subquery, scale: ScaleFile, bins: int = 10
) -> list[Bin]:
    span = scale.max - scale.min
    index = case(
        (Result.scaled_score >= scale.max, bins - 1),
        else_=(Result.scaled_score - scale.min) * bins // span,
    )
    rows = await session.execute(
        select(index.label("bin"), func.count())
        .join(chosen, chosen.c.attempt_id == Result.attempt_id)
        .group_by(index)
    )
    counts = {int(b): int(c) for b, c in rows.all()}
    return [
        Bin(low=low, high=high, count=counts.get(i, 0))
        for i, (low, high) in enumerate(analysis.histogram_edges(scale.min, scale.max, bins))
    ]


async def _mastery(session: AsyncSession, chosen: Subquery, raw_cut: float) -> list[NodeMastery]:
    """Per objective node over the chosen attempts: one GROUP BY over the per-node scores
    that grading stored (`result_objectives`), never a walk of items up the tree."""
    percent = ResultObjective.percent
    rows = await session.execute(
        select(
            ResultObjective.objective_id,
            func.count(),
            func.sum(percent),
            func.sum(percent * percent),
            func.sum(case((percent >= raw_cut, 1), else_=0)),
        )
        .join(chosen, chosen.c.attempt_id == ResultObjective.attempt_id)
        .group_by(ResultObjective.objective_id)
    )
    figures = {node: row for node, *row in rows.all()}
    objectives = (await session.scalars(select(Objective).order_by(Objective.id))).all()
    mastery = []
    for objective in objectives:
        if objective.id not in figures:
            continue
        n, total, squares, meeting = figures[objective.id]
        mean, low, high = analysis.mean_interval(int(n), _f(total), _f(squares))
        mastery.append(
            NodeMastery(
                code=objective.code,
                title=objective.title,
                level=objective.level,
                attempts=int(n),
                mean_percent=round(mean, 1),
                ci_low=round(max(0.0, low), 1),
                ci_high=round(min(100.0, high), 1),
                meeting_share=round(_f(meeting) / int(n), 3),
            )
        )
    return mastery


async def _item_sums(session: AsyncSession, chosen: Subquery) -> list[analysis.ItemSums]:
    """Σx and Σx² of the scored exposures of each revision, for reliability."""
    points = func.coalesce(AttemptItem.points, 0.0)
    rows = await session.execute(
        select(func.count(), func.sum(points), func.sum(points * points))
        .join(chosen, chosen.c.attempt_id == AttemptItem.attempt_id)
        .where(AttemptItem.scored.is_(True))
        .group_by(AttemptItem.revision_id)
    )
    return [analysis.ItemSums(int(n), _f(sx), _f(sxx)) for n, sx, sxx in rows.all()]


async def cohort_report(
    session: AsyncSession, viewer: CurrentUser, cohort_id: int, blueprint_id: str, counted: str
) -> CohortReport:
    cohort = await owned_cohort(session, viewer, cohort_id)
    blueprint = await get_blueprint(session, blueprint_id)
    scale = ScaleFile(
        blueprint.scale_min, blueprint.scale_max, blueprint.scale_pass, blueprint.raw_cut
    )
    chosen = selected_attempts(blueprint_id, cohort_members(cohort_id), counted)
    summary = (
        await session.execute(
            select(
                func.count(),
                func.count(func.distinct(chosen.c.user_id)),
                func.sum(Result.scaled_score),
                func.sum(Result.scaled_score * Result.scaled_score),
                func.sum(case((Result.passed.is_(True), 1), else_=0)),
                func.sum(Result.raw_score),
                func.sum(Result.raw_score * Result.raw_score),
                func.sum(Result.raw_possible),
            ).join(chosen, chosen.c.attempt_id == Result.attempt_id)
        )
    ).one()
    n = int(summary[0])
    candidates = int(summary[1])
    if n == 0:
        return CohortReport(
            cohort_id=cohort.id,
            cohort_name=cohort.name,
            blueprint_id=blueprint.id,
            blueprint_name=blueprint.name,
            attempts_counted=counted,
            candidates=0,
            attempts=0,
            scale=scale,
            mean=None,
            median=None,
            sd=None,
            pass_rate=None,
            histogram=await _histogram(session, chosen, scale),
            objectives=[],
            reliability=None,
            reliability_method=_method(blueprint.partial_credit),
            sem_raw=None,
            mean_raw=None,
            sd_raw=None,
            items_per_attempt=None,
        )
    scaled_sum, scaled_squares, passed = _f(summary[2]), _f(summary[3]), _f(summary[4])
    raw_sum, raw_squares, possible = _f(summary[5]), _f(summary[6]), _f(summary[7])
    raw_sd = analysis.sd(n, raw_sum, raw_squares)
    k = possible / n
    rel = analysis.reliability(
        await _item_sums(session, chosen), k, analysis.variance(n, raw_sum, raw_squares)
    )
    scaled_sd = analysis.sd(n, scaled_sum, scaled_squares)
    return CohortReport(
        cohort_id=cohort.id,
        cohort_name=cohort.name,
        blueprint_id=blueprint.id,
        blueprint_name=blueprint.name,
        attempts_counted=counted,
        candidates=candidates,
        attempts=n,
        scale=scale,
        mean=round(scaled_sum / n, 1),
        median=await _median(session, chosen, n),
        sd=None if scaled_sd is None else round(scaled_sd, 1),
        pass_rate=round(passed / n, 3),
        histogram=await _histogram(session, chosen, scale),
        objectives=await _mastery(session, chosen, blueprint.raw_cut),
        reliability=None if rel is None else round(rel, 3),
        reliability_method=_method(blueprint.partial_credit),
        sem_raw=_round(analysis.sem(raw_sd, rel), 2),
        mean_raw=round(raw_sum / n, 2),
        sd_raw=_round(raw_sd, 2),
        items_per_attempt=round(k, 1),
    )


def _method(partial_credit: bool) -> str:
    return "Cronbach's alpha" if partial_credit else "KR-20"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- items --------------------------------------------------------------------------------


async def item_report(
    session: AsyncSession, viewer: CurrentUser, blueprint_id: str, cohort_id: int | None
) -> ItemReport:
    """Facility, discrimination and option choices per question revision."""
    await get_blueprint(session, blueprint_id)
    if cohort_id is not None:
        await owned_cohort(session, viewer, cohort_id)
        users: Select[Any] | None = cohort_members(cohort_id)
    else:
        users = staff_members(viewer)
    chosen = selected_attempts(blueprint_id, users)
    n = int(await session.scalar(select(func.count()).select_from(chosen)) or 0)
    group = analysis.group_size(n)
    totals = (
        select(
            Result.attempt_id,
            Result.raw_score.label("total"),
            func.row_number()
            .over(order_by=(Result.raw_score.desc(), Result.attempt_id))
            .label("rank"),
        )
        .join(chosen, chosen.c.attempt_id == Result.attempt_id)
        .subquery("totals")
    )
    upper = totals.c.rank <= group
    lower = totals.c.rank > n - group
    x = func.coalesce(AttemptItem.points, 0.0)
    rest = totals.c.total - case((AttemptItem.scored.is_(True), x), else_=0.0)
    rows = await session.execute(
        select(
            AttemptItem.revision_id,
            func.count().label("n"),
            func.sum(case((AttemptItem.scored.is_(True), 1), else_=0)).label("scored"),
            func.sum(x).label("sx"),
            func.sum(x * x).label("sxx"),
            func.sum(rest).label("sy"),
            func.sum(rest * rest).label("syy"),
            func.sum(x * rest).label("sxy"),
            func.sum(case((upper, 1), else_=0)).label("n_upper"),
            func.sum(case((upper, x), else_=0.0)).label("x_upper"),
            func.sum(case((lower, 1), else_=0)).label("n_lower"),
            func.sum(case((lower, x), else_=0.0)).label("x_lower"),
        )
        .join(totals, totals.c.attempt_id == AttemptItem.attempt_id)
        .group_by(AttemptItem.revision_id)
    )
    sums = {row.revision_id: row._mapping for row in rows.all()}
    choice_rows = await session.execute(
        select(
            ItemChoice.revision_id,
            ItemChoice.option_id,
            func.count(),
            func.sum(case((upper, 1), else_=0)),
            func.sum(case((lower, 1), else_=0)),
        )
        .join(totals, totals.c.attempt_id == ItemChoice.attempt_id)
        .group_by(ItemChoice.revision_id, ItemChoice.option_id)
    )
    chosen_counts: dict[int, dict[str, tuple[int, int, int]]] = {}
    for revision_id, option_id, count, in_upper, in_lower in choice_rows.all():
        chosen_counts.setdefault(revision_id, {})[option_id] = (
            int(count),
            int(in_upper or 0),
            int(in_lower or 0),
        )
    revisions = await _revisions(session, list(sums))
    items = [
        _item_stats(revisions[rid], sums[rid], chosen_counts.get(rid, {}))
        for rid in sorted(sums, key=lambda r: (revisions[r][0].question_id, revisions[r][0].number))
    ]
    return ItemReport(
        blueprint_id=blueprint_id,
        cohort_id=cohort_id,
        attempts=n,
        group_share=analysis.GROUP_SHARE,
        items=items,
    )


async def _revisions(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, tuple[QuestionRevision, str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(QuestionRevision, Objective.code)
        .join(
            RevisionObjective,
            (RevisionObjective.revision_id == QuestionRevision.id)
            & (RevisionObjective.position == 0),
        )
        .join(Objective, Objective.id == RevisionObjective.objective_id)
        .where(QuestionRevision.id.in_(ids))
    )
    return {revision.id: (revision, code) for revision, code in rows.all()}


def _item_stats(
    meta: tuple[QuestionRevision, str],
    sums: Mapping[str, Any],
    choices: dict[str, tuple[int, int, int]],
) -> ItemStats:
    revision, objective = meta
    n = int(sums["n"])
    n_upper, n_lower = int(sums["n_upper"] or 0), int(sums["n_lower"] or 0)
    x_upper, x_lower = _f(sums["x_upper"]), _f(sums["x_lower"])
    sx = _f(sums["sx"])
    facility = sx / n
    r = analysis.correlation(
        n, sx, _f(sums["sy"]), _f(sums["sxx"]), _f(sums["syy"]), _f(sums["sxy"])
    )
    index = x_upper / n_upper - x_lower / n_lower if n_upper and n_lower else None
    content = revision.content
    key = set(content["key"]) if revision.type in ("single", "multiple") else set()
    options = []
    unchosen = []
    for option in content.get("options", []) if revision.type in ("single", "multiple") else []:
        count, in_upper, in_lower = choices.get(option["id"], (0, 0, 0))
        options.append(
            OptionShare(
                option_id=option["id"],
                text=option["text"],
                correct=option["id"] in key,
                share=round(count / n, 3),
                upper_share=round(in_upper / n_upper, 3) if n_upper else None,
                lower_share=round(in_lower / n_lower, 3) if n_lower else None,
            )
        )
        if count == 0 and option["id"] not in key:
            unchosen.append(option["text"])
    return ItemStats(
        question_id=revision.question_id,
        revision_id=revision.id,
        revision=revision.number,
        type=revision.type,
        stem=revision.stem,
        objective=objective,
        responses=n,
        scored_responses=int(sums["scored"]),
        facility=round(facility, 3),
        point_biserial=_round(r, 3),
        discrimination_index=_round(index, 3),
        options=options,
        flags=analysis.item_flags(facility, r, n, unchosen),
    )


# --- candidates ---------------------------------------------------------------------------


async def study_sections(session: AsyncSession, codes: Sequence[str]) -> dict[str, list[str]]:
    """Per objective code, the study-guide sections its active questions come from,
    most used first (at most three)."""
    if not codes:
        return {}
    rows = await session.execute(
        select(Objective.code, QuestionRevision.source, func.count())
        .join(RevisionObjective, RevisionObjective.objective_id == Objective.id)
        .join(QuestionRevision, QuestionRevision.id == RevisionObjective.revision_id)
        .join(
            Question,
            CURRENT_REVISION,
        )
        .where(Objective.code.in_(codes), Question.status == "active")
        .group_by(Objective.code, QuestionRevision.source)
    )
    ranked: dict[str, Counter[str]] = {}
    for code, source, count in rows.all():
        ranked.setdefault(code, Counter())[source] = int(count)
    return {code: [s for s, _ in counter.most_common(3)] for code, counter in ranked.items()}


async def candidate_report(
    session: AsyncSession, viewer: CurrentUser, user_id: int
) -> CandidateReport:
    user = await session.get(User, user_id)
    if user is None or not await may_see_user(session, viewer, user_id):
        raise NotFound(f"there is no candidate {user_id} among yours")
    rows = await session.execute(
        select(Attempt, Result)
        .join(Result, Result.attempt_id == Attempt.id)
        .where(Attempt.user_id == user_id, Attempt.status.in_(CLOSED))
        .order_by(Attempt.submitted_at, Attempt.id)
    )
    closed = [(attempt, result) for attempt, result in rows.all()]
    attempts = [
        CandidateAttempt(
            attempt_id=attempt.id,
            blueprint_id=attempt.blueprint_id,
            blueprint_name=str(attempt.settings.get("name", attempt.blueprint_id)),
            submitted_at=attempt.submitted_at,
            raw_percent=result.raw_percent,
            scaled_score=result.scaled_score,
            passed=result.passed,
        )
        for attempt, result in closed
    ]
    nodes: dict[str, dict[str, Any]] = {}
    for index, (_attempt, result) in enumerate(closed):
        for node in result.objectives:
            entry = nodes.setdefault(node["code"], {"percents": [None] * len(closed)})
            entry["node"] = node  # the latest attempt's figures win
            entry["percents"][index] = node["percent"]
    study = await study_sections(session, list(nodes))
    trends = []
    for code, entry in nodes.items():
        values = [p for p in entry["percents"] if p is not None]
        latest = next((p for p in reversed(entry["percents"]) if p is not None), None)
        node = entry["node"]
        trends.append(
            ObjectiveTrend(
                code=code,
                title=node["title"],
                level=node["level"],
                percents=entry["percents"],
                latest=latest,
                mean=round(sum(values) / len(values), 1),
                label=node["label"],
                study=study.get(code, []),
            )
        )
    trends.sort(key=lambda t: (t.latest if t.latest is not None else t.mean, t.mean, t.code))
    return CandidateReport(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        attempts=attempts,
        objectives=trends,
    )
