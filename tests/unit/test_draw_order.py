"""The lazy draw order: an exam drawn from its front is the exam the whole order gives, and
a big pool is not walked on every start."""

from __future__ import annotations

import random

from hypothesis import given

from exam_service.exams import assembly, draw_order
from exam_service.exams.assembly import ExamSpec, assemble
from tests.unit.test_assembly import Scenario, fast, question, scenarios


def drawn_from(s: Scenario, order: list[int]) -> dict[int, str]:
    """What assembly's `_draw` takes from the pool in this draw order."""
    wanted = assembly.targets(s.spec)
    pool_index = assembly._index(wanted, s.pool, s.parents)
    rank = {index: place for place, index in enumerate(order)}
    eligible: dict[str, list[int]] = {code: [] for code in wanted}
    for index in order:
        target = pool_index.target_of[index]
        if target is not None:
            eligible[target].append(index)
    return assembly._draw(s.spec, wanted, eligible, s.pool, rank, s.recently_seen)


@fast
@given(scenarios(max_pool=40))
def test_the_front_of_the_order_draws_what_the_whole_order_would(s: Scenario) -> None:
    wanted = assembly.targets(s.spec)
    pool_index = assembly._index(wanted, s.pool, s.parents)
    front = draw_order.prefix(pool_index, wanted, s.recently_seen, random.Random(s.seed))
    # any completion of the front to a whole order: the rest of the units in some order
    taken = set(front)
    rest = [unit for unit in pool_index.units if unit[0] not in taken]
    random.Random(s.seed + 1).shuffle(rest)
    whole = front + [index for unit in rest for index in unit]

    assert sorted(whole) == list(range(len(s.pool)))
    assert drawn_from(s, front) == drawn_from(s, whole)


def test_a_big_pool_is_indexed_once_and_only_its_front_is_shuffled() -> None:
    parents: dict[str, str | None] = {"EX": None, "D1": "EX", "D2": "EX"}
    levels = ("easy", "medium", "hard")
    pool = tuple(
        question(f"q{n:05d}", f"D{n % 2 + 1}", levels[n % 3], f"case{n}" if n % 50 == 0 else None)
        for n in range(20_000)
    )
    spec = ExamSpec(10, objective_counts={"D1": 5, "D2": 5}, difficulty_mix={"easy": 1})
    wanted = assembly.targets(spec)

    first = assembly._index(wanted, pool, parents)
    assert assembly._index(wanted, pool, parents) is first  # kept for the same pool
    assert assembly._index(wanted, list(pool), parents) is not first  # lists are not kept
    front = draw_order.prefix(first, wanted, frozenset(), random.Random(3))
    assert len(front) < 500

    exams = [assemble(spec, pool, parents, seed) for seed in range(40)]
    assert all(len(exam) == 10 for exam in exams)
    level = {q.question_id: q.difficulty for q in pool}
    assert all(level[item.question_id] == "easy" for exam in exams for item in exam)
    assert len({item.question_id for exam in exams for item in exam}) > 300
    assert assemble(spec, pool, parents, 7) == assemble(spec, pool, parents, 7)
