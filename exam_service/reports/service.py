"""Report queries: cohort summary, per-objective mastery, item analysis, candidate trends.

Every figure over many attempts is a SQL aggregation (GROUP BY, window functions, a
recursive CTE for the objective tree) whose result has one row per bin, objective,
question revision or option; `analysis.py` turns those sums into statistics. The same
statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    Subquery,
    case,
    false,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.auth.access import may_see_user, others_visible_to
from exam_service.auth.schemas import CurrentUser
from exam_service.auth.service import owned_cohort
from exam_service.calibration.service import ItemParameters, last_run, revision_parameters
from exam_service.db import utcnow
from exam_service.errors import NotFound
from exam_service.exams.blueprints import blueprint_scale, get_blueprint
from exam_service.exams.results import attempt_result
from exam_service.grading import irt, numeric
from exam_service.grading.scoring import Scale
from exam_service.heavy import HeavyWork
from exam_service.models import (
    CURRENT_REVISION,
    Attempt,
    AttemptItem,
    CohortMember,
    Objective,
    Question,
    QuestionRevision,
    Result,
    ResultObjective,
    RevisionObjective,
    User,
)
from exam_service.reports import analysis
from exam_service.reports.readiness import open_readiness
from exam_service.reports.schemas import (
    Bin,
    CandidateAttempt,
    CandidateReport,
    CohortReport,
    ItemReport,
    ItemStats,
    NodeMastery,
    NumericShares,
    NumericValue,
    ObjectiveTrend,
    OptionShare,
    ScoreReport,
)

CLOSED = ("submitted", "expired")


def _f(value: Any) -> float:
    return float(value or 0)


def selected_attempts(
    blueprint_id: str,
    users: Select[Any] | None,
    counted: str = "all",
    sitting_id: int | None = None,
) -> Subquery:
    """Closed attempts at the blueprint (by `users` when given, in sitting `sitting_id`
    when given): every one, or each candidate's first or last.

    The ranks are always part of the subquery, even when every attempt counts: a subquery
    with window functions is not merged into the query around it, so the planner builds
    the chosen attempts (with the cohort filter) once, as one hash, and the big scans probe
    it once per row. Merged, it joins the cohort's members after the scan, a second probe
    per row (measured with bench/reports.py: mastery 65 -> 108 ms at 10,000 attempts)."""
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
    if sitting_id is not None:
        ranked = ranked.where(Attempt.sitting_id == sitting_id)
    inner = ranked.subquery("ranked")
    chosen = select(inner.c.attempt_id, inner.c.user_id)
    if counted == "first":
        chosen = chosen.where(inner.c.first_rank == 1)
    elif counted == "last":
        chosen = chosen.where(inner.c.last_rank == 1)
    return chosen.subquery("selected")


def cohort_members(cohort_id: int) -> Select[Any]:
    return select(CohortMember.user_id).where(CohortMember.cohort_id == cohort_id)


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
    session: AsyncSession, chosen: Subquery, scale: Scale, bins: int = 10
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
    """Σx and Σx² of the scored exposures of each revision, for reliability: counted per
    (revision, points), since an item's points take a handful of values."""
    rows = await session.execute(
        select(AttemptItem.revision_id, AttemptItem.points, func.count())
        .join(chosen, chosen.c.attempt_id == AttemptItem.attempt_id)
        .where(AttemptItem.scored.is_(True))
        .group_by(AttemptItem.revision_id, AttemptItem.points)
    )
    sums: dict[int, list[float]] = {}
    for revision_id, points, count in rows.all():
        x, entry = _f(points), sums.setdefault(revision_id, [0, 0.0, 0.0])
        entry[0] += count
        entry[1] += x * count
        entry[2] += x * x * count
    return [analysis.ItemSums(int(n), sx, sxx) for n, sx, sxx in sums.values()]


async def cohort_report(
    session: AsyncSession,
    viewer: CurrentUser,
    cohort_id: int,
    blueprint_id: str,
    counted: str,
    sitting_id: int | None = None,
) -> CohortReport:
    """The cohort's attempts at the blueprint (only those of sitting `sitting_id`, which
    the caller has checked the viewer may see, when given)."""
    cohort = await owned_cohort(session, viewer, cohort_id)
    blueprint = await get_blueprint(session, blueprint_id)
    scale = blueprint_scale(blueprint)
    chosen = selected_attempts(blueprint_id, cohort_members(cohort_id), counted, sitting_id)
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
            sitting_id=sitting_id,
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
        sitting_id=sitting_id,
    )


def _method(partial_credit: bool) -> str:
    return "Cronbach's alpha" if partial_credit else "KR-20"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- items --------------------------------------------------------------------------------


@dataclass
class ItemTally:
    """One revision's sums over the chosen attempts, added up from the grouped rows.

    x is the item's points, y the rest score (the attempt's raw total T without this item;
    T itself when the item was unscored)."""

    n: int = 0
    scored: int = 0
    sx: float = 0.0
    sxx: float = 0.0
    sy: float = 0.0
    syy: float = 0.0
    sxy: float = 0.0
    n_upper: int = 0
    x_upper: float = 0.0
    n_lower: int = 0
    x_lower: float = 0.0
    choices: dict[str, list[int]] = field(default_factory=dict)
    """Per option id: how many chose it overall, in the upper group, in the lower group."""

    def add(
        self, scored: bool, chosen: str | None, points: float | None, sums: Sequence[Any]
    ) -> None:
        """Add one group of rows that share scored, options chosen and points x: their
        count, ΣT, ΣT², and how many are in the upper and in the lower group.

        So Σx = x·count, Σx² = x²·count, ΣxT = x·ΣT; on a scored item y = T - x, so
        Σy = ΣT - Σx, Σy² = ΣT² - 2ΣxT + Σx², Σxy = ΣxT - Σx²; on an unscored one y = T."""
        x = _f(points)
        count, st, stt = int(sums[0]), _f(sums[1]), _f(sums[2])
        n_upper, n_lower = int(sums[3] or 0), int(sums[4] or 0)
        sx, sxx, sxt = x * count, x * x * count, x * st
        self.n += count
        self.sx += sx
        self.sxx += sxx
        if scored:
            self.scored += count
            self.sy += st - sx
            self.syy += stt - 2 * sxt + sxx
            self.sxy += sxt - sxx
        else:
            self.sy += st
            self.syy += stt
            self.sxy += sxt
        self.n_upper += n_upper
        self.x_upper += x * n_upper
        self.n_lower += n_lower
        self.x_lower += x * n_lower
        for option_id in (chosen or "").split():
            counts = self.choices.setdefault(option_id, [0, 0, 0])
            counts[0] += count
            counts[1] += n_upper
            counts[2] += n_lower


async def _attempts_and_groups(
    session: AsyncSession, chosen: Subquery
) -> tuple[int, ColumnElement[bool], ColumnElement[bool]]:
    """How many attempts are chosen, and conditions on an item row for the upper and lower
    27% groups: attempts ranked by raw score, ties by attempt id; the upper group is the
    first `group_size` attempts, the lower group the last.

    One small query finds the count and the two boundary attempts (the group size worked
    out in SQL with the same integer formula as `analysis.group_size`), so the big query
    compares with constants instead of ranking rows, which also lets PostgreSQL run it in
    parallel."""
    ranked = (
        select(
            Result.raw_score,
            Result.attempt_id,
            func.row_number()
            .over(order_by=(Result.raw_score.desc(), Result.attempt_id))
            .label("rank"),
            func.count().over().label("n"),
        )
        .join(chosen, chosen.c.attempt_id == Result.attempt_id)
        .subquery("ranked")
    )
    group = (analysis.GROUP_PERCENT * ranked.c.n + 50) // 100
    edges = (
        await session.execute(
            select(ranked.c.raw_score, ranked.c.attempt_id, ranked.c.rank, ranked.c.n).where(
                (ranked.c.rank == group) | (ranked.c.rank == ranked.c.n - group)
            )
        )
    ).all()
    n = int(edges[0].n) if edges else 0
    size = analysis.group_size(n)
    if size == 0:
        return n, false(), false()
    top = next(e for e in edges if e.rank == size)
    bottom = next(e for e in edges if e.rank == n - size)
    score, attempt = AttemptItem.attempt_score, AttemptItem.attempt_id
    upper = (score > top.raw_score) | ((score == top.raw_score) & (attempt <= top.attempt_id))
    lower = (score < bottom.raw_score) | (
        (score == bottom.raw_score) & (attempt > bottom.attempt_id)
    )
    return n, upper, lower


async def item_report(
    session: AsyncSession,
    viewer: CurrentUser,
    blueprint_id: str,
    cohort_id: int | None,
    sitting_id: int | None = None,
) -> ItemReport:
    """Facility, discrimination and option choices per question revision.

    One pass over `attempt_items` (which carry their attempt's raw score) joined to the
    chosen attempts, grouped by (revision, scored, options chosen, points): every figure of
    every item is a sum over those groups (`ItemTally.add`), so the table is read once and a
    few rows per revision reach Python.

    Numeric items: grading records each answer's band and number in `chosen`
    ("wrong:1150"); the pass groups them by band only (`_answer_group`), so their rows stay
    few too, and one more grouped query over just the numeric revisions (by the
    revision_id index) counts their most common values that were not right
    (`_numeric_values`), for those revisions only that had such answers. Only rows of the
    bank's numeric revisions go through the band expression; with none, the pass groups
    by `chosen` as it is."""
    await get_blueprint(session, blueprint_id)
    if cohort_id is not None:
        await owned_cohort(session, viewer, cohort_id)
        users: Select[Any] | None = cohort_members(cohort_id)
    else:
        users = others_visible_to(viewer)
    chosen = selected_attempts(blueprint_id, users, sitting_id=sitting_id)
    n, upper, lower = await _attempts_and_groups(session, chosen)
    total = AttemptItem.attempt_score
    numeric_revisions = (
        await session.scalars(select(QuestionRevision.id).where(QuestionRevision.type == "numeric"))
    ).all()
    answers = _answer_group(numeric_revisions, session.get_bind().dialect.name == "postgresql")
    keys = (AttemptItem.revision_id, AttemptItem.scored, answers, AttemptItem.points)
    rows = await session.execute(
        select(
            *keys,
            func.count(),
            func.sum(total),
            func.sum(total * total),
            func.count().filter(upper),
            func.count().filter(lower),
        )
        .join(chosen, chosen.c.attempt_id == AttemptItem.attempt_id)
        .group_by(*keys)
    )
    tallies: dict[int, ItemTally] = {}
    for revision_id, scored, chosen_ids, points, *sums in rows.all():
        tallies.setdefault(revision_id, ItemTally()).add(bool(scored), chosen_ids, points, sums)
    revisions = await _revisions(session, list(tallies))
    run = await last_run(session)
    # a run stores its parameters with its summary: before the first, no revision has any
    # (and their provisional b, worked out by bisection, is not shown)
    parameters = await revision_parameters(session, list(tallies)) if run else {}
    numeric_ids = [
        rid
        for rid, (revision, _) in revisions.items()
        if revision.type == "numeric" and _has_wrong_values(tallies[rid])
    ]
    values = await _numeric_values(session, chosen, numeric_ids)
    items = [
        _with_parameters(
            _item_stats(revisions[rid], tallies[rid], values.get(rid, [])), parameters.get(rid)
        )
        for rid in sorted(
            tallies, key=lambda r: (revisions[r][0].question_id, revisions[r][0].number)
        )
    ]
    return ItemReport(
        blueprint_id=blueprint_id,
        cohort_id=cohort_id,
        attempts=n,
        group_share=analysis.GROUP_SHARE,
        items=items,
        sitting_id=sitting_id,
        calibration_model=run.model if run else None,
        calibrated_at=run.finished_at if run else None,
    )


NUMERIC_BANDS = ("right", "partial", "wrong")
COMMON_VALUES = 5
"""How many of a numeric item's most common values that were not right the report lists."""


def _answer_group(numeric_revisions: Sequence[int], postgresql: bool) -> ColumnElement[Any]:
    """`chosen` as the item pass groups it: a numeric revision's answer by its band alone
    ("wrong:"), anything else as it is. The constants are written into the SQL (not bound),
    so that PostgreSQL sees the GROUP BY expression as the same as the selected one; the
    rows of other revisions only pay an integer comparison instead of having their text
    tested against the three bands.

    On PostgreSQL the key is compared in the "C" collation: the groups are the same (the
    database's collation is deterministic, equal means the same bytes), and hashing and
    comparing bytes skips a collation lookup per row (10,000 attempts: the pass about 8%
    faster, measured with bench/reports.py's data)."""
    column: ColumnElement[Any] = AttemptItem.chosen.expression
    if numeric_revisions:
        column = _numeric_band(column, numeric_revisions)
    return column.collate("C") if postgresql else column


def _numeric_band(
    column: ColumnElement[Any], numeric_revisions: Sequence[int]
) -> ColumnElement[Any]:
    """The numeric revisions' answers by band alone ("wrong:"), others' as they are."""
    ids = ", ".join(str(int(rid)) for rid in sorted(numeric_revisions))
    band = case(
        *(
            (column.like(literal_column(f"'{band}:%'")), literal_column(f"'{band}:'"))
            for band in NUMERIC_BANDS
        ),
        else_=column,
    )
    return case(
        (literal_column(f"attempt_items.revision_id IN ({ids})", Boolean), band),
        else_=column,
    )


def _has_wrong_values(tally: ItemTally) -> bool:
    """Whether any answer to a numeric item fell in the partial or wrong band."""
    return any(tally.choices.get(f"{band}:", [0])[0] for band in ("partial", "wrong"))


async def _numeric_values(
    session: AsyncSession, chosen: Subquery, revision_ids: Sequence[int]
) -> dict[int, list[tuple[str, int]]]:
    """Per numeric revision, its `COMMON_VALUES` most common answers that were not right
    ("partial:1150", count), the most frequent first, ties by the text; one grouped query,
    ranked in SQL."""
    if not revision_ids:
        return {}
    counted = func.count()
    ranked = (
        select(
            AttemptItem.revision_id,
            AttemptItem.chosen,
            counted.label("n"),
            func.row_number()
            .over(
                partition_by=AttemptItem.revision_id,
                order_by=(counted.desc(), AttemptItem.chosen),
            )
            .label("rank"),
        )
        .join(chosen, chosen.c.attempt_id == AttemptItem.attempt_id)
        .where(
            AttemptItem.revision_id.in_(revision_ids),
            AttemptItem.chosen.like("wrong:%") | AttemptItem.chosen.like("partial:%"),
        )
        .group_by(AttemptItem.revision_id, AttemptItem.chosen)
        .subquery("ranked_values")
    )
    rows = await session.execute(
        select(ranked.c.revision_id, ranked.c.chosen, ranked.c.n)
        .where(ranked.c.rank <= COMMON_VALUES)
        .order_by(ranked.c.revision_id, ranked.c.rank)
    )
    found: dict[int, list[tuple[str, int]]] = {}
    for revision_id, text, count in rows.all():
        found.setdefault(revision_id, []).append((text, int(count)))
    return found


def _numeric_shares(
    revision: QuestionRevision, tally: ItemTally, values: Sequence[tuple[str, int]]
) -> NumericShares:
    """Where a numeric item's answers fell, from the band counts of the item pass, and its
    common values that were not right, each marked when it is a listed mistake (never for
    a question template: its mistakes' values were drawn per attempt, and the bands were
    judged against each attempt's drawn key when it was graded)."""
    n = tally.n
    counts = {band: tally.choices.get(f"{band}:", [0])[0] for band in NUMERIC_BANDS}
    key = numeric.numeric_key(revision.content)
    template = "template" in revision.content
    mistakes = revision.content.get("mistakes") or []
    common = []
    for text, count in values:
        band, _, number = text.partition(":")
        known = not template and numeric.mistake_for(key, mistakes, float(number)) is not None
        common.append(NumericValue(number, band, count, round(count / n, 3), known))
    return NumericShares(
        right=round(counts["right"] / n, 3),
        partial=round(counts["partial"] / n, 3),
        wrong=round(counts["wrong"] / n, 3),
        unanswered=round((n - sum(counts.values())) / n, 3),
        common_wrong=common,
    )


def _with_parameters(stats: ItemStats, found: ItemParameters | None) -> ItemStats:
    """The revision's stored calibration on its row of the item report, with a flag when
    the model fits it badly."""
    if found is None or found.status is None:
        return stats
    estimated = found.source == "calibrated"
    flags = stats.flags
    if found.misfit:
        flags = [*flags, irt_misfit_flag(found)]
    return msgspec.structs.replace(
        stats,
        calibration=found.status,
        model=found.model,
        a=_round(found.a, 3) if estimated else None,
        se_a=_round(found.se_a, 3),
        b=_round(found.b, 3) if estimated else None,
        se_b=_round(found.se_b, 3),
        infit=_round(found.infit, 2),
        outfit=_round(found.outfit, 2),
        misfit=found.misfit,
        flags=flags,
    )


def irt_misfit_flag(found: ItemParameters) -> str:
    """Why an item is flagged: its slope (2PL, a below the minimum: miskeyed, or not
    measuring what the others do) or its mean squares."""
    if found.model == "2pl" and found.a < irt.MIN_DISCRIMINATION:
        return f"misfit: slope a = {found.a:.2f} (below {irt.MIN_DISCRIMINATION}; check the key)"
    low, high = irt.MISFIT_RANGE
    return (
        f"misfit: infit {_or_dash(found.infit)}, outfit {_or_dash(found.outfit)} "
        f"(outside {low}-{high})"
    )


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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
    tally: ItemTally,
    values: Sequence[tuple[str, int]] = (),
) -> ItemStats:
    revision, objective = meta
    n, n_upper, n_lower = tally.n, tally.n_upper, tally.n_lower
    facility = tally.sx / n
    r = analysis.correlation(n, tally.sx, tally.sy, tally.sxx, tally.syy, tally.sxy)
    index = tally.x_upper / n_upper - tally.x_lower / n_lower if n_upper and n_lower else None
    content = revision.content
    key = set(content["key"]) if revision.type in ("single", "multiple") else set()
    options = []
    unchosen = []
    for option in content.get("options", []) if revision.type in ("single", "multiple") else []:
        count, in_upper, in_lower = tally.choices.get(option["id"], (0, 0, 0))
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
        scored_responses=tally.scored,
        facility=round(facility, 3),
        point_biserial=_round(r, 3),
        discrimination_index=_round(index, 3),
        options=options,
        flags=analysis.item_flags(facility, r, n, unchosen),
        numeric=_numeric_shares(revision, tally, values) if revision.type == "numeric" else None,
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


async def score_report(session: AsyncSession, viewer: CurrentUser, attempt_id: int) -> ScoreReport:
    """What the candidate's score report shows: the result as `viewer` may see it (review
    by the same policy as the API), and the study-guide sections of each objective."""
    view = await attempt_result(session, viewer, attempt_id)
    attempt = await session.get(Attempt, attempt_id)
    assert attempt is not None  # attempt_result found it
    owner = await session.get(User, attempt.user_id)
    leaves = [o.code for o in view.objectives if o.level == "objective"]
    return ScoreReport(
        candidate=owner.display_name if owner else str(attempt.user_id),
        blueprint_name=str(attempt.settings.get("name", attempt.blueprint_id)),
        result=view,
        study=await study_sections(session, leaves),
        generated_at=utcnow(),
    )


async def candidate_report(
    session: AsyncSession, viewer: CurrentUser, user_id: int, *, heavy: HeavyWork | None = None
) -> CandidateReport:
    """The candidate's attempts and objective trends, and (with `heavy` to estimate in) their
    readiness for each blueprint open to them."""
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
            scoring="irt" if attempt.settings.get("scoring") == "irt" else "raw",
            theta=result.theta,
            theta_se=result.theta_se,
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
        readiness=[] if heavy is None else await open_readiness(session, heavy, user_id),
    )
