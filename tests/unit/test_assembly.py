"""Exam assembly: blueprint counts, freshness, difficulty quotas, cases and shuffling."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_service.exams.assembly import (
    DrawnItem,
    ExamSpec,
    PoolQuestion,
    ShortOfQuestions,
    apportion,
    assemble,
    shortfalls,
    targets,
)

LEVELS = ("easy", "medium", "hard")
TYPES = ("single", "multiple", "ordering", "matching")
ROOT = "EX"
Parents = dict[str, str | None]
fast = settings(max_examples=60, deadline=None)


def question(
    qid: str,
    objective: str,
    difficulty: str = "medium",
    case_id: str | None = None,
    kind: str = "single",
    width: int = 4,
) -> PoolQuestion:
    """A pool question with `width` options, or `width` prompts and `width + 1` choices."""
    if kind == "matching":
        return PoolQuestion(
            qid,
            1,
            objective,
            difficulty,
            case_id,
            kind,
            prompt_ids=tuple(f"{qid}-p{n}" for n in range(width)),
            choice_ids=tuple(f"{qid}-c{n}" for n in range(width + 1)),
        )
    options = tuple(f"{qid}-o{n}" for n in range(width))
    return PoolQuestion(qid, 1, objective, difficulty, case_id, kind, option_ids=options)


def under(objective: str, code: str, parents: Mapping[str, str | None]) -> bool:
    node: str | None = objective
    while node is not None:
        if node == code:
            return True
        node = parents.get(node)
    return code == "*"


def difficulties(exam: Sequence[DrawnItem], pool: Sequence[PoolQuestion]) -> Counter[str]:
    level = {q.question_id: q.difficulty for q in pool}
    return Counter(level[item.question_id] for item in exam)


def distance(drawn: Counter[str], quota: Mapping[str, int]) -> int:
    return sum(abs(drawn[level] - quota.get(level, 0)) for level in set(drawn) | set(quota))


# --- strategies -----------------------------------------------------------------------------


@st.composite
def trees(draw: st.DrawFn) -> Parents:
    """A root, domains D1.., tasks D1.1.., and sometimes objectives D1.1.1.. under them."""
    parents: Parents = {ROOT: None}
    for d in range(1, draw(st.integers(1, 3)) + 1):
        parents[f"D{d}"] = ROOT
        for t in range(1, draw(st.integers(1, 3)) + 1):
            parents[f"D{d}.{t}"] = f"D{d}"
            for o in range(1, draw(st.integers(0, 2)) + 1):
                parents[f"D{d}.{t}.{o}"] = f"D{d}.{t}"
    return parents


@st.composite
def pools(
    draw: st.DrawFn, parents: Parents, min_size: int = 0, max_size: int = 30, cases: bool = True
) -> list[PoolQuestion]:
    codes = sorted(parents)
    case_ids = (
        st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3", "k4"])) if cases else st.none()
    )
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(codes),
                st.sampled_from(LEVELS),
                case_ids,
                st.sampled_from(TYPES),
                st.integers(0, 5),
            ),
            min_size=min_size,
            max_size=max_size,
        )
    )
    return [
        question(f"q{n}", objective, level, case, kind, width)
        for n, (objective, level, case, kind, width) in enumerate(rows)
    ]


weights = st.one_of(st.integers(1, 10), st.floats(0.01, 100.0))
mixes = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(LEVELS), weights, min_size=1, max_size=3)
)


@dataclass(frozen=True)
class Scenario:
    spec: ExamSpec
    pool: list[PoolQuestion]
    parents: Parents
    seed: int
    recently_seen: frozenset[str]

    def exam(self, seed: int | None = None) -> list[DrawnItem]:
        return assemble(
            self.spec,
            self.pool,
            self.parents,
            self.seed if seed is None else seed,
            self.recently_seen,
        )


@st.composite
def scenarios(
    draw: st.DrawFn, min_pool: int = 0, max_pool: int = 30, cases: bool = True
) -> Scenario:
    """A satisfiable blueprint over domains, tasks or the whole pool, with some questions seen."""
    parents = draw(trees())
    pool = draw(pools(parents, min_size=min_pool, max_size=max_pool, cases=cases))
    depth = draw(st.sampled_from(["domain", "task", "whole"]))
    codes = [c for c in parents if c != ROOT and c.count(".") == (0 if depth == "domain" else 1)]
    counts = None
    if depth == "whole":
        question_count = draw(st.integers(0, len(pool)))
    else:
        counts = {
            code: draw(st.integers(0, sum(under(q.objective, code, parents) for q in pool)))
            for code in codes
        }
        question_count = sum(counts.values())
    spec = ExamSpec(
        question_count,
        unscored_count=draw(st.integers(0, question_count)),
        objective_counts=counts,
        difficulty_mix=draw(mixes),
        shuffle_options=draw(st.booleans()),
    )
    ids = [q.question_id for q in pool]
    seen = draw(st.frozensets(st.sampled_from(ids))) if ids else frozenset()
    return Scenario(spec, pool, parents, draw(st.integers(0, 2**32)), seen)


# --- apportion and targets ------------------------------------------------------------------


@fast
@given(
    st.integers(0, 200),
    st.dictionaries(st.text("abcdef", min_size=1, max_size=3), weights, min_size=1, max_size=8),
)
def test_apportion_gives_every_code_the_floor_or_ceiling_of_its_quota(
    total: int, shares: dict[str, float]
) -> None:
    seats = apportion(total, shares)

    assert sum(seats.values()) == total
    whole = sum((Fraction(w) for w in shares.values()), Fraction(0))
    for code, weight in shares.items():
        quota = total * Fraction(weight) / whole
        assert seats[code] in (math.floor(quota), math.ceil(quota))
    for a, b in itertools.permutations(shares, 2):
        if shares[a] > shares[b]:
            assert seats[a] >= seats[b]
    assert apportion(total, dict(reversed(shares.items()))) == seats


def test_apportion_gives_leftover_seats_to_largest_remainders_then_by_code() -> None:
    assert apportion(10, {"D2": 1, "D1": 1, "D3": 1}) == {"D2": 3, "D1": 4, "D3": 3}
    assert apportion(7, {"a": 0.5, "b": 0.3, "c": 0.2}) == {"a": 4, "b": 2, "c": 1}
    assert apportion(0, {"a": 1.0}) == {"a": 0}


@pytest.mark.parametrize("bad", [0, -1.5, math.nan, math.inf])
def test_apportion_rejects_weights_that_are_not_positive_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match="every weight must be a positive number; change D2"):
        apportion(5, {"D1": 1.0, "D2": bad})


def test_targets_follow_counts_then_weights_then_the_whole_pool() -> None:
    assert targets(ExamSpec(5, objective_counts={"D1": 2, "D2": 3})) == {"D1": 2, "D2": 3}
    assert targets(ExamSpec(5, objective_weights={"D1": 1, "D2": 4})) == {"D1": 1, "D2": 4}
    assert targets(ExamSpec(5)) == {"*": 5}
    with pytest.raises(ValueError, match="add up to 4 but the exam has 5 questions"):
        targets(ExamSpec(5, objective_counts={"D1": 1, "D2": 3}))


def test_overlapping_targets_are_rejected_naming_both_codes() -> None:
    parents: Parents = {"D2": None, "D2.1": "D2", "D2.1.1": "D2.1"}
    spec = ExamSpec(2, objective_counts={"D2": 1, "D2.1.1": 1})
    pool = [question("a", "D2"), question("b", "D2.1.1")]

    with pytest.raises(ValueError, match="targets must not overlap: D2 contains D2.1.1"):
        shortfalls(spec, pool, parents)
    with pytest.raises(ValueError, match="targets must not overlap: D2 contains D2.1.1"):
        assemble(spec, pool, parents, seed=1)


# --- shortfalls -----------------------------------------------------------------------------


def test_short_pool_names_each_short_objective_and_by_how_many() -> None:
    parents: Parents = {"D2": None, "D2.1": "D2", "D2.1.4": "D2.1", "D2.3": "D2"}
    pool = [question(f"a{n}", "D2.1.4") for n in range(3)] + [question("b", "D2.3")]
    spec = ExamSpec(9, objective_counts={"D2.1.4": 5, "D2.3": 4})

    assert shortfalls(spec, pool, parents) == {"D2.1.4": (5, 3), "D2.3": (4, 1)}
    with pytest.raises(ShortOfQuestions) as caught:
        assemble(spec, pool, parents, seed=1)
    assert caught.value.shortfalls == {"D2.1.4": (5, 3), "D2.3": (4, 1)}
    assert str(caught.value) == (
        "the bank cannot fill this blueprint: D2.1.4 needs 5 questions but has 3 (2 short); "
        "D2.3 needs 4 but has 1 (3 short). Write more questions for these objectives or lower "
        "their share."
    )


def test_short_pool_without_objectives_asks_for_a_lower_question_count() -> None:
    with pytest.raises(ShortOfQuestions, match="the exam needs 3 questions but the bank has 1"):
        assemble(ExamSpec(3), [question("a", "D1")], {"D1": None}, seed=1)


@fast
@given(trees().flatmap(lambda p: st.tuples(st.just(p), pools(p))), st.data())
def test_weighted_blueprint_is_drawn_exactly_or_refused_with_its_shortfalls(
    tree_and_pool: tuple[Parents, list[PoolQuestion]], data: st.DataObject
) -> None:
    parents, pool = tree_and_pool
    domains = [c for c in parents if parents[c] == ROOT]
    spec = ExamSpec(
        data.draw(st.integers(0, 12)),
        objective_weights={d: data.draw(weights) for d in domains},
    )
    wanted = targets(spec)
    available = {d: sum(under(q.objective, d, parents) for q in pool) for d in domains}
    expected = {d: (n, available[d]) for d, n in wanted.items() if available[d] < n}

    assert shortfalls(spec, pool, parents) == expected
    if expected:
        with pytest.raises(ShortOfQuestions) as caught:
            assemble(spec, pool, parents, seed=7)
        for code, (needed, has) in expected.items():
            assert f"{code} needs {needed}" in str(caught.value)
            assert f"but has {has} ({needed - has} short)" in str(caught.value)
    else:
        drawn = Counter(item.objective for item in assemble(spec, pool, parents, seed=7))
        assert drawn == +Counter(wanted)


# --- the drawn exam -------------------------------------------------------------------------


@fast
@given(scenarios())
def test_each_target_gets_exactly_its_count_of_distinct_questions(s: Scenario) -> None:
    exam = s.exam()
    by_id = {q.question_id: q for q in s.pool}

    assert [item.position for item in exam] == list(range(1, s.spec.question_count + 1))
    assert len({item.question_id for item in exam}) == len(exam)
    assert Counter(item.objective for item in exam) == +Counter(targets(s.spec))
    for item in exam:
        assert under(by_id[item.question_id].objective, item.objective, s.parents)
        assert item.revision_id == by_id[item.question_id].revision_id


@fast
@given(scenarios())
def test_same_seed_gives_the_same_exam(s: Scenario) -> None:
    assert s.exam() == s.exam()


@fast
@given(scenarios(min_pool=20, cases=False), st.integers(0, 2**32))
def test_different_seeds_give_different_exams(s: Scenario, base: int) -> None:
    spec = ExamSpec(10, objective_counts=None, difficulty_mix=s.spec.difficulty_mix)
    exams = [assemble(spec, s.pool, s.parents, base + n) for n in range(5)]

    assert any(exam != exams[0] for exam in exams[1:])


@fast
@given(scenarios())
def test_unscored_count_is_exact(s: Scenario) -> None:
    assert sum(not item.scored for item in s.exam()) == s.spec.unscored_count


@fast
@given(scenarios())
def test_cases_are_contiguous_and_in_pool_order(s: Scenario) -> None:
    exam = s.exam()
    pool_order = {q.question_id: n for n, q in enumerate(s.pool)}
    case_of = {q.question_id: q.case_id for q in s.pool}
    places: dict[str, list[int]] = {}
    for n, item in enumerate(exam):
        case = case_of[item.question_id]
        if case is not None:
            places.setdefault(case, []).append(n)

    for case, at in places.items():
        assert at == list(range(at[0], at[0] + len(at))), case
        members = [pool_order[exam[n].question_id] for n in at]
        assert members == sorted(members)


@fast
@given(scenarios())
def test_display_orders_are_permutations_of_the_bank_ids(s: Scenario) -> None:
    by_id = {q.question_id: q for q in s.pool}
    for item in s.exam():
        q = by_id[item.question_id]
        if q.type == "matching":
            assert item.option_order == ()
            assert sorted(item.prompt_order) == sorted(q.prompt_ids)
            assert sorted(item.choice_order) == sorted(q.choice_ids)
        else:
            assert item.prompt_order == item.choice_order == ()
            assert sorted(item.option_order) == sorted(q.option_ids)
        if not s.spec.shuffle_options:
            assert (item.option_order, item.prompt_order, item.choice_order) == (
                q.option_ids if q.type != "matching" else (),
                q.prompt_ids,
                q.choice_ids,
            )


@fast
@given(scenarios(), st.integers(2, 6))
def test_ordering_questions_are_never_shown_in_the_answer_order(s: Scenario, width: int) -> None:
    pool = [
        question(q.question_id, q.objective, q.difficulty, q.case_id, "ordering", width)
        for q in s.pool
    ]
    spec = ExamSpec(
        s.spec.question_count, objective_counts=s.spec.objective_counts, shuffle_options=True
    )
    answers = {q.question_id: q.option_ids for q in pool}

    for item in assemble(spec, pool, s.parents, s.seed):
        assert item.option_order != answers[item.question_id]


@fast
@given(scenarios())
def test_seen_questions_are_drawn_only_when_a_target_runs_out_of_unseen_ones(
    s: Scenario,
) -> None:
    exam = s.exam()
    for code, count in targets(s.spec).items():
        members = [q for q in s.pool if under(q.objective, code, s.parents)]
        unseen = sum(q.question_id not in s.recently_seen for q in members)
        drawn_seen = sum(
            item.question_id in s.recently_seen for item in exam if item.objective == code
        )
        assert drawn_seen == max(0, count - unseen)


@st.composite
def plentiful(draw: st.DrawFn) -> tuple[ExamSpec, list[PoolQuestion], Parents]:
    """Every domain has at least its count of questions of every difficulty."""
    domains = [f"D{d}" for d in range(1, draw(st.integers(1, 4)) + 1)]
    parents: Parents = {ROOT: None} | {d: ROOT for d in domains}
    parents |= {f"{d}.1": d for d in domains}
    counts = {d: draw(st.integers(0, 6)) for d in domains}
    pool = []
    for d in domains:
        for level in LEVELS:
            for _ in range(counts[d] + draw(st.integers(0, 3))):
                objective = draw(st.sampled_from([d, f"{d}.1"]))
                case = draw(st.one_of(st.none(), st.sampled_from(["k1", "k2"])))
                pool.append(question(f"q{len(pool)}", objective, level, case))
    mix = draw(st.dictionaries(st.sampled_from(LEVELS), weights, min_size=1, max_size=3))
    spec = ExamSpec(sum(counts.values()), objective_counts=counts, difficulty_mix=mix)
    return spec, pool, parents


@fast
@given(plentiful(), st.integers(0, 2**32))
def test_difficulty_quotas_are_met_exactly_when_every_target_has_plenty(
    exam_pool_tree: tuple[ExamSpec, list[PoolQuestion], Parents], seed: int
) -> None:
    spec, pool, parents = exam_pool_tree
    assert spec.difficulty_mix is not None
    quota = +Counter(apportion(spec.question_count, spec.difficulty_mix))

    assert difficulties(assemble(spec, pool, parents, seed), pool) == quota


@fast
@given(scenarios(max_pool=10), mixes.filter(bool))
def test_difficulty_mix_is_missed_by_no_more_than_the_pool_forces(
    s: Scenario, mix: dict[str, float]
) -> None:
    spec = ExamSpec(
        s.spec.question_count, objective_counts=s.spec.objective_counts, difficulty_mix=mix
    )
    quota = apportion(spec.question_count, mix)
    # Every draw with the right count per target and no more seen questions than needed.
    choices = []
    for code, count in targets(spec).items():
        members = [q for q in s.pool if under(q.objective, code, s.parents)]
        fewest_seen = max(0, count - sum(q.question_id not in s.recently_seen for q in members))
        choices.append(
            [
                pick
                for pick in itertools.combinations(members, count)
                if sum(q.question_id in s.recently_seen for q in pick) == fewest_seen
            ]
        )
    best = min(
        distance(Counter(q.difficulty for pick in draw for q in pick), quota)
        for draw in itertools.product(*choices)
    )

    exam = assemble(spec, s.pool, s.parents, s.seed, s.recently_seen)
    assert distance(difficulties(exam, s.pool), quota) == best


# --- examples -------------------------------------------------------------------------------


def test_a_target_short_of_unseen_questions_takes_all_of_them_then_seen_ones() -> None:
    parents: Parents = {"D1": None}
    pool = [question(f"q{n}", "D1") for n in range(6)]
    seen = frozenset({"q0", "q1", "q2", "q3"})

    for seed in range(20):
        exam = assemble(ExamSpec(3), pool, parents, seed, seen)
        ids = {item.question_id for item in exam}
        assert {"q4", "q5"} <= ids
        assert len(ids & seen) == 1


def test_difficulty_quotas_move_a_target_to_its_scarce_level_when_another_needs_it() -> None:
    # D1 has both levels, D2 only easy: the one hard question must come from D1 whatever the
    # draw order, which a greedy pass alone gets wrong half the time.
    parents: Parents = {"D1": None, "D2": None}
    pool = [
        question("e1", "D1", "easy"),
        question("h1", "D1", "hard"),
        question("e2", "D2", "easy"),
    ]
    spec = ExamSpec(2, objective_counts={"D1": 1, "D2": 1}, difficulty_mix={"easy": 1, "hard": 1})

    for seed in range(30):
        drawn = {item.question_id for item in assemble(spec, pool, parents, seed)}
        assert drawn == {"h1", "e2"}


def test_case_siblings_are_drawn_together_more_often_than_by_chance() -> None:
    parents: Parents = {"D1": None}
    pool = [question(f"s{n}", "D1") for n in range(10)]
    pool[3:3] = [question("c1", "D1", case_id="k"), question("c2", "D1", case_id="k")]
    both = either = 0
    for seed in range(300):
        ids = {item.question_id for item in assemble(ExamSpec(2), pool, parents, seed)}
        either += bool(ids & {"c1", "c2"})
        both += {"c1", "c2"} <= ids

    # Drawn independently, both siblings would come with one about 5% of the time; as one
    # unit in the draw order, about half the time.
    assert both / either > 0.3


def test_without_shuffling_options_keep_file_order() -> None:
    parents: Parents = {"D1": None}
    pool = [
        question("o", "D1", kind="ordering", width=3),
        question("m", "D1", kind="matching", width=2),
    ]
    exam = assemble(ExamSpec(2, shuffle_options=False), pool, parents, seed=3)
    shown = {item.question_id: item for item in exam}

    assert shown["o"].option_order == ("o-o0", "o-o1", "o-o2")
    assert shown["m"].prompt_order == ("m-p0", "m-p1")
    assert shown["m"].choice_order == ("m-c0", "m-c1", "m-c2")
    assert shown["m"].option_order == shown["o"].prompt_order == ()


def test_a_case_drawn_for_the_exam_sits_together_in_pool_order() -> None:
    parents: Parents = {"D1": None}
    pool = [question(f"s{n}", "D1") for n in range(5)]
    pool += [question(f"c{n}", "D1", case_id="k") for n in range(3)]

    for seed in range(20):
        exam = assemble(ExamSpec(8, unscored_count=2), pool, parents, seed)
        ids = [item.question_id for item in exam]
        start = ids.index("c0")
        assert ids[start : start + 3] == ["c0", "c1", "c2"]
        assert sum(not item.scored for item in exam) == 2


def test_questions_above_every_target_are_not_drawn() -> None:
    parents: Parents = {ROOT: None, "D1": ROOT}
    pool = [question("root", ROOT), question("d1", "D1")]
    exam = assemble(ExamSpec(1, objective_counts={"D1": 1}), pool, parents, seed=1)

    assert [(item.question_id, item.objective) for item in exam] == [("d1", "D1")]


def test_an_exam_of_no_questions_is_empty() -> None:
    assert assemble(ExamSpec(0), [], {}, seed=1) == []


def test_bad_input_is_refused_with_what_to_change() -> None:
    parents: Parents = {"D1": None}
    pool = [question("a", "D1"), question("a", "D1")]
    with pytest.raises(ValueError, match="question a is in the pool twice"):
        assemble(ExamSpec(1), pool, parents, seed=1)
    with pytest.raises(ValueError, match="cannot have 3 unscored ones; use 0 to 2"):
        assemble(ExamSpec(2, unscored_count=3), pool[:1], parents, seed=1)
