"""Adaptive practice (issue 17, item 4): an attempt at a `mode: adaptive` blueprint is served
one question at a time, each chosen by `irt.next_item` for the candidate's weakest
objectives at their ability, until the blueprint's stop rule fires.

- The pool is the blueprint's (`ability.blueprint_pool`: every active question a form of it
  can draw, under the target code it is drawn for, with a and b from the last calibration,
  or a = 1 and b from the classical facility before it). The evidence is this attempt's
  answered questions, scored as grading scores them; θ and the objectives' mastery come
  from it alone, so each session measures afresh.
- Exposure: a question served in this attempt is never served again (nor another revision
  of it); those of the candidate's `pool.RECENT_ATTEMPTS` latest other attempts are passed
  as `exclude`, and come back only when nothing else is left to serve (the selection is
  retried without them when it would otherwise stop for want of questions). Among the
  most informative questions one of five is drawn at random (`irt.next_item`), seeded by
  the attempt and the position, so parallel requests choose alike.
- Stop: after `question_count` questions (`length`), once the posterior SD of θ is below
  `adaptive.target_se` after at least `adaptive.min_items` (`precision`), or when no
  question is left (`pool`). The reason is stored once (`attempts.adaptive_stop`): the
  session is then complete and serves nothing more; the candidate submits it, and it is
  graded like any attempt over the questions it served.
- A question is appended with one guarded INSERT that writes only while the attempt is
  open and not stopped (on PostgreSQL it takes a share lock on the attempt row, as the
  answer save does, so a submit closing it waits, or is waited for); two requests
  racing for the same position leave one row, and the loser answers with that one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exam_service.auth.schemas import CurrentUser
from exam_service.bank.format import AdaptiveRule
from exam_service.db import utcnow
from exam_service.errors import Conflict
from exam_service.exams import assembly, delivery
from exam_service.exams.ability import BlueprintPool, blueprint_pool
from exam_service.exams.blueprints import adaptive_rule
from exam_service.exams.closing import close_if_expired
from exam_service.exams.pool import question_pool, recently_seen
from exam_service.exams.schemas import AdaptiveProgress, StopReason
from exam_service.exams.service import items_and_responses, visible_attempt
from exam_service.grading import irt, scoring
from exam_service.models import Attempt, AttemptItem, Blueprint, JSONType, Objective, Response

BREADTH = 10
"""`irt.next_item`'s breadth: the shortlist holds the unserved questions of the weakest
objectives, taken weakest first until there are at least this many (the default 20 spans
two or three objectives of a dozen questions each, and on a pool of three objectives of 18
questions served a candidate who missed every question of one of them hardly more of it
than a random draw would). Practice should stay on the weakest objective while it has
questions left: with 10 that candidate got 9-12 of 15 from it in 300 simulated sessions.
It still measures faster than a random draw: on the simulated pool of `bench/irt.py`,
0.76 of a random draw's questions to a standard error of 0.4 (`irt` module docstring);
over the default bank to 0.45, simulated, 0.91 before calibration (a = 1, b from the
labels) and 0.79 with calibrated parameters."""
RACES = 3
"""Requests racing for the same position: each loser reads again and answers the winner's."""


def stop_settings(blueprint: Blueprint) -> dict[str, Any]:
    """The stop rule an adaptive attempt keeps for its life (in `attempt.settings`)."""
    rule = adaptive_rule(blueprint) or AdaptiveRule()
    return {
        "max_items": blueprint.question_count,
        "target_se": rule.target_se,
        "min_items": rule.min_items,
    }


def progress(attempt: Attempt, served: int) -> AdaptiveProgress:
    """Where an adaptive attempt stands after `served` questions, with what to do now."""
    rule = attempt.settings["adaptive"]
    stop: StopReason | None = attempt.adaptive_stop  # type: ignore[assignment]
    return AdaptiveProgress(
        served=served,
        max_items=rule["max_items"],
        target_se=rule["target_se"],
        min_items=rule["min_items"],
        complete=stop is not None,
        stop_reason=stop,
        note=stop_note(stop, served, rule),
    )


def stop_note(stop: str | None, served: int, rule: Mapping[str, Any]) -> str:
    then = "Submit it to see your result and the review."
    if stop == "length":
        return f"Complete: you reached the most questions this practice serves ({served}). {then}"
    if stop == "precision":
        return (
            f"Complete: after {served} questions your ability is measured closely enough "
            f"(standard error below {rule['target_se']:g}). {then}"
        )
    if stop == "pool":
        return f"Complete: no question is left to practise here ({served} served). {then}"
    return (
        f"{served} of at most {rule['max_items']} questions served; answer the last one, "
        "then ask for the next."
    )


@dataclass(frozen=True)
class Served:
    """What `serve_next` answers: the question to answer now (None when complete), its
    saved response, the attempt's progress, θ and its SE from the answers so far, and the
    blueprint objective the question practises."""

    item: AttemptItem | None
    response: Response | None
    progress: AdaptiveProgress
    theta: float
    se: float
    objective: str | None
    objective_title: str | None


@dataclass(frozen=True)
class _Pool:
    """A blueprint's pool with each pool item's question, for choosing."""

    found: BlueprintPool
    questions: tuple[assembly.PoolQuestion, ...]
    """Pool question (current revision) of each pool index."""
    index: dict[str, int]
    """Question id -> pool index."""

    def indexes(self, question_ids: Sequence[str] | frozenset[str]) -> list[int]:
        return [self.index[q] for q in question_ids if q in self.index]


async def _pool(session: AsyncSession, blueprint: Blueprint) -> _Pool:
    found = await blueprint_pool(session, blueprint)
    if found is None:
        raise Conflict(
            f"blueprint {blueprint.id!r} has no active question on its objectives; an "
            "instructor must add questions before it can be practised"
        )
    by_revision = {q.revision_id: q for q in await question_pool(session)}
    questions = tuple(by_revision[rid] for rid in found.revision_ids)
    index = {q.question_id: j for j, q in enumerate(questions)}
    return _Pool(found, questions, index)


def _choose(
    pool: _Pool,
    answers: Sequence[tuple[str, float]],
    served: Sequence[str],
    recent: frozenset[str],
    rule: Mapping[str, Any],
    seed: int,
) -> irt.NextItem:
    """`irt.next_item` over the pool: `answers` are (question id, points) of this attempt,
    `served` every question id it showed, `recent` those of the candidate's recent
    attempts (avoided while others are left)."""
    known = [(pool.index[q], points) for q, points in answers if q in pool.index]
    evidence = irt.Evidence.of([j for j, _ in known], [p for _, p in known])
    served_here = pool.indexes(served)
    gone = len(served) - len(served_here)  # served, but no longer in the pool
    stop = irt.StopRule(
        max_items=rule["max_items"] - gone,
        target_se=rule["target_se"],
        min_items=max(0, rule["min_items"] - gone),
    )
    exclude = pool.indexes(recent - set(served))
    rng = np.random.default_rng([seed, len(served)])

    def choose(avoid: Sequence[int]) -> irt.NextItem:
        return irt.next_item(
            pool.found.pool,
            evidence,
            served_here,
            form=pool.found.form,
            rng=rng,
            stop=stop,
            exclude=avoid,
            breadth=BREADTH,
        )

    chosen = choose(exclude)
    if chosen.stop == "pool" and exclude:
        chosen = choose(())  # nothing new is left: recently seen questions come back
    return chosen


def _target(pool: _Pool, j: int) -> str:
    """The blueprint target code pool item `j` is drawn under."""
    return pool.found.pool.objectives[int(pool.found.pool.objective[j])]


def _item_row(
    pool: _Pool, chosen: int, position: int, shuffle: bool, seed: int
) -> assembly.DrawnItem:
    target = _target(pool, chosen)
    rng = random.Random((seed << 16) + position)
    return assembly.serve_one(pool.questions[chosen], position, target, shuffle, rng)


async def first_item(
    session: AsyncSession, blueprint: Blueprint, user_id: int, seed: int
) -> assembly.DrawnItem:
    """The first question of a new adaptive attempt (nothing answered yet: the a-priori
    weakest objectives, questions of the candidate's recent attempts avoided)."""
    pool = await _pool(session, blueprint)
    recent = await recently_seen(session, user_id)
    chosen = _choose(pool, (), (), recent, stop_settings(blueprint), seed)
    if chosen.item is None:
        raise Conflict(
            f"blueprint {blueprint.id!r} has no question to serve; an instructor must add "
            "questions on its objectives"
        )
    return _item_row(pool, chosen.item, 1, blueprint.shuffle_options, seed)


def _points(item: AttemptItem, response: Response | None, partial: bool) -> float | None:
    """The points grading would give the item now; None while it has no answer."""
    if response is None or response.answer is None:
        return None
    revision = item.revision
    key = delivery.display_key(revision.type, revision.content, item.layout)
    return scoring.item_points(revision.type, key, response.answer, partial_credit=partial)


async def serve_next(session: AsyncSession, me: CurrentUser, attempt_id: int) -> Served:
    """The owner's adaptive attempt's question to answer now: its last question while that
    has no saved answer, else a new one chosen from the answers so far, or none once the
    stop rule has fired (module docstring). Conflict for an attempt that is closed or not
    adaptive; NotFound for one that is not the caller's."""
    for _ in range(RACES):
        served = await _serve(session, me, attempt_id)
        if served is not None:
            return served
    raise Conflict(
        f"several requests for the next question of attempt {attempt_id} raced; send it again"
    )


async def _serve(session: AsyncSession, me: CurrentUser, attempt_id: int) -> Served | None:
    attempt = await visible_attempt(session, me, attempt_id, owner_only=True)
    await session.refresh(attempt)
    await close_if_expired(session, attempt)
    if attempt.mode != "adaptive":
        raise Conflict(
            f"attempt {attempt_id} is not adaptive practice: all its questions were given at "
            f"the start (GET /api/v1/attempts/{attempt_id})"
        )
    if attempt.status != "in_progress":
        raise Conflict(f"attempt {attempt_id} is closed; see its result for the review")
    items, responses = await items_and_responses(session, attempt_id)
    partial = bool(attempt.settings.get("partial_credit"))
    answers = [
        (item.revision.question_id, points)
        for item in items
        if (points := _points(item, responses.get(item.position), partial)) is not None
    ]
    blueprint = await session.get(Blueprint, attempt.blueprint_id)
    assert blueprint is not None  # blueprints are never deleted
    pool = await _pool(session, blueprint)
    if attempt.adaptive_stop is not None:
        return _served(attempt, None, None, len(items), _estimate(pool, answers), None, None)
    last = items[-1] if items else None
    if last is not None and _points(last, responses.get(last.position), partial) is None:
        # the last question still waits for its answer: serve it again
        target = _target_of(pool, last.revision.question_id)
        return _served(
            attempt,
            last,
            responses.get(last.position),
            len(items),
            _estimate(pool, answers),
            target,
            await _title(session, target),
        )
    served = [item.revision.question_id for item in items]
    recent = await recently_seen(session, me.id, besides=attempt_id)
    chosen = _choose(pool, answers, served, recent, attempt.settings["adaptive"], attempt.seed)
    estimate = (chosen.theta, chosen.se)
    if chosen.item is None:
        stopped = await session.execute(
            update(Attempt)
            .where(
                Attempt.id == attempt_id,
                Attempt.status == "in_progress",
                Attempt.adaptive_stop.is_(None),
            )
            .values(adaptive_stop=chosen.stop)
        )
        await session.commit()
        if stopped.rowcount != 1:  # type: ignore[attr-defined]
            return None  # closed or stopped meanwhile: read again
        attempt.adaptive_stop = chosen.stop
        return _served(attempt, None, None, len(items), estimate, None, None)
    position = last.position + 1 if last is not None else 1
    drawn = _item_row(pool, chosen.item, position, blueprint.shuffle_options, attempt.seed)
    if not await _append(session, attempt_id, drawn):
        return None  # closed, stopped or raced meanwhile: read again
    added = await session.scalar(
        select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id, AttemptItem.position == position)
        .options(selectinload(AttemptItem.revision))
    )
    assert added is not None
    return _served(
        attempt,
        added,
        None,
        len(items) + 1,
        estimate,
        chosen.objective,
        await _title(session, chosen.objective),
    )


async def _append(session: AsyncSession, attempt_id: int, drawn: assembly.DrawnItem) -> bool:
    """Insert the drawn question while the attempt is open and not stopped; False when
    it was not (closed, stopped, or the position taken by a parallel request)."""
    now = utcnow()
    guard = (
        select(
            Attempt.id,
            literal(drawn.position),
            literal(drawn.revision_id),
            literal(True),
            literal(assembly.layout_of(drawn), JSONType),
        )
        .where(
            Attempt.id == attempt_id,
            Attempt.status == "in_progress",
            Attempt.adaptive_stop.is_(None),
            or_(Attempt.closes_at.is_(None), Attempt.closes_at >= now),
        )
        .with_for_update(read=True, of=Attempt)
    )
    statement = insert(AttemptItem).from_select(
        ["attempt_id", "position", "revision_id", "scored", "layout"], guard
    )
    try:
        written = (await session.execute(statement)).rowcount  # type: ignore[attr-defined]
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return bool(written == 1)


def _estimate(pool: _Pool, answers: Sequence[tuple[str, float]]) -> tuple[float, float]:
    known = [(pool.index[q], points) for q, points in answers if q in pool.index]
    found = pool.found.pool
    index = np.array([j for j, _ in known], dtype=np.int64)
    posterior = irt.eap(found.a[index], found.b[index], [p for _, p in known])
    return float(posterior.theta[0]), float(posterior.se[0])


def _target_of(pool: _Pool, question_id: str) -> str | None:
    j = pool.index.get(question_id)
    if j is None:
        return None
    return _target(pool, j)


async def _title(session: AsyncSession, code: str | None) -> str | None:
    if code is None or code == irt.WHOLE_POOL:
        return None
    title: str | None = await session.scalar(select(Objective.title).where(Objective.code == code))
    return title


def _served(
    attempt: Attempt,
    item: AttemptItem | None,
    response: Response | None,
    served: int,
    estimate: tuple[float, float],
    objective: str | None,
    title: str | None,
) -> Served:
    return Served(
        item=item,
        response=response,
        progress=progress(attempt, served),
        theta=round(estimate[0], 4),
        se=round(estimate[1], 4),
        objective=objective,
        objective_title=title,
    )
