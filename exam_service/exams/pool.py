"""The question pool exams are drawn from: every active question's current revision,
kept per process until the bank changes, and the objective tree it is drawn against."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.bank import templates
from exam_service.exams import assembly
from exam_service.models import (
    CURRENT_REVISION,
    Attempt,
    AttemptItem,
    Objective,
    Question,
    QuestionRevision,
    RevisionObjective,
)

RECENT_ATTEMPTS = 5
"""How many of a candidate's latest attempts count as "recently seen" for assembly."""


async def objective_parents(session: AsyncSession) -> dict[str, str | None]:
    parent = Objective.__table__.alias("parent")
    rows = await session.execute(
        select(Objective.code, parent.c.code).outerjoin(parent, parent.c.id == Objective.parent_id)
    )
    return {code: parent_code for code, parent_code in rows.all()}


POOLS: OrderedDict[tuple[Any, ...], tuple[assembly.PoolQuestion, ...]] = OrderedDict()
"""Pools this process has read, by database and bank fingerprint (a few kept)."""


POOLS_KEPT = 4


def _bank_fingerprint() -> Select[Any]:
    """One row that changes whenever the pool could: questions are never deleted, and every
    import that adds, revises, retires or reactivates one stamps its `updated_at`; revisions
    only ever get added; objectives are counted for a tree that changed under the same
    questions."""
    return select(
        select(func.count()).select_from(Question).scalar_subquery(),
        select(func.max(Question.updated_at)).scalar_subquery(),
        select(func.max(QuestionRevision.id)).scalar_subquery(),
        select(func.count()).select_from(Objective).scalar_subquery(),
    )


async def question_pool(session: AsyncSession) -> tuple[assembly.PoolQuestion, ...]:
    """Every active question's current revision, in question id order.

    Kept per process and read again only when the bank's fingerprint changes: a start then
    reads one small row instead of decoding every question's content (about 40% of a
    start's CPU time with the default bank, when a whole cohort starts at once)."""
    database = session.get_bind().engine.url.render_as_string()
    key = (database, *(await session.execute(_bank_fingerprint())).one())
    cached = POOLS.get(key)
    if cached is not None:
        POOLS.move_to_end(key)
        return cached
    pool = await _read_pool(session)
    POOLS[key] = pool
    while len(POOLS) > POOLS_KEPT:
        POOLS.popitem(last=False)
    return pool


POOL_READ_ROWS = 1000
"""Rows decoded at a time when the pool is read: with 100,000 questions, reading them all
at once held every revision's content at the same moment (about 430 MiB at the peak for a
pool of 52 MiB)."""


async def _read_pool(session: AsyncSession) -> tuple[assembly.PoolQuestion, ...]:
    rows = await session.stream(
        select(
            QuestionRevision.question_id,
            QuestionRevision.id,
            Objective.code,
            QuestionRevision.difficulty,
            QuestionRevision.case_id,
            QuestionRevision.type,
            QuestionRevision.content,
        )
        .join(
            Question,
            CURRENT_REVISION,
        )
        .join(
            RevisionObjective,
            (RevisionObjective.revision_id == QuestionRevision.id)
            & (RevisionObjective.position == 0),
        )
        .join(Objective, Objective.id == RevisionObjective.objective_id)
        .where(Question.status == "active")
        .order_by(QuestionRevision.question_id)
        .execution_options(yield_per=POOL_READ_ROWS)
    )
    pool = []
    async for qid, rid, code, difficulty, case_id, qtype, content in rows:
        pool.append(
            assembly.PoolQuestion(
                question_id=qid,
                revision_id=rid,
                objective=code,
                difficulty=difficulty,
                case_id=case_id,
                type=qtype,
                option_ids=tuple(o["id"] for o in content.get("options", [])),
                prompt_ids=tuple(p["id"] for p in content.get("prompts", [])),
                choice_ids=tuple(c["id"] for c in content.get("choices", [])),
                template=templates.drawable(content),
            )
        )
    return tuple(pool)


async def recently_seen(
    session: AsyncSession, user_id: int, *, besides: int | None = None
) -> frozenset[str]:
    """The question ids of the user's latest `RECENT_ATTEMPTS` attempts (other than
    attempt `besides`)."""
    mine = select(Attempt.id).where(Attempt.user_id == user_id)
    if besides is not None:
        mine = mine.where(Attempt.id != besides)
    latest = mine.order_by(Attempt.started_at.desc()).limit(RECENT_ATTEMPTS).subquery()
    rows = await session.scalars(
        select(QuestionRevision.question_id)
        .join(AttemptItem, AttemptItem.revision_id == QuestionRevision.id)
        .where(AttemptItem.attempt_id.in_(select(latest.c.id)))
        .distinct()
    )
    return frozenset(rows.all())
