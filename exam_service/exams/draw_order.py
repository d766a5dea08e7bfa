"""The part of a random draw order that an exam's assembly can look at, without shuffling
the whole pool.

`assembly.assemble` ranks the pool in a random order (a case's questions adjacent) and each
target then takes its questions from the front of that order, difficulty by difficulty. No
target ever takes more than its count of one difficulty, so it only ever looks at the first
`count + seen` questions of each (target, difficulty), where `seen` is how many of them the
candidate saw recently; past those, the order does not change the exam. `prefix` shuffles
the pool's units lazily (Fisher-Yates from the front, swaps kept in a dict) and stops as soon
as every (target, difficulty) has that many, so a start with 100,000 questions costs about as
much as one with 200. A prefix of a Fisher-Yates shuffle is a prefix of a uniformly random
permutation, so the exams drawn are as random as before.

`index` builds what a draw needs from the pool once: the units, and per target code its
members and each member's (target, difficulty) group. It is kept for pools that are tuples
(the per-process pool `exams.pool.question_pool` returns is one), keyed by the pool's
identity and its questions' targets, so that every start after the first skips the pass over
the pool.
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Drawable(Protocol):
    """What the index reads of a pool question (`assembly.PoolQuestion`)."""

    @property
    def question_id(self) -> str: ...

    @property
    def objective(self) -> str: ...

    @property
    def difficulty(self) -> str: ...

    @property
    def case_id(self) -> str | None: ...


@dataclass(frozen=True)
class PoolIndex:
    """A pool as a draw sees it, for one set of targets."""

    units: tuple[tuple[int, ...], ...]
    """Pool indices per unit, units in pool order: a case's questions together, in pool
    order; every other question alone."""
    members: Mapping[str, tuple[int, ...]]
    """Pool indices per target code, in pool order."""
    target_of: tuple[str | None, ...]
    """Per pool index, the target code it counts toward (None: no target)."""
    group_of: tuple[int, ...]
    """Per pool index, its (target, difficulty) group (-1: no target)."""
    groups: tuple[tuple[str, str], ...]
    group_size: tuple[int, ...]
    position: Mapping[str, int]
    """Pool index per question id."""


_KEPT = 8
_INDEXES: OrderedDict[tuple[Any, ...], tuple[Sequence[Any], PoolIndex]] = OrderedDict()


def index(
    pool: Sequence[Drawable],
    wanted: Collection[str],
    target_for: Callable[[str], str | None],
    objectives: Collection[str],
) -> PoolIndex:
    """The pool's index for the target codes `wanted`, a question counting toward
    `target_for(its objective)`. `objectives` are the tree's codes: the index is kept when the
    pool is a tuple, for the same pool object, target codes and targets of these codes.
    Raises ValueError when a question is in the pool twice."""
    mapping = tuple(sorted((code, target_for(code)) for code in objectives))
    key = (id(pool), tuple(sorted(wanted)), mapping)
    if isinstance(pool, tuple):
        kept = _INDEXES.get(key)
        if kept is not None and kept[0] is pool:
            _INDEXES.move_to_end(key)
            return kept[1]
    built = _build(pool, dict(mapping), target_for)
    if isinstance(pool, tuple):
        _INDEXES[key] = (pool, built)  # holding the pool keeps its id from being reused
        while len(_INDEXES) > _KEPT:
            _INDEXES.popitem(last=False)
    return built


def _build(
    pool: Sequence[Drawable],
    targets: Mapping[str, str | None],
    target_for: Callable[[str], str | None],
) -> PoolIndex:
    units: dict[str, list[int]] = {}
    members: dict[str, list[int]] = {}
    group_ids: dict[tuple[str, str], int] = {}
    sizes: list[int] = []
    target_of: list[str | None] = []
    group_of: list[int] = []
    position: dict[str, int] = {}
    for i, question in enumerate(pool):
        if question.question_id in position:
            raise ValueError(
                f"question {question.question_id} is in the pool twice; pass one revision of it"
            )
        position[question.question_id] = i
        key = question.question_id if question.case_id is None else f"case {question.case_id}"
        units.setdefault(key, []).append(i)
        target = (
            targets[question.objective]
            if question.objective in targets
            else target_for(question.objective)
        )
        target_of.append(target)
        if target is None:
            group_of.append(-1)
            continue
        members.setdefault(target, []).append(i)
        group = group_ids.setdefault((target, question.difficulty), len(group_ids))
        if group == len(sizes):
            sizes.append(0)
        sizes[group] += 1
        group_of.append(group)
    return PoolIndex(
        units=tuple(tuple(unit) for unit in units.values()),
        members={code: tuple(found) for code, found in members.items()},
        target_of=tuple(target_of),
        group_of=tuple(group_of),
        groups=tuple(group_ids),
        group_size=tuple(sizes),
        position=position,
    )


def prefix(
    pool_index: PoolIndex,
    wanted: Mapping[str, int],
    recently_seen: frozenset[str],
    rng: random.Random,
) -> list[int]:
    """Pool indices in a random draw order (units kept together), long enough that each
    (target, difficulty) group has its first `wanted[target]` plus its recently seen
    questions in it, or all of its questions."""
    seen_in: Counter[int] = Counter()
    for question_id in recently_seen:
        at = pool_index.position.get(question_id)
        if at is not None and pool_index.group_of[at] >= 0:
            seen_in[pool_index.group_of[at]] += 1
    deficit = [
        min(size, wanted.get(target, 0) + seen_in[group])
        for group, ((target, _level), size) in enumerate(
            zip(pool_index.groups, pool_index.group_size, strict=True)
        )
    ]
    still_short = sum(1 for d in deficit if d > 0)
    units, group_of = pool_index.units, pool_index.group_of
    swapped: dict[int, int] = {}
    order: list[int] = []
    count = len(units)
    step = 0
    while still_short and step < count:
        pick = rng.randrange(step, count)
        chosen = swapped.get(pick, pick)
        swapped[pick] = swapped.get(step, step)
        for i in units[chosen]:
            order.append(i)
            group = group_of[i]
            if group >= 0 and deficit[group] > 0:
                deficit[group] -= 1
                if deficit[group] == 0:
                    still_short -= 1
        step += 1
    return order
