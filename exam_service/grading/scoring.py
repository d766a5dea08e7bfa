"""Scoring rules, as pure functions over plain data.

Answers and keys here are in the candidate's *display* ids (letters for options and
matching choices, numbers for matching prompts), the ids the attempt showed.

Item rules (points from 0 to 1 per item):
- `single`: 1 when the one chosen option is the key.
- `multiple`, `ordering`, `matching`: all-or-nothing by default, as on the real exam.
  With partial credit: `multiple` scores (right choices - wrong choices) / N, floored
  at 0; `ordering` scores the share of the key's adjacent pairs that the answer also has
  adjacent and in that order; `matching` scores the share of prompts matched correctly.
- `numeric`: 1 within the key's tolerance (both edges included, compared in decimal
  arithmetic), the partial band's credit within its wider band when the blueprint gives
  partial credit, else 0 (`numeric.py` reads the numbers and draws the bands).
- Unanswered (empty) scores 0; there is no penalty for guessing.

Scaled score: piecewise-linear from the raw percent r to the scale, with the raw cut c
mapped to the passing score P: r <= c maps linearly from [0, c] to [min, P], r > c from
(c, 100] to (P, max]. Pass or fail is decided on the whole (compensatory): passed when
r >= c, which is the same as scaled >= P.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from exam_service.grading import numeric

Z95 = 1.959964
MEETS = "meets competencies"
NEEDS = "needs improvement"


def item_points(item_type: str, key: Any, answer: Any, *, partial_credit: bool = False) -> float:
    """The points (0..1) an answer earns against a key; see the module docstring."""
    if item_type == "numeric":  # before the emptiness test: 0 is an answer
        return numeric.points(key, answer, partial_credit=partial_credit)
    if not answer:
        return 0.0
    if item_type == "single":
        return 1.0 if list(answer) == list(key) else 0.0
    if item_type == "multiple":
        chosen, keys = set(answer), set(key)
        if not partial_credit:
            return 1.0 if chosen == keys else 0.0
        return max(0.0, (len(chosen & keys) - len(chosen - keys)) / len(keys))
    if item_type == "ordering":
        if not partial_credit:
            return 1.0 if list(answer) == list(key) else 0.0
        pairs = list(zip(key, key[1:], strict=False))
        given = set(zip(answer, answer[1:], strict=False))
        return sum(1 for pair in pairs if pair in given) / len(pairs) if pairs else 0.0
    if item_type == "matching":
        right = sum(1 for prompt, choice in key.items() if answer.get(prompt) == choice)
        if not partial_credit:
            return 1.0 if right == len(key) else 0.0
        return right / len(key) if key else 0.0
    raise ValueError(f"unknown question type {item_type!r}")


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion, in percent:
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), with p = successes / n."""
    if n <= 0:
        return 0.0, 100.0
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    low = max(0.0, (centre - margin) / denominator)
    high = min(1.0, (centre + margin) / denominator)
    return round(100 * low, 1), round(100 * high, 1)


ScalePoint = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
"""A score on a scale: bounded so that it fits the database's integer columns."""


class Scale(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Scaled scores run from `min` to `max`; the raw percent `raw_cut` maps to `pass`.

    The one scale type: blueprint files, the API and grading all use it (`pass` on the
    wire, `pass_` in Python, the column `scale_pass` in the blueprints table)."""

    min: ScalePoint
    max: ScalePoint
    pass_: ScalePoint = msgspec.field(name="pass")
    raw_cut: Annotated[float, msgspec.Meta(gt=0, lt=100)] = 70.0
    """The raw percent that maps to the passing score."""


def scaled_score(raw_percent: float, scale: Scale) -> int:
    """The piecewise-linear map of the module docstring, rounded to a whole number."""
    r, c = raw_percent, scale.raw_cut
    if r <= c:
        value = scale.min + (scale.pass_ - scale.min) * (r / c if c > 0 else 1.0)
    else:
        value = scale.pass_ + (scale.max - scale.pass_) * (r - c) / (100 - c)
    return round(value)


@dataclass(frozen=True)
class ScoredItem:
    scored: bool
    points: float
    objectives: tuple[str, ...]
    """The objective codes the question is tagged with (any level)."""


@dataclass(frozen=True)
class Node:
    code: str
    title: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class NodeScore:
    code: str
    title: str
    level: str
    points: float
    possible: int
    percent: float
    ci_low: float
    ci_high: float
    label: str


@dataclass(frozen=True)
class Grade:
    raw_score: float
    raw_possible: int
    raw_percent: float
    scaled_score: int
    passed: bool
    objectives: list[NodeScore]


def _lineage(code: str, tree: Mapping[str, Node]) -> list[str]:
    chain: list[str] = []
    node: str | None = code
    while node is not None and node in tree:
        chain.append(node)
        node = tree[node].parent
    return chain


def rollup(items: Iterable[ScoredItem], tree: Sequence[Node], raw_cut: float) -> list[NodeScore]:
    """Scores for every objective node the scored items touch (each item counts once per
    node, through any of its objectives and their ancestors), in tree order."""
    by_code = {node.code: node for node in tree}
    points: dict[str, float] = {}
    possible: dict[str, int] = {}
    for item in items:
        if not item.scored:
            continue
        touched = {code for objective in item.objectives for code in _lineage(objective, by_code)}
        for code in touched:
            points[code] = points.get(code, 0.0) + item.points
            possible[code] = possible.get(code, 0) + 1
    scores = []
    for node in tree:
        if node.code not in possible:
            continue
        n = possible[node.code]
        percent = round(100 * points[node.code] / n, 1)
        low, high = wilson_interval(points[node.code], n)
        scores.append(
            NodeScore(
                code=node.code,
                title=node.title,
                level=node.level,
                points=round(points[node.code], 3),
                possible=n,
                percent=percent,
                ci_low=low,
                ci_high=high,
                label=MEETS if percent >= raw_cut else NEEDS,
            )
        )
    return scores


def grade(items: Sequence[ScoredItem], tree: Sequence[Node], scale: Scale) -> Grade:
    """Raw and scaled score over the scored items, and the per-node breakdown."""
    scored = [item for item in items if item.scored]
    raw = sum(item.points for item in scored)
    possible = len(scored)
    exact = 100 * raw / possible if possible else 0.0
    return Grade(
        raw_score=round(raw, 3),
        raw_possible=possible,
        raw_percent=round(exact, 1),
        scaled_score=scaled_score(exact, scale),
        passed=exact >= scale.raw_cut,
        objectives=rollup(items, tree, scale.raw_cut),
    )
