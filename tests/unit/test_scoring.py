"""Grading rules: items, intervals, the scaled-score map and the per-objective rollup."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_service.grading.scoring import (
    MEETS,
    NEEDS,
    Node,
    Scale,
    ScoredItem,
    grade,
    item_points,
    rollup,
    scaled_score,
    wilson_interval,
)

AWS = Scale(min=100, max=1000, pass_=720, raw_cut=70)


@pytest.mark.parametrize(
    ("item_type", "key", "answer", "partial", "points"),
    [
        ("single", ["B"], ["B"], False, 1.0),
        ("single", ["B"], ["A"], False, 0.0),
        ("single", ["B"], None, False, 0.0),
        ("multiple", ["A", "C"], ["A", "C"], False, 1.0),
        ("multiple", ["A", "C"], ["A"], False, 0.0),
        ("multiple", ["A", "C"], ["A"], True, 0.5),
        ("multiple", ["A", "C"], ["A", "B"], True, 0.0),  # one right, one wrong
        ("multiple", ["A", "C", "E"], ["A", "C", "B"], True, 1 / 3),
        ("ordering", ["C", "A", "D", "B"], ["C", "A", "D", "B"], False, 1.0),
        ("ordering", ["C", "A", "D", "B"], ["A", "C", "D", "B"], False, 0.0),
        # key pairs CA, AD, DB; the answer keeps DB only
        ("ordering", ["C", "A", "D", "B"], ["A", "C", "D", "B"], True, 1 / 3),
        ("ordering", ["C", "A", "D", "B"], ["B", "C", "A", "D"], True, 2 / 3),
        ("matching", {"1": "B", "2": "A", "3": "C"}, {"1": "B", "2": "A", "3": "C"}, False, 1.0),
        ("matching", {"1": "B", "2": "A", "3": "C"}, {"1": "B", "2": "A"}, False, 0.0),
        ("matching", {"1": "B", "2": "A", "3": "C"}, {"1": "B", "2": "C", "3": "C"}, True, 2 / 3),
    ],
)
def test_item_rules(
    item_type: str, key: object, answer: object, partial: bool, points: float
) -> None:
    assert item_points(item_type, key, answer, partial_credit=partial) == pytest.approx(points)


def test_wilson_interval_known_values() -> None:
    # 8 of 10: the textbook Wilson 95% interval is 0.490 to 0.943
    assert wilson_interval(8, 10) == (49.0, 94.3)
    assert wilson_interval(0, 5) == (0.0, 43.4)
    assert wilson_interval(5, 5) == (56.6, 100.0)


@given(st.integers(min_value=1, max_value=200), st.data())
@settings(max_examples=80, deadline=None)
def test_wilson_interval_contains_the_estimate(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(k, n)
    assert 0 <= low <= round(100 * k / n, 1) + 0.1 and round(100 * k / n, 1) - 0.1 <= high <= 100


def test_scaled_score_map() -> None:
    assert scaled_score(0, AWS) == 100
    assert scaled_score(70, AWS) == 720
    assert scaled_score(100, AWS) == 1000
    assert scaled_score(35, AWS) == 410  # halfway to the cut: halfway from 100 to 720
    assert scaled_score(85, AWS) == 860  # halfway from the cut to 100: halfway 720 to 1000


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
@settings(max_examples=100, deadline=None)
def test_scaled_score_is_monotone_and_cut_decides(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert scaled_score(low, AWS) <= scaled_score(high, AWS)
    assert (scaled_score(high, AWS) >= 720) == (high >= 70) or abs(high - 70) < 0.1


TREE = [
    Node("EX", "Exam", "exam", None),
    Node("D1", "Domain one", "domain", "EX"),
    Node("D1.1", "Task", "task", "D1"),
    Node("D1.1.1", "Leaf a", "objective", "D1.1"),
    Node("D1.1.2", "Leaf b", "objective", "D1.1"),
    Node("D2", "Domain two", "domain", "EX"),
]


def test_rollup_counts_each_item_once_per_node_and_skips_unscored() -> None:
    items = [
        ScoredItem(True, 1.0, ("D1.1.1",)),
        ScoredItem(True, 0.0, ("D1.1.1", "D1.1.2")),  # counts once for D1.1 and D1
        ScoredItem(True, 1.0, ("D1.1.2",)),
        ScoredItem(False, 1.0, ("D1.1.2",)),  # unscored: nowhere
    ]
    nodes = {n.code: n for n in rollup(items, TREE, raw_cut=70)}
    assert set(nodes) == {"EX", "D1", "D1.1", "D1.1.1", "D1.1.2"}  # D2 untouched
    assert (nodes["D1.1"].points, nodes["D1.1"].possible) == (2.0, 3)
    assert (nodes["D1.1.1"].points, nodes["D1.1.1"].possible) == (1.0, 2)
    assert (nodes["D1.1.2"].points, nodes["D1.1.2"].possible) == (1.0, 2)
    assert nodes["D1.1"].percent == 66.7 and nodes["D1.1"].label == NEEDS
    assert [n.code for n in rollup(items, TREE, 70)] == ["EX", "D1", "D1.1", "D1.1.1", "D1.1.2"]


def test_grade_is_compensatory() -> None:
    items = [ScoredItem(True, 1.0, ("D1.1.1",))] * 8 + [ScoredItem(True, 0.0, ("D1.1.2",))] * 2
    result = grade(items + [ScoredItem(False, 0.0, ("D1.1.2",))], TREE, AWS)
    assert (result.raw_score, result.raw_possible, result.raw_percent) == (8.0, 10, 80.0)
    assert result.scaled_score == 813 and result.passed
    leaves = {n.code: n for n in result.objectives}
    assert leaves["D1.1.2"].label == NEEDS and leaves["D1.1.1"].label == MEETS
