"""The statistics helpers against NumPy and SciPy on random data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from exam_service.reports import analysis


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_variance_mean_interval_and_correlation_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=200).astype(float)
    y = rng.normal(30, 5, size=200) + 4 * x
    n = len(x)
    assert analysis.variance(n, x.sum(), (x * x).sum()) == pytest.approx(np.var(x, ddof=1))
    mean, low, high = analysis.mean_interval(n, y.sum(), (y * y).sum())
    half = analysis.Z95 * np.std(y, ddof=1) / np.sqrt(n)
    assert (mean, low, high) == pytest.approx((y.mean(), y.mean() - half, y.mean() + half))
    r = analysis.correlation(n, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
    assert r == pytest.approx(stats.pointbiserialr(x, y).statistic)


def test_correlation_is_none_without_variation() -> None:
    assert analysis.correlation(5, 5, 10, 5, 30, 10) is None


@pytest.mark.parametrize("partial", [False, True])
def test_reliability_on_a_fixed_form_is_the_classical_value(partial: bool) -> None:
    rng = np.random.default_rng(7)
    ability = rng.normal(0, 1, size=(300, 1))
    difficulty = rng.normal(0, 1, size=(1, 12))
    p = 1 / (1 + np.exp(-(ability - difficulty)))
    scores = (rng.random((300, 12)) < p).astype(float)
    if partial:
        scores = np.round(scores * rng.choice([0.5, 1.0], size=scores.shape) * 2) / 2
    k = scores.shape[1]
    totals = scores.sum(axis=1)
    alpha = k / (k - 1) * (1 - scores.var(axis=0, ddof=1).sum() / totals.var(ddof=1))
    items = [
        analysis.ItemSums(len(column), column.sum(), (column * column).sum()) for column in scores.T
    ]
    ours = analysis.reliability(items, k, totals.var(ddof=1))
    assert ours == pytest.approx(alpha)
    assert analysis.sem(totals.std(ddof=1), ours) == pytest.approx(
        totals.std(ddof=1) * np.sqrt(1 - alpha)
    )


def test_flags() -> None:
    assert analysis.item_flags(0.97, 0.3, 50, []) == ["too easy"]
    assert analysis.item_flags(0.1, -0.2, 50, ["Option X"]) == [
        "too hard",
        "negative discrimination",
        "distractor nobody chooses: Option X",
    ]
    assert analysis.item_flags(0.5, 0.05, 5, ["Option X"]) == ["low discrimination"]


def test_group_size_is_27_percent() -> None:
    assert [analysis.group_size(n) for n in (1, 2, 5, 10, 100, 370)] == [0, 1, 1, 3, 27, 100]
