"""The calibration job (exam_service/calibration/fit.py): database ids in, one row per
revision out, started from the last run's parameters."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from exam_service.calibration.fit import fit_responses
from exam_service.grading import irt


def simulated(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """800 attempts (ids from 5,000, in steps of 3) of 20 of 30 revisions (ids 900, 910,
    ...): attempt ids, revision ids, points, and the true b per revision."""
    rng = np.random.default_rng(seed)
    a, b = irt.draw_items(30, rng)
    person, item = irt.draw_forms(800, 30, 20, rng)
    theta = rng.standard_normal(800)
    points = irt.draw_scores(theta[person], a[item], b[item], rng).astype(np.float32)
    revisions = 900 + 10 * np.arange(30)
    return 5000 + 3 * person, revisions[item], points, revisions, b


def test_rows_come_back_under_the_revision_ids_with_their_facility() -> None:
    attempts, revisions, points, ids, true_b = simulated(3)
    nothing = np.empty(0)
    fit = fit_responses(
        attempts, revisions, points, "2pl", nothing.astype(np.int64), nothing, nothing
    )

    assert (fit.attempts, fit.responses, fit.estimated) == (800, 16_000, 30)
    assert [row.revision_id for row in fit.rows] == ids.tolist()
    by_id = {row.revision_id: row for row in fit.rows}
    assert np.corrcoef([by_id[r].b for r in ids], true_b)[0, 1] > 0.95
    share = points[revisions == 910].mean()
    assert by_id[910].facility == pytest.approx(float(share), abs=1e-6)
    assert pickle.loads(pickle.dumps(fit)) == fit  # it crosses the process boundary


def test_a_rerun_starts_from_the_stored_parameters() -> None:
    attempts, revisions, points, _, _ = simulated(4)
    empty = np.empty(0)
    cold = fit_responses(attempts, revisions, points, "2pl", empty.astype(np.int64), empty, empty)
    # the stored parameters of every revision, and of one no longer answered (id 5)
    start_ids = np.array([r.revision_id for r in cold.rows] + [5], dtype=np.int64)
    start_a = np.array([r.a for r in cold.rows] + [1.0])
    start_b = np.array([r.b for r in cold.rows] + [0.0])
    warm = fit_responses(attempts, revisions, points, "2pl", start_ids, start_a, start_b)
    # one revision without stored parameters starts from its facility
    partial = fit_responses(
        attempts, revisions, points, "2pl", start_ids[1:], start_a[1:], start_b[1:]
    )

    assert cold.iterations > 10 and warm.iterations <= 2
    assert partial.converged
    for before, after in zip(cold.rows, partial.rows, strict=True):
        assert abs((before.b or 0) - (after.b or 0)) < 0.01
