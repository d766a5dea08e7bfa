"""Calibration in the database: read every graded response, fit the item parameters (in the
heavy-work pool), store them per question revision, and give them to whoever needs them.
When runs happen and who runs them is `runs.py`'s concern.

- A run (`run_calibration`) streams the scored items of every closed attempt (online and
  paper) with one query, in chunks, fits the model (`fit.fit_responses`, started from the
  stored parameters of the last run) and replaces that model's rows in
  `item_calibrations`. In the service the reading and the fit run in a heavy-work
  process (`read_and_fit`), so requests never wait for either. The model in use is the
  last run's (`calibration_state.model`; 2PL until a run says otherwise).
- `revision_parameters` and `pool_parameters` give a, b per revision for grading (θ),
  `scoring: irt`, readiness and adaptive practice. Revisions without estimated parameters
  get a = 1 and b from their classical facility (`irt.b_from_facility`), the facility
  being their share right shrunk towards the guess of their difficulty label
  (`irt.LABEL_FACILITY`) with the weight of `LABEL_ANSWERS` answers, so that everything
  works before the first calibration and three answers do not put an item at b = ±4.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
import numpy as np
from sqlalchemy import (
    ColumnElement,
    String,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from exam_service.calibration.fit import Fit, fit_responses
from exam_service.db import create_engine, session_factory, utcnow
from exam_service.grading import irt
from exam_service.heavy import HeavyWork
from exam_service.models import (
    CURRENT_REVISION,
    Attempt,
    AttemptItem,
    CalibrationState,
    ItemCalibration,
    Question,
    QuestionRevision,
    Result,
)

DEFAULT_MODEL: irt.Model = "2pl"
"""The model in use until a run of another one."""
CHUNK_ROWS = 5_000
"""Responses fetched per round trip of the streamed query (a few ms of work each)."""
LABEL_ANSWERS = 10
"""The difficulty label's guess counts as this many answers in an uncalibrated item's
facility."""
CLOSED = ("submitted", "expired")

Source = Literal["calibrated", "facility", "label"]


@dataclass(frozen=True)
class ItemParameters:
    """One revision's a and b as everything outside calibration uses them.

    `source`: `calibrated` (estimated by the last run of `model`), `facility` (a = 1 and b
    from the share right in its `responses`, shrunk towards the label's guess) or `label`
    (a = 1 and b from its difficulty label alone: never answered in a graded attempt).
    The other fields are the stored calibration (None where not estimated); `status` is
    the run's verdict on it (None: no run has seen it)."""

    revision_id: int
    a: float
    b: float
    source: Source
    model: irt.Model
    status: str | None = None
    responses: int = 0
    se_a: float | None = None
    se_b: float | None = None
    infit: float | None = None
    outfit: float | None = None
    misfit: bool = False


class RunSummary(msgspec.Struct, frozen=True):
    """What one calibration run did (stored in `calibration_state.summary`)."""

    model: str
    attempts: int
    responses: int
    revisions: int
    """Revisions with responses: estimated + too_few + no_variation."""
    estimated: int
    too_few: int
    """Not estimated: fewer than `min_responses` responses."""
    no_variation: int
    """Not estimated: everyone right, or everyone wrong."""
    misfits: list[int]
    """Revision ids of the estimated items flagged as misfitting."""
    min_responses: int
    iterations: int
    converged: bool
    read_seconds: float
    fit_seconds: float
    store_seconds: float
    seconds: float
    finished_at: datetime
    by: str
    """Who ran it: `command` or the instance (host:pid)."""


# --- parameters for everyone else ---------------------------------------------------------


def _model_in_use() -> ColumnElement[str]:
    stored = select(CalibrationState.model).where(CalibrationState.id == 1).scalar_subquery()
    return func.coalesce(stored, DEFAULT_MODEL)


async def active_model(session: AsyncSession) -> irt.Model:
    """The model whose parameters are in use: the last run's, else `DEFAULT_MODEL`."""
    model = await session.scalar(select(_model_in_use()))
    return "rasch" if model == "rasch" else "2pl"


async def revision_parameters(
    session: AsyncSession, revision_ids: Collection[int], *, model: irt.Model | None = None
) -> dict[int, ItemParameters]:
    """Parameters of the given revisions (every one that exists), in one query; `model`
    defaults to the model in use. Grading calls this for an attempt's items."""
    if not revision_ids:
        return {}
    return await _parameters(session, QuestionRevision.id.in_(sorted(set(revision_ids))), model)


async def pool_parameters(
    session: AsyncSession, *, model: irt.Model | None = None
) -> dict[int, ItemParameters]:
    """Parameters of the active pool (each active question's current revision), by
    revision id, in one query."""
    active = (
        select(QuestionRevision.id)
        .join(Question, CURRENT_REVISION)
        .where(Question.status == "active")
    )
    return await _parameters(session, QuestionRevision.id.in_(active), model)


async def _parameters(
    session: AsyncSession, where: ColumnElement[bool], model: irt.Model | None
) -> dict[int, ItemParameters]:
    chosen = _model_in_use() if model is None else literal(model, String)
    rows = (
        await session.execute(
            select(
                QuestionRevision.id,
                QuestionRevision.difficulty,
                chosen.label("model"),
                ItemCalibration.status,
                ItemCalibration.responses,
                ItemCalibration.facility,
                ItemCalibration.a,
                ItemCalibration.b,
                ItemCalibration.se_a,
                ItemCalibration.se_b,
                ItemCalibration.infit,
                ItemCalibration.outfit,
                ItemCalibration.misfit,
            )
            .outerjoin(
                ItemCalibration,
                (ItemCalibration.revision_id == QuestionRevision.id)
                & (ItemCalibration.model == chosen),
            )
            .where(where)
        )
    ).all()
    provisional = [
        row for row in rows if row.status != "estimated" or row.a is None or row.b is None
    ]
    b_guess = dict(
        zip(
            (row.id for row in provisional),
            irt.b_from_facility([_shrunk_facility(row) for row in provisional]).tolist(),
            strict=True,
        )
    )
    out: dict[int, ItemParameters] = {}
    for row in rows:
        model_: irt.Model = "rasch" if row.model == "rasch" else "2pl"
        stored: dict[str, Any] = {
            "status": row.status,
            "responses": int(row.responses or 0),
            "se_a": row.se_a,
            "se_b": row.se_b,
            "infit": row.infit,
            "outfit": row.outfit,
            "misfit": bool(row.misfit),
        }
        if row.id in b_guess:
            source: Source = "facility" if row.responses else "label"
            out[row.id] = ItemParameters(row.id, 1.0, b_guess[row.id], source, model_, **stored)
        else:
            out[row.id] = ItemParameters(row.id, row.a, row.b, "calibrated", model_, **stored)
    return out


def _shrunk_facility(row: Any) -> float:
    """(right + k·label) / (n + k): the share right, pulled towards the label's guess."""
    label = irt.LABEL_FACILITY.get(row.difficulty, 0.6)
    n = int(row.responses or 0)
    right = float(row.facility or 0.0) * n
    return (right + LABEL_ANSWERS * label) / (n + LABEL_ANSWERS)


async def last_run(session: AsyncSession) -> RunSummary | None:
    """What the last finished run did, or None before the first."""
    summary = await session.scalar(select(CalibrationState.summary).where(CalibrationState.id == 1))
    return msgspec.convert(summary, RunSummary) if summary else None


# --- reading the responses ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GradedResponses:
    """Every scored item of every closed attempt, as parallel arrays."""

    attempt_ids: np.ndarray
    revision_ids: np.ndarray
    points: np.ndarray

    @property
    def size(self) -> int:
        return int(self.points.size)


async def read_responses(session: AsyncSession, chunk_rows: int = CHUNK_ROWS) -> GradedResponses:
    """One query over `attempt_items` joined to the closed attempts, streamed `chunk_rows`
    at a time into arrays (int64 ids, float32 points: 20 bytes a response)."""
    statement = (
        select(AttemptItem.attempt_id, AttemptItem.revision_id, AttemptItem.points)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(
            Attempt.status.in_(CLOSED),
            AttemptItem.scored.is_(True),
            AttemptItem.points.is_not(None),
        )
        .execution_options(yield_per=chunk_rows)
    )
    attempts: list[np.ndarray] = []
    revisions: list[np.ndarray] = []
    points: list[np.ndarray] = []
    result = await session.stream(statement)
    async for chunk in result.partitions(chunk_rows):
        # column by column: np.array over a list of Rows is about 100 times slower
        size = len(chunk)
        attempts.append(np.fromiter((row[0] for row in chunk), np.int64, size))
        revisions.append(np.fromiter((row[1] for row in chunk), np.int64, size))
        points.append(np.fromiter((row[2] for row in chunk), np.float32, size))
    if not points:
        empty = np.empty(0, dtype=np.int64)
        return GradedResponses(empty, empty.copy(), np.empty(0, dtype=np.float32))
    return GradedResponses(
        np.concatenate(attempts), np.concatenate(revisions), np.concatenate(points)
    )


# --- a run --------------------------------------------------------------------------------


async def graded_so_far(session: AsyncSession) -> tuple[int, datetime | None]:
    """The count of results and the latest grading time: what "graded since" compares."""
    count, latest = (await session.execute(select(func.count(), func.max(Result.graded_at)))).one()
    return int(count), latest


async def _start_values(
    session: AsyncSession, model: irt.Model
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = (
        await session.execute(
            select(ItemCalibration.revision_id, ItemCalibration.a, ItemCalibration.b)
            .where(ItemCalibration.model == model, ItemCalibration.status == "estimated")
            .order_by(ItemCalibration.revision_id)
        )
    ).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    a = np.array([np.nan if row[1] is None else row[1] for row in rows], dtype=np.float64)
    b = np.array([np.nan if row[2] is None else row[2] for row in rows], dtype=np.float64)
    return ids, a, b


def read_and_fit(
    database_url: str,
    model: irt.Model,
    start: tuple[np.ndarray, np.ndarray, np.ndarray],
    min_responses: int,
) -> tuple[Fit, float]:
    """The heavy-work job: read every graded response over a connection of its own (the
    same one query, `read_responses`), then fit; returns the fit and the seconds reading
    took. Reading here rather than on the server's event loop keeps millions of rows, and
    the garbage collections their objects set off, away from the requests (measured on
    PostgreSQL: 1.5 million responses read on the event loop held it up to 130 ms at a
    time, 9.7 s in all)."""

    async def read() -> GradedResponses:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                return await read_responses(session)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    # The rows are garbage the moment they are in the arrays, but their numbers set off
    # full collections that scan everything: paused, the read takes about a third of the
    # time. This process does nothing else meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        responses = asyncio.run(read())
    finally:
        if collecting:
            gc.enable()
    read_seconds = time.perf_counter() - started
    fit = fit_responses(
        responses.attempt_ids,
        responses.revision_ids,
        responses.points,
        model,
        *start,
        min_responses,
    )
    return fit, read_seconds


async def run_calibration(
    session: AsyncSession,
    *,
    model: irt.Model | None,
    heavy: HeavyWork | None,
    by: str,
    min_responses: int,
) -> RunSummary:
    """Read, fit and store, inside the claim the caller holds (`runs.py`), and record the
    run in `calibration_state` (releasing the claim). `model` defaults to the model in use.
    With `heavy`, reading and fitting run in a heavy-work process (`read_and_fit`);
    without, in this one (the command)."""
    started = time.perf_counter()
    chosen = model or await active_model(session)
    watermark = await graded_so_far(session)
    start = await _start_values(session, chosen)
    if heavy is None:
        responses = await read_responses(session)
        await session.rollback()  # end the read transaction before the fit
        read_seconds = time.perf_counter() - started
        fit = fit_responses(
            responses.attempt_ids,
            responses.revision_ids,
            responses.points,
            chosen,
            *start,
            min_responses,
        )
    else:
        await session.rollback()
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        fit, read_seconds = await heavy.run(read_and_fit, url, chosen, start, min_responses)
    fit_seconds = fit.seconds
    stored_at = time.perf_counter()
    now = utcnow()
    summary = RunSummary(
        model=chosen,
        attempts=fit.attempts,
        responses=fit.responses,
        revisions=len(fit.rows),
        estimated=fit.estimated,
        too_few=fit.too_few,
        no_variation=fit.no_variation,
        misfits=fit.misfits,
        min_responses=min_responses,
        iterations=fit.iterations,
        converged=fit.converged,
        read_seconds=round(read_seconds, 3),
        fit_seconds=round(fit_seconds, 3),
        store_seconds=0.0,
        seconds=0.0,
        finished_at=now,
        by=by,
    )
    await _store(session, fit, now)
    store_seconds = time.perf_counter() - stored_at
    summary = msgspec.structs.replace(
        summary,
        store_seconds=round(store_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
    )
    await session.execute(
        update(CalibrationState)
        .where(CalibrationState.id == 1)
        .values(
            model=chosen,
            finished_at=now,
            graded_results=watermark[0],
            graded_until=watermark[1],
            summary=msgspec.to_builtins(summary),
            claimed_by=None,
            claimed_until=None,
        )
    )
    await session.commit()
    return summary


async def _store(session: AsyncSession, fit: Fit, now: datetime) -> None:
    """Replace the model's rows with this fit's (one per revision with responses)."""
    await session.execute(delete(ItemCalibration).where(ItemCalibration.model == fit.model))
    if fit.rows:
        await session.execute(
            insert(ItemCalibration),
            [
                {
                    "revision_id": row.revision_id,
                    "model": fit.model,
                    "status": row.status,
                    "responses": row.responses,
                    "facility": row.facility,
                    "a": row.a,
                    "b": row.b,
                    "se_a": row.se_a,
                    "se_b": row.se_b,
                    "infit": row.infit,
                    "outfit": row.outfit,
                    "misfit": row.misfit,
                    "calibrated_at": now,
                }
                for row in fit.rows
            ],
        )


async def revision_names(session: AsyncSession, revision_ids: Collection[int]) -> dict[int, str]:
    """`question-id r2` for each revision id, as reports name revisions."""
    if not revision_ids:
        return {}
    rows = await session.execute(
        select(QuestionRevision.id, QuestionRevision.question_id, QuestionRevision.number).where(
            QuestionRevision.id.in_(sorted(set(revision_ids)))
        )
    )
    return {rid: f"{qid} r{number}" for rid, qid, number in rows.all()}
