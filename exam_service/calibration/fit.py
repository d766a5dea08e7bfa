"""The calibration job: graded responses as database ids in, one row per question revision
out. Pure (NumPy and `grading.irt`), so it runs in a heavy-work process: its arguments and
its result pickle, and the index building over millions of responses stays off the event
loop."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from exam_service.grading import irt


@dataclass(frozen=True)
class RevisionFit:
    """One revision's calibration, ready to store (None where not estimated)."""

    revision_id: int
    status: irt.ItemStatus
    responses: int
    facility: float
    a: float | None
    b: float | None
    se_a: float | None
    se_b: float | None
    infit: float | None
    outfit: float | None
    misfit: bool


@dataclass(frozen=True)
class Fit:
    """What one calibration produced, and what it cost."""

    model: irt.Model
    attempts: int
    responses: int
    rows: list[RevisionFit]
    iterations: int
    converged: bool
    seconds: float
    """The fit alone, in the worker process (not reading or storing)."""

    @property
    def estimated(self) -> int:
        return sum(1 for row in self.rows if row.status == "estimated")

    @property
    def too_few(self) -> int:
        return sum(1 for row in self.rows if row.status == "too_few_responses")

    @property
    def no_variation(self) -> int:
        """Revisions everyone answered right, or everyone wrong."""
        return sum(1 for row in self.rows if row.status in ("all_right", "all_wrong"))

    @property
    def misfits(self) -> list[int]:
        return [row.revision_id for row in self.rows if row.misfit]


def fit_responses(
    attempt_ids: npt.NDArray[np.int64],
    revision_ids: npt.NDArray[np.int64],
    points: npt.NDArray[np.float32],
    model: irt.Model,
    start_revisions: npt.NDArray[np.int64],
    start_a: npt.NDArray[np.float64],
    start_b: npt.NDArray[np.float64],
    min_responses: int = irt.MIN_RESPONSES,
) -> Fit:
    """Calibrate `model` on parallel arrays of graded responses (attempt id, revision id,
    points 0..1): attempts are the persons, revisions the items. `start_*` are the stored
    parameters of the last run (revision id, a, b) that the fit starts from, so a re-run
    after new attempts converges in a few iterations."""
    started = time.perf_counter()
    revisions, item = np.unique(revision_ids, return_inverse=True)
    attempts, person = np.unique(attempt_ids, return_inverse=True)
    score = np.clip(np.asarray(points, dtype=np.float64), 0.0, 1.0)
    responses = irt.Responses.from_arrays(
        person, item, score, n_persons=attempts.size, n_items=revisions.size
    )
    a0 = np.full(revisions.size, np.nan)
    b0 = np.full(revisions.size, np.nan)
    if start_revisions.size and revisions.size:
        where = np.searchsorted(revisions, start_revisions).clip(0, revisions.size - 1)
        known = revisions[where] == start_revisions
        a0[where[known]] = start_a[known]
        b0[where[known]] = start_b[known]
    calibration = irt.calibrate(responses, model=model, min_responses=min_responses, start=(a0, b0))
    right = np.bincount(item, weights=score, minlength=revisions.size)
    counts = np.maximum(calibration.responses, 1)
    rows = [
        RevisionFit(
            revision_id=int(revisions[row.item]),
            status=row.status,
            responses=row.responses,
            facility=float(right[row.item] / counts[row.item]),
            a=row.a,
            b=row.b,
            se_a=row.se_a,
            se_b=row.se_b,
            infit=row.infit,
            outfit=row.outfit,
            misfit=row.misfit,
        )
        for row in calibration.rows()
    ]
    return Fit(
        model=model,
        attempts=int(attempts.size),
        responses=int(score.size),
        rows=rows,
        iterations=calibration.iterations,
        converged=calibration.converged,
        seconds=time.perf_counter() - started,
    )
