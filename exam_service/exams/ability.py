"""Ability: each graded attempt's θ, a blueprint's item pool with its parameters, and the
scaled score of `scoring: irt` (issue 17).

- θ of an attempt is the EAP estimate over its scored items (`irt.eap`, N(0, 1) prior), with
  the parameters known at grading (`calibration.service.revision_parameters`: estimated a
  and b, else a = 1 and b from the item's classical facility), and its standard error is
  the posterior SD. Both are stored with the result.
- A blueprint's pool (`blueprint_pool`) is every active question a form of it can draw,
  each under the target code it is drawn for (an objective code of the blueprint's weights
  or counts, or `*` for a blueprint without them), with its a and b, and the form rule: the
  scored items a form draws per target (the scored count shared out over the targets'
  counts by largest remainder) and the raw cut. Readiness and adaptive practice start
  from it too.
- `scoring: irt` (true-score equating onto an average form): the scaled score is
  `scoring.scaled_score(T(θ̂))`, where T(θ) = `irt.form_percent` is the percent a
  candidate of ability θ is expected to score on a random form of the blueprint. An
  attempt passes when T(θ̂) reaches the raw cut, that is when θ̂ ≥ θ_c = `irt.cut_theta`:
  the ability at which the expected percent equals the cut maps to the passing score on
  every form, easy or hard. Raw percent and the per-objective scores stay raw.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.calibration.service import ItemParameters, pool_parameters, revision_parameters
from exam_service.exams import assembly
from exam_service.exams.blueprints import exam_spec
from exam_service.exams.pool import objective_parents, question_pool
from exam_service.grading import irt, scoring
from exam_service.models import Blueprint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ability:
    """An EAP θ and its standard error (the posterior SD)."""

    theta: float
    se: float


def ability_of(
    answers: Sequence[tuple[int, float]], parameters: Mapping[int, ItemParameters]
) -> Ability | None:
    """θ from (revision id, points 0..1) pairs and the revisions' parameters; None without
    a scored answer whose revision has parameters."""
    known = [(parameters[rid], points) for rid, points in answers if rid in parameters]
    if not known:
        return None
    posterior = irt.eap(
        [p.a for p, _ in known],
        [p.b for p, _ in known],
        np.clip([points for _, points in known], 0.0, 1.0),
    )
    return Ability(float(posterior.theta[0]), float(posterior.se[0]))


async def attempt_ability(
    session: AsyncSession, answers: Sequence[tuple[int, float]]
) -> Ability | None:
    """θ of one attempt's scored answers (revision id, points), loading the parameters of
    its revisions with one query."""
    parameters = await revision_parameters(session, {rid for rid, _ in answers})
    return ability_of(answers, parameters)


@dataclass(frozen=True, eq=False)
class BlueprintPool:
    """A blueprint's pool in `irt` terms: item j of `pool` is revision `revision_ids[j]`,
    drawn under target `pool.objectives[pool.objective[j]]`; `form` is the blueprint's
    form rule (scored items per target, raw cut)."""

    pool: irt.ItemPool
    form: irt.FormRule
    revision_ids: tuple[int, ...]
    parameters: Mapping[int, ItemParameters]

    def index(self) -> dict[int, int]:
        """Revision id -> pool index."""
        return {rid: j for j, rid in enumerate(self.revision_ids)}

    def percent(self, theta: float) -> float:
        """T(θ): the expected percent on a random form at θ."""
        return float(irt.form_percent(self.pool, self.form, theta))

    def cut_theta(self) -> float | None:
        """θ_c, where T(θ_c) is the raw cut; None when no θ in [-6, 6] reaches it."""
        try:
            return irt.cut_theta(self.pool, self.form)
        except ValueError:
            return None


async def blueprint_pool(
    session: AsyncSession,
    blueprint: Blueprint,
    *,
    parameters: Mapping[int, ItemParameters] | None = None,
) -> BlueprintPool | None:
    """The blueprint's pool and form rule (module docstring), with `parameters` (default:
    `pool_parameters` of the model in use); None when no pool question fits a target."""
    spec = exam_spec(blueprint)
    pool = await question_pool(session)
    members = assembly.target_members(spec, pool, await objective_parents(session))
    if parameters is None:
        parameters = await pool_parameters(session)
    scored = blueprint.question_count - blueprint.unscored_count
    wanted = {code: n for code, n in assembly.targets(spec).items() if n > 0 and members[code]}
    if scored <= 0 or not wanted:
        return None
    counts = {
        code: min(n, len(members[code]))
        for code, n in assembly.apportion(scored, wanted).items()
        if n > 0
    }
    rows = [
        (pool[j].revision_id, code)
        for code in counts
        for j in members[code]
        if pool[j].revision_id in parameters
    ]
    if not rows:
        return None
    ids = tuple(rid for rid, _ in rows)
    item_pool = irt.ItemPool.build(
        [parameters[rid].a for rid in ids],
        [parameters[rid].b for rid in ids],
        [code for _, code in rows],
    )
    present = {code for _, code in rows}
    form = irt.FormRule(
        {code: n for code, n in counts.items() if code in present}, cut_percent=blueprint.raw_cut
    )
    return BlueprintPool(item_pool, form, ids, parameters)


@dataclass(frozen=True)
class Equated:
    """`scoring: irt`: the expected percent on an average form at θ̂, and what it maps to."""

    percent: float
    scaled_score: int
    passed: bool


async def equated_score(
    session: AsyncSession, blueprint_id: str, theta: float, scale: scoring.Scale
) -> Equated | None:
    """The scaled score and verdict from θ on the blueprint's average form (module
    docstring); None when the blueprint is gone or its pool is empty."""
    blueprint = await session.get(Blueprint, blueprint_id)
    if blueprint is None:
        return None
    found = await blueprint_pool(session, blueprint)
    if found is None:
        return None
    percent = found.percent(theta)
    return Equated(percent, scoring.scaled_score(percent, scale), percent >= scale.raw_cut)


async def grade_with_ability(
    session: AsyncSession,
    grade: scoring.Grade,
    answers: Sequence[tuple[int, float]],
    *,
    blueprint_id: str,
    method: str,
    scale: scoring.Scale,
) -> tuple[scoring.Grade, Ability | None]:
    """The attempt's θ, and its grade with the scaled score and verdict from θ when the
    attempt is scored by `irt` (`method`); raw scoring keeps the grade as it is. An `irt`
    attempt without an estimate (no scored answer, an empty pool) keeps its raw grade."""
    ability = await attempt_ability(session, answers)
    if method != "irt" or ability is None:
        return grade, ability
    equated = await equated_score(session, blueprint_id, ability.theta, scale)
    if equated is None:
        logger.warning(
            "blueprint %s is scored by irt but has no pool to equate on; the raw score stands",
            blueprint_id,
        )
        return grade, ability
    return (
        dataclasses.replace(grade, scaled_score=equated.scaled_score, passed=equated.passed),
        ability,
    )


def scored_answers(items: Collection[tuple[int, bool, float | None]]) -> list[tuple[int, float]]:
    """(revision id, points) of the scored, graded items among (revision id, scored, points)."""
    return [(rid, float(points)) for rid, scored, points in items if scored and points is not None]
