"""Reading the question pool before the first candidate needs it.

A start reads every active question's current revision once per process (`pool.py`) and
indexes it once per blueprint (`draw_order.py`). With the default bank that is a few tens
of milliseconds; with 100,000 questions it is seconds, which the first candidate to start
would wait for. The app does it at start-up instead, before it accepts requests."""

from __future__ import annotations

import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.exams import assembly
from exam_service.exams.blueprints import exam_spec, list_blueprints
from exam_service.exams.pool import objective_parents, question_pool

logger = logging.getLogger(__name__)


async def warm_pool(session: AsyncSession) -> int:
    """Read the pool and index it for every blueprint drawn as a whole (not adaptive ones);
    returns the pool's size. A blueprint the pool cannot fill is left to its starts, which
    say what is missing."""
    began = time.perf_counter()
    pool = await question_pool(session)
    parents = await objective_parents(session)
    for blueprint in await list_blueprints(session):
        if blueprint.mode == "adaptive":
            continue
        try:
            assembly.prepare(exam_spec(blueprint), pool, parents)
        except ValueError as exc:
            logger.info("blueprint %r not indexed ahead: %s", blueprint.id, exc)
    logger.info(
        "question pool of %d read and indexed in %.2f s", len(pool), time.perf_counter() - began
    )
    return len(pool)
