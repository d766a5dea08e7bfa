"""Statistics from the sums the database returns. Pure; every formula is cited here.

The SQL side sends counts and sums (n, Σx, Σx², Σxy ...) so no per-attempt rows reach
Python; these functions turn them into the figures of classical test theory.

- Sample variance from sums: s² = (Σx² - (Σx)²/n) / (n - 1).
- Mean with a 95% interval: x̄ ± 1.96·s/√n (normal approximation).
- Pearson correlation from sums:
  r = (nΣxy - ΣxΣy) / √((nΣx² - (Σx)²)(nΣy² - (Σy)²)).
  The corrected point-biserial of an item is r between the item score x and the rest
  score y = total - x, over the attempts that had the item.
- Upper-lower index: D = p(upper) - p(lower), with groups of the top and bottom 27% of
  attempts by raw score (Kelley's 27%).
- Reliability: Cronbach's alpha = k/(k-1) · (1 - Σσ²ᵢ/σ²ₓ); for 0/1 items σ²ᵢ = pᵢqᵢ and
  this is KR-20. Attempts drawn from a pool do not share one fixed form, so Σσ²ᵢ over an
  attempt's k items is estimated as k times the exposure-weighted mean item variance;
  on a fixed form this is exactly the classical value.
- Standard error of measurement: SEM = σₓ·√(1 - reliability).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from exam_service.grading.scoring import Z95

GROUP_PERCENT = 27
GROUP_SHARE = GROUP_PERCENT / 100
TOO_EASY = 0.95
TOO_HARD = 0.20
LOW_DISCRIMINATION = 0.10
DISTRACTOR_MIN_RESPONSES = 10
"""Below this many responses an unchosen distractor says nothing; it is not flagged."""


def variance(n: int, total: float, squares: float) -> float | None:
    if n < 2:
        return None
    return max(0.0, (squares - total * total / n) / (n - 1))


def sd(n: int, total: float, squares: float) -> float | None:
    var = variance(n, total, squares)
    return None if var is None else math.sqrt(var)


def mean_interval(n: int, total: float, squares: float) -> tuple[float, float, float]:
    """Mean and its 95% interval (normal approximation); the interval is the mean itself
    when there is one observation."""
    mean = total / n
    spread = sd(n, total, squares)
    if spread is None:
        return mean, mean, mean
    half = Z95 * spread / math.sqrt(n)
    return mean, mean - half, mean + half


def correlation(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    """Pearson's r from sums; None when either variable does not vary."""
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    if n < 2 or vx <= 1e-12 or vy <= 1e-12:
        return None
    return (n * sxy - sx * sy) / math.sqrt(vx * vy)


def group_size(attempts: int) -> int:
    """How many attempts form each of the upper and lower groups: 27% rounded half up, in
    integers so that SQL (`reports.service`) computes exactly the same; at least one from
    two attempts on (27% of 2 rounds to 1)."""
    return (GROUP_PERCENT * attempts + 50) // 100


@dataclass(frozen=True)
class ItemSums:
    """Per item: exposures, Σx, Σx² of its points; for the scored exposures the same."""

    n: int
    sx: float
    sxx: float


def reliability(items: Sequence[ItemSums], k: float, total_variance: float | None) -> float | None:
    """Cronbach's alpha (KR-20 for 0/1 items) estimated as in the module docstring."""
    exposures = sum(item.n for item in items)
    if k < 2 or not exposures or not total_variance:
        return None
    weighted = 0.0
    for item in items:
        var = variance(item.n, item.sx, item.sxx)
        if var is not None:
            weighted += var * item.n
    mean_item_variance = weighted / exposures
    return (k / (k - 1)) * (1 - k * mean_item_variance / total_variance)


def sem(total_sd: float | None, rel: float | None) -> float | None:
    if total_sd is None or rel is None:
        return None
    return total_sd * math.sqrt(max(0.0, 1 - rel))


def item_flags(
    facility: float,
    point_biserial: float | None,
    responses: int,
    unchosen: Sequence[str],
) -> list[str]:
    flags = []
    if facility > TOO_EASY:
        flags.append("too easy")
    if facility < TOO_HARD:
        flags.append("too hard")
    if point_biserial is not None:
        if point_biserial < 0:
            flags.append("negative discrimination")
        elif point_biserial < LOW_DISCRIMINATION:
            flags.append("low discrimination")
    if responses >= DISTRACTOR_MIN_RESPONSES:
        flags.extend(f"distractor nobody chooses: {text}" for text in unchosen)
    return flags


def histogram_edges(low: int, high: int, bins: int = 10) -> list[tuple[float, float]]:
    width = (high - low) / bins
    return [(low + i * width, low + (i + 1) * width) for i in range(bins)]
