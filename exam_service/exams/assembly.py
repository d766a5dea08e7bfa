"""Exam assembly: draw one seeded, reproducible exam from the question pool to fit a blueprint.

Pure functions over plain data. `targets` turns a blueprint (`ExamSpec`) into question counts
per objective code, `shortfalls` says which of them the pool cannot fill, and `assemble` draws
the questions, picks the unscored ones, orders the exam and shuffles the options. Services fetch
the pool and store the result; nothing here touches the database or HTTP.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from exam_service.bank import templates
from exam_service.exams import draw_order

# The target code used when the blueprint sets no objective shares: the whole pool is one target.
WHOLE_POOL = "*"


@dataclass(frozen=True)
class PoolQuestion:
    """One question the exam may draw, in its current revision."""

    question_id: str
    revision_id: int
    objective: str
    difficulty: str
    case_id: str | None
    type: str
    # single/multiple/ordering: bank option ids in file order; for ordering that is the answer.
    option_ids: tuple[str, ...] = ()
    prompt_ids: tuple[str, ...] = ()
    choice_ids: tuple[str, ...] = ()
    template: templates.Drawable | None = None
    """A question template's variables and expressions: each item draws its own values."""


@dataclass(frozen=True)
class ExamSpec:
    """What an exam must contain; objective counts win over objective weights."""

    question_count: int
    unscored_count: int = 0
    objective_weights: Mapping[str, float] | None = None
    objective_counts: Mapping[str, int] | None = None
    difficulty_mix: Mapping[str, float] | None = None
    shuffle_options: bool = True


@dataclass(frozen=True)
class DrawnItem:
    """One question of an assembled exam, at its 1-based position, with its display orders."""

    position: int
    question_id: str
    revision_id: int
    objective: str
    scored: bool
    option_order: tuple[str, ...]
    prompt_order: tuple[str, ...]
    choice_order: tuple[str, ...]
    drawn: Mapping[str, Any] | None = None
    """A template's instance (`templates.draw`: seed, values, numeric key and mistakes)."""


class ShortOfQuestions(Exception):
    """The pool has fewer questions than the blueprint asks for under some target codes.

    `shortfalls` maps each such code to (needed, available).
    """

    def __init__(self, shortfalls: Mapping[str, tuple[int, int]]) -> None:
        self.shortfalls = dict(shortfalls)
        super().__init__(self.shortfalls)

    def __str__(self) -> str:
        parts: list[str] = []
        for code, (needed, available) in self.shortfalls.items():
            # Only the first clause names the unit, as a person would write the list.
            noun = "" if parts else f" {'question' if needed == 1 else 'questions'}"
            if code == WHOLE_POOL:
                subject, source = "the exam", "the bank has"
            else:
                subject, source = code, "has"
            parts.append(
                f"{subject} needs {needed}{noun} but {source} {available} "
                f"({needed - available} short)"
            )
        if WHOLE_POOL in self.shortfalls:
            advice = "Write more questions or lower the question count."
        elif len(self.shortfalls) == 1:
            advice = "Write more questions for this objective or lower its share."
        else:
            advice = "Write more questions for these objectives or lower their share."
        return f"the bank cannot fill this blueprint: {'; '.join(parts)}. {advice}"


def apportion(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Share `total` seats out over `weights` by largest remainder (Hamilton's method).

    Each code first gets the floor of its exact quota `total * weight / sum(weights)`; the seats
    still left go one each to the codes with the largest remainders, ties to the code that sorts
    first. So every share is the floor or the ceiling of its quota and the shares sum to `total`.
    """
    if total < 0:
        raise ValueError(f"cannot share out {total} questions; the total must be 0 or more")
    if not weights:
        raise ValueError("cannot share out questions over no weights; give at least one share")
    bad = [code for code, weight in weights.items() if not (math.isfinite(weight) and weight > 0)]
    if bad:
        listed = ", ".join(f"{code} ({weights[code]})" for code in sorted(bad))
        raise ValueError(f"every weight must be a positive number; change {listed}")
    # Exact fractions: a quota that is a whole number in exact arithmetic must not fall a hair
    # short of it in floats and lose its seat to a tie-break.
    exact = {code: Fraction(weight) for code, weight in weights.items()}
    whole = sum(exact.values(), Fraction(0))
    quotas = {code: total * weight / whole for code, weight in exact.items()}
    shares = {code: math.floor(quota) for code, quota in quotas.items()}
    left = total - sum(shares.values())
    for code in sorted(quotas, key=lambda code: (shares[code] - quotas[code], code))[:left]:
        shares[code] += 1
    return shares


def targets(spec: ExamSpec) -> dict[str, int]:
    """How many questions to draw per target objective code.

    `objective_counts` as given; else `objective_weights` apportioned over the question count;
    else one target, `"*"`, that every question of the pool counts toward.
    """
    if spec.question_count < 0:
        raise ValueError(f"an exam cannot have {spec.question_count} questions; use 0 or more")
    if spec.objective_counts is not None:
        negative = sorted(code for code, count in spec.objective_counts.items() if count < 0)
        if negative:
            raise ValueError(f"objective counts cannot be negative; fix {', '.join(negative)}")
        total = sum(spec.objective_counts.values())
        if total != spec.question_count:
            raise ValueError(
                f"the objective counts add up to {total} but the exam has "
                f"{spec.question_count} questions; make them agree"
            )
        return dict(spec.objective_counts)
    if spec.objective_weights is not None:
        return apportion(spec.question_count, spec.objective_weights)
    return {WHOLE_POOL: spec.question_count}


def shortfalls(
    spec: ExamSpec, pool: Sequence[PoolQuestion], parents: Mapping[str, str | None]
) -> dict[str, tuple[int, int]]:
    """(needed, available) for every target code whose share of the pool is below its count.

    A question counts toward the target whose subtree holds its primary objective. Raises
    ValueError when one target code lies under another, since a question could then count twice.
    """
    wanted = targets(spec)
    eligible = _eligible(wanted, pool, parents)
    return _shortfalls(wanted, eligible)


def target_members(
    spec: ExamSpec, pool: Sequence[PoolQuestion], parents: Mapping[str, str | None]
) -> dict[str, list[int]]:
    """Pool indices per target code (`targets(spec)`): the questions each target draws
    from, in pool order. A question whose primary objective is under no target is in none."""
    return _eligible(targets(spec), pool, parents)


def assemble(
    spec: ExamSpec,
    pool: Sequence[PoolQuestion],
    parents: Mapping[str, str | None],
    seed: int,
    recently_seen: frozenset[str] = frozenset(),
) -> list[DrawnItem]:
    """Draw one exam; the same arguments always give the same exam.

    The draw honours, in this order of priority:

    1. exactly `targets(spec)[code]` distinct questions per target code (else ShortOfQuestions);
    2. no question in `recently_seen` unless its target has too few others;
    3. the difficulty quotas `apportion(question_count, difficulty_mix)`: met exactly whenever
       the pool allows, otherwise missed by as few questions as the first two rules permit;
    4. chance, with the questions of a case sharing one place in the draw order so that a case
       tends to be drawn together.

    The drawn questions of a case appear together, in pool order, where the first of them lands
    in the shuffled exam order. Each item's `objective` is the target code it was drawn for
    (`"*"` when the blueprint sets no objective shares).
    """
    wanted = targets(spec)
    if not 0 <= spec.unscored_count <= spec.question_count:
        raise ValueError(
            f"an exam of {spec.question_count} questions cannot have {spec.unscored_count} "
            f"unscored ones; use 0 to {spec.question_count}"
        )
    pool_index = _index(wanted, pool, parents)
    short = _shortfalls(wanted, {code: pool_index.members.get(code, ()) for code in wanted})
    if short:
        raise ShortOfQuestions(short)

    rng = random.Random(seed)
    # Only the front of the draw order can change the exam (see draw_order.py)
    order = draw_order.prefix(pool_index, wanted, recently_seen, rng)
    rank = {index: place for place, index in enumerate(order)}
    eligible: dict[str, list[int]] = {code: [] for code in wanted}
    for index in order:
        target = pool_index.target_of[index]
        if target is not None:
            eligible[target].append(index)
    drawn_for = _draw(spec, wanted, eligible, pool, rank, recently_seen)
    drawn = sorted(drawn_for, key=rank.__getitem__)

    unscored = set(rng.sample(drawn, spec.unscored_count))
    rng.shuffle(drawn)
    exam: list[DrawnItem] = []
    for index in _keep_cases_together(drawn, pool):
        question = pool[index]
        options, prompts, choices = _display_orders(question, spec.shuffle_options, rng)
        exam.append(
            DrawnItem(
                position=len(exam) + 1,
                question_id=question.question_id,
                revision_id=question.revision_id,
                objective=drawn_for[index],
                scored=index not in unscored,
                option_order=options,
                prompt_order=prompts,
                choice_order=choices,
                drawn=_instance(question, templates.item_seed(seed, len(exam) + 1)),
            )
        )
    return exam


def _instance(question: PoolQuestion, seed: int) -> dict[str, Any] | None:
    """A template question's values drawn from `seed` (TemplateError when they cannot be)."""
    return None if question.template is None else question.template.draw(seed)


def _lineage(code: str, parents: Mapping[str, str | None]) -> list[str]:
    """`code`, then its parent, and so on up to the root."""
    line = [code]
    parent = parents.get(code)
    while parent is not None:
        if parent in line:
            raise ValueError(f"the objective tree loops back to {parent}; fix its parent codes")
        line.append(parent)
        parent = parents.get(parent)
    return line


def prepare(
    spec: ExamSpec, pool: Sequence[PoolQuestion], parents: Mapping[str, str | None]
) -> None:
    """Index the pool for this blueprint ahead of its first draw (`draw_order.index` keeps
    the index for a tuple pool); ValueError as `assemble` for targets that overlap."""
    _index(targets(spec), pool, parents)


def _index(
    wanted: Mapping[str, int], pool: Sequence[PoolQuestion], parents: Mapping[str, str | None]
) -> draw_order.PoolIndex:
    """The pool's draw index for these targets (kept per pool: `draw_order.index`); rejects
    overlapping targets and a question that is in the pool twice."""
    _refuse_overlaps(wanted, parents)

    def target_for(objective: str) -> str | None:
        return next(
            (code for code in _lineage(objective, parents) if code in wanted),
            WHOLE_POOL if WHOLE_POOL in wanted else None,
        )

    return draw_order.index(pool, wanted, target_for, parents.keys())


def _refuse_overlaps(wanted: Mapping[str, int], parents: Mapping[str, str | None]) -> None:
    clashes = [
        f"{ancestor} contains {code}"
        for code in wanted
        if code != WHOLE_POOL
        for ancestor in [*_lineage(code, parents)[1:], WHOLE_POOL]
        if ancestor in wanted
    ]
    if clashes:
        raise ValueError(
            f"targets must not overlap: {'; '.join(clashes)}. Keep one code of each pair, "
            "since a question can count toward only one target"
        )


def _eligible(
    wanted: Mapping[str, int], pool: Sequence[PoolQuestion], parents: Mapping[str, str | None]
) -> dict[str, list[int]]:
    """Pool indices per target code, in pool order; rejects overlapping targets and a question
    that is in the pool twice."""
    _refuse_overlaps(wanted, parents)
    seen_ids: set[str] = set()
    target_of: dict[str, str | None] = {}
    eligible: dict[str, list[int]] = {code: [] for code in wanted}
    for index, question in enumerate(pool):
        if question.question_id in seen_ids:
            raise ValueError(
                f"question {question.question_id} is in the pool twice; pass one revision of it"
            )
        seen_ids.add(question.question_id)
        if question.objective not in target_of:
            target_of[question.objective] = next(
                (code for code in _lineage(question.objective, parents) if code in wanted),
                WHOLE_POOL if WHOLE_POOL in wanted else None,
            )
        target = target_of[question.objective]
        if target is not None:
            eligible[target].append(index)
    return eligible


def _shortfalls(
    wanted: Mapping[str, int], eligible: Mapping[str, Sequence[int]]
) -> dict[str, tuple[int, int]]:
    return {
        code: (count, len(eligible[code]))
        for code, count in wanted.items()
        if len(eligible[code]) < count
    }


def _draw(
    spec: ExamSpec,
    wanted: Mapping[str, int],
    eligible: Mapping[str, list[int]],
    pool: Sequence[PoolQuestion],
    rank: Mapping[int, int],
    recently_seen: frozenset[str],
) -> dict[int, str]:
    """The drawn pool indices, each with the target code it was drawn for."""
    drawn: dict[int, str] = {}
    # Each target draws `need[code]` questions from `free[code]`, in draw order unless the
    # difficulty quotas say otherwise. When its unseen questions cannot fill it, all of them
    # are drawn outright and the rest come from the seen ones.
    free: dict[str, list[int]] = {}
    need: dict[str, int] = {}
    for code, count in wanted.items():
        members = sorted(eligible[code], key=rank.__getitem__)
        fresh = [i for i in members if pool[i].question_id not in recently_seen]
        if len(fresh) >= count:
            free[code], need[code] = fresh, count
        else:
            drawn.update(dict.fromkeys(fresh, code))
            free[code] = [i for i in members if pool[i].question_id in recently_seen]
            need[code] = count - len(fresh)

    if spec.difficulty_mix is None:
        for code, members in free.items():
            drawn.update(dict.fromkeys(members[: need[code]], code))
        return drawn

    quota = apportion(spec.question_count, spec.difficulty_mix)
    already = Counter(pool[i].difficulty for i in drawn)
    room = {level: max(0, share - already[level]) for level, share in quota.items()}
    owner = {i: code for code, members in free.items() for i in members}
    offers = [(owner[i], pool[i].difficulty) for i in sorted(owner, key=rank.__getitem__)]
    counts = _fit_difficulties(need, offers, room)
    for code, members in free.items():
        left = counts[code]
        picked = []
        for i in members:
            if left[pool[i].difficulty] > 0:
                left[pool[i].difficulty] -= 1
                picked.append(i)
        # What the quotas could not place is filled in draw order, whatever the difficulty.
        spare = need[code] - len(picked)
        if spare:
            chosen = set(picked)
            picked += [i for i in members if i not in chosen][:spare]
        drawn.update(dict.fromkeys(picked, code))
    return drawn


def _fit_difficulties(
    need: Mapping[str, int], offers: Sequence[tuple[str, str]], room: Mapping[str, int]
) -> dict[str, Counter[str]]:
    """How many questions of each difficulty each target draws inside the difficulty quotas.

    `offers` lists the drawable questions as (target, difficulty) in draw order. This is a
    maximum flow from targets (capacity `need`) through their available questions to the
    difficulties (capacity `room`, what the quotas still allow): the most questions that can
    land inside their quota, hence the least total distance from the quotas. It starts from a
    greedy pass in draw order, so the split between targets stays random, then adds augmenting
    paths (Ford-Fulkerson, breadth first) until there are none.
    """
    available = {code: Counter[str]() for code in need}
    counts = {code: Counter[str]() for code in need}
    taken: Counter[str] = Counter()
    load: Counter[str] = Counter()
    for code, level in offers:
        available[code][level] += 1
        if taken[code] < need[code] and load[level] < room.get(level, 0):
            counts[code][level] += 1
            taken[code] += 1
            load[level] += 1
    levels = sorted(room)
    while True:
        # Search from targets still short: target -> difficulty where it has an undrawn question
        # -> another target already drawing that difficulty, which could switch to another one.
        came_from: dict[str, tuple[str, str] | None] = {
            code: None for code in need if taken[code] < need[code]
        }
        queue = deque(came_from)
        end: tuple[str, str] | None = None
        while queue and end is None:
            code = queue.popleft()
            for level in levels:
                if counts[code][level] >= available[code][level]:
                    continue
                if load[level] < room[level]:
                    end = (code, level)
                    break
                for other in need:
                    if other not in came_from and counts[other][level] > 0:
                        came_from[other] = (code, level)
                        queue.append(other)
        if end is None:
            return counts
        load[end[1]] += 1
        # Walk back along the path: each target takes its new difficulty and, except the one
        # the path started from, gives up the difficulty the previous target takes over.
        step: tuple[str, str] | None = end
        while step is not None:
            code, level = step
            counts[code][level] += 1
            step = came_from[code]
            if step is None:
                taken[code] += 1
            else:
                counts[code][step[1]] -= 1


def _keep_cases_together(order: Sequence[int], pool: Sequence[PoolQuestion]) -> list[int]:
    """`order` with each case's drawn questions moved, in pool order, to where its first lands."""
    members: defaultdict[str, list[int]] = defaultdict(list)
    for index in sorted(order):
        case = pool[index].case_id
        if case is not None:
            members[case].append(index)
    regrouped: list[int] = []
    for index in order:
        case = pool[index].case_id
        if case is None:
            regrouped.append(index)
        elif case in members:
            regrouped += members.pop(case)
    return regrouped


def _display_orders(
    question: PoolQuestion, shuffle: bool, rng: random.Random
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(option_order, prompt_order, choice_order) as shown to the candidate."""
    if question.type == "matching":
        if not shuffle:
            return (), question.prompt_ids, question.choice_ids
        return (), _shuffled(question.prompt_ids, rng), _shuffled(question.choice_ids, rng)
    if not shuffle:
        return question.option_ids, (), ()
    if question.type != "ordering" or len(question.option_ids) < 2:
        return _shuffled(question.option_ids, rng), (), ()
    # File order is the answer, so it must never be shown as is. Drawing again until the order
    # differs keeps every other arrangement equally likely (rotating would favour one); it
    # compares positions, not ids, so it ends even if a bank repeats an id.
    answer = list(range(len(question.option_ids)))
    positions = answer[:]
    while positions == answer:
        rng.shuffle(positions)
    return tuple(question.option_ids[p] for p in positions), (), ()


def _shuffled(ids: tuple[str, ...], rng: random.Random) -> tuple[str, ...]:
    return tuple(rng.sample(ids, len(ids)))


def serve_one(
    question: PoolQuestion, position: int, objective: str, shuffle: bool, rng: random.Random
) -> DrawnItem:
    """One scored question at `position`, drawn for target `objective`, with its options
    (or prompts and choices) shuffled as `assemble` shuffles them: adaptive practice serves
    its questions one at a time."""
    options, prompts, choices = _display_orders(question, shuffle, rng)
    return DrawnItem(
        position=position,
        question_id=question.question_id,
        revision_id=question.revision_id,
        objective=objective,
        scored=True,
        option_order=options,
        prompt_order=prompts,
        choice_order=choices,
        drawn=_instance(question, rng.getrandbits(62)) if question.template else None,
    )


def layout_of(item: DrawnItem) -> dict[str, Any]:
    """The display order a form item keeps: option ids, or prompt and choice ids; and a
    template's drawn instance (`seed`, `values`, numeric `key` and `mistakes`)."""
    if item.prompt_order:
        layout: dict[str, Any] = {
            "prompts": list(item.prompt_order),
            "choices": list(item.choice_order),
        }
    else:
        layout = {"options": list(item.option_order)}
    return layout | dict(item.drawn or {})
