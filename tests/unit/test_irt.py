"""Item response theory (exam_service/grading/irt.py) on simulated candidates whose true
abilities and item parameters are known: what calibration, scoring, readiness and adaptive
practice promise, checked against the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from exam_service.grading import irt

OBJECTIVES = 10
PER_OBJECTIVE = 20
SPREAD = irt.OBJECTIVE_SPREAD


def simulated_calibration(
    seed: int, persons: int = 2000, items: int = 200, length: int = 50, common_a: float = 0.0
) -> tuple[irt.Responses, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = irt.draw_items(items, rng)
    if common_a:
        a = np.full(items, common_a)
    theta = rng.standard_normal(persons)
    person, item = irt.draw_forms(persons, items, length, rng)
    score = irt.draw_scores(theta[person], a[item], b[item], rng)
    return irt.Responses.from_arrays(person, item, score), a, b, theta


def objective_pool(seed: int) -> irt.ItemPool:
    rng = np.random.default_rng(seed)
    a, b = irt.draw_items(OBJECTIVES * PER_OBJECTIVE, rng)
    codes = [f"D{o}" for o in range(OBJECTIVES) for _ in range(PER_OBJECTIVE)]
    return irt.ItemPool.build(a, b, codes)


def objective_abilities(rng: np.random.Generator) -> np.ndarray:
    """θ_o = θ_g + δ_o as the readiness model has it (each θ_o ~ N(0, 1))."""
    general = rng.normal(0, math.sqrt(1 - SPREAD**2))
    return np.asarray(general + rng.normal(0, SPREAD, OBJECTIVES))


def answer(pool: irt.ItemPool, items: np.ndarray, theta: np.ndarray, rng: np.random.Generator):
    return irt.draw_scores(theta[pool.objective[items]], pool.a[items], pool.b[items], rng)


FORM = irt.FormRule({f"D{o}": 5 for o in range(OBJECTIVES)}, cut_percent=50.0)


# --- calibration --------------------------------------------------------------------------


def test_2pl_calibration_recovers_items_from_random_forms() -> None:
    data, a, b, _ = simulated_calibration(seed=1)
    fit = irt.calibrate(data, model="2pl")

    assert fit.converged and fit.estimated.all()
    assert np.corrcoef(fit.b, b)[0, 1] >= 0.95
    assert np.corrcoef(fit.a, a)[0, 1] >= 0.8
    assert fit.responses.sum() == 2000 * 50
    assert (fit.responses == np.bincount(data.item, minlength=200)).all()
    # the standard errors are honest: about 95% of the true values within 2 SE
    assert np.mean(np.abs(fit.b - b) < 2 * fit.se_b) >= 0.88
    assert np.mean(np.abs(fit.a - a) < 2 * fit.se_a) >= 0.88
    # items that fit the model have mean squares near 1 and are not flagged
    assert 0.97 < np.mean(fit.infit) < 1.03 and 0.95 < np.mean(fit.outfit) < 1.05
    assert fit.misfit.sum() <= 4


def test_rasch_calibration_recovers_difficulty_and_the_common_slope() -> None:
    data, _, b, _ = simulated_calibration(seed=2, common_a=1.3)
    fit = irt.calibrate(data, model="rasch")

    assert fit.converged
    assert np.corrcoef(fit.b, b)[0, 1] >= 0.98
    assert np.unique(fit.a).size == 1 and fit.a[0] == pytest.approx(1.3, abs=0.08)
    assert np.mean(np.abs(fit.b - b) < 2 * fit.se_b) >= 0.88


def test_calibration_gives_each_person_an_eap_theta() -> None:
    data, _, _, theta = simulated_calibration(seed=3)
    fit = irt.calibrate(data)

    assert np.corrcoef(fit.person_theta, theta)[0, 1] >= 0.9
    # the posterior SD is the size of the actual error
    error = np.sqrt(np.mean((fit.person_theta - theta) ** 2))
    assert error == pytest.approx(np.mean(fit.person_se), rel=0.15)


def test_a_sparse_matrix_with_stored_zeros_calibrates_like_the_arrays() -> None:
    data, _, _, _ = simulated_calibration(seed=4, persons=600, items=40, length=20)
    matrix = sparse.csr_array((data.score, (data.person, data.item)), shape=(600, 40))
    assert matrix.nnz == data.score.size  # the wrong answers are stored zeros

    from_arrays = irt.calibrate(data)
    from_matrix = irt.calibrate(matrix)

    np.testing.assert_allclose(from_matrix.b, from_arrays.b, atol=1e-6)
    np.testing.assert_allclose(from_matrix.a, from_arrays.a, atol=1e-6)


def test_items_with_too_few_responses_or_no_variation_are_not_estimated() -> None:
    data, _, b, _ = simulated_calibration(seed=5, persons=1000, items=60, length=30)
    person, item, score = data.person.copy(), data.item.copy(), data.score.copy()
    score[item == 0] = 1.0  # everyone gets item 0 right
    score[item == 1] = 0.0  # and item 1 wrong
    few = np.flatnonzero(item == 2)[10:]  # item 2 answered 10 times only
    keep = np.setdiff1d(np.arange(item.size), few)
    fit = irt.calibrate(irt.Responses.from_arrays(person[keep], item[keep], score[keep]))

    assert fit.status[:3] == ("all_right", "all_wrong", "too_few_responses")
    assert np.isnan(fit.a[:3]).all() and np.isnan(fit.b[:3]).all()
    assert fit.responses[2] == 10 and not fit.misfit[:3].any()
    assert np.corrcoef(fit.b[3:], b[3:])[0, 1] >= 0.95
    rows = fit.rows()
    assert rows[2].status == "too_few_responses" and rows[2].b is None
    assert rows[3].b == pytest.approx(fit.b[3])


def test_partial_credit_counts_as_that_share_of_a_right_answer() -> None:
    data, _, _, _ = simulated_calibration(seed=28, persons=1000, items=40, length=20)
    whole = irt.calibrate(data)
    halved = np.where((data.item == 0) & (data.score == 1), 0.5, data.score)
    partial = irt.calibrate(irt.Responses.from_arrays(data.person, data.item, halved))

    assert partial.converged and np.isfinite(partial.b).all()
    assert partial.b[0] > whole.b[0] + 0.3  # half credit: the item looks harder
    np.testing.assert_allclose(partial.b[1:], whole.b[1:], atol=0.1)


def test_a_person_with_every_answer_right_gets_a_finite_high_theta() -> None:
    data, _, _, _ = simulated_calibration(seed=6, persons=800, items=40, length=20)
    score = np.where(data.person == 0, 1.0, data.score)
    fit = irt.calibrate(irt.Responses.from_arrays(data.person, data.item, score))

    assert np.isfinite(fit.person_theta[0]) and fit.person_theta[0] > 1.2
    assert 0 < fit.person_se[0] < 1


def test_a_rerun_started_from_the_last_calibration_takes_a_few_iterations() -> None:
    data, _, _, _ = simulated_calibration(seed=25, persons=1500, items=60, length=30)
    first = irt.calibrate(data)
    again = irt.calibrate(data, start=(first.a, first.b))

    assert again.converged and again.iterations <= 3 < first.iterations
    np.testing.assert_allclose(again.b, first.b, atol=2e-3)
    np.testing.assert_allclose(again.a, first.a, atol=2e-3)


def test_nothing_to_estimate_returns_without_iterating() -> None:
    fit = irt.calibrate(irt.Responses.from_arrays([0, 1, 2], [0, 0, 1], [1, 0, 1]))

    assert fit.status == ("too_few_responses", "too_few_responses")
    assert fit.iterations == 0 and np.isnan(fit.b).all()


def test_a_miskeyed_item_is_flagged() -> None:
    rng = np.random.default_rng(7)
    a, b = irt.draw_items(100, rng)
    theta = rng.standard_normal(2000)
    person, item = irt.draw_forms(2000, 100, 40, rng)
    p = irt.probability(a[item], b[item], theta[person])
    p = np.where(item == 0, 1 - p, p)  # the key is the answer of the weakest candidates
    score = (rng.random(p.size) < p).astype(float)
    data = irt.Responses.from_arrays(person, item, score)

    assert irt.calibrate(data, model="2pl").misfit[0]
    rasch = irt.calibrate(data, model="rasch")
    assert rasch.misfit[0] and rasch.outfit[0] > 1.5


def test_responses_that_do_not_line_up_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="parallel arrays; got 3, 2 and 3"):
        irt.Responses.from_arrays([0, 1, 2], [0, 1], [1, 0, 1])
    with pytest.raises(ValueError, match="between 0 and 1"):
        irt.Responses.from_arrays([0, 1], [0, 1], [1, 2])
    with pytest.raises(ValueError, match="'rasch' or '2pl'"):
        irt.calibrate(irt.Responses.from_arrays([0], [0], [1]), model="3pl")  # type: ignore[arg-type]


# --- ability, curves ----------------------------------------------------------------------


def test_eap_recovers_theta_for_many_persons_and_for_one() -> None:
    rng = np.random.default_rng(8)
    a, b = irt.draw_items(100, rng)
    theta = rng.standard_normal(500)
    person, item = irt.draw_forms(500, 100, 40, rng)
    score = irt.draw_scores(theta[person], a[item], b[item], rng)

    posterior = irt.eap(a[item], b[item], score, person=person)
    assert np.corrcoef(posterior.theta, theta)[0, 1] >= 0.9
    error = np.sqrt(np.mean((posterior.theta - theta) ** 2))
    assert error == pytest.approx(np.mean(posterior.se), rel=0.15)

    mine = person == 7
    one = irt.eap(a[item[mine]], b[item[mine]], score[mine])
    assert one.theta[0] == pytest.approx(posterior.theta[7])
    assert one.se[0] == pytest.approx(posterior.se[7])


def test_eap_without_answers_is_the_prior_and_all_right_is_finite() -> None:
    nothing = irt.eap([], [], [])
    assert nothing.theta[0] == pytest.approx(0, abs=1e-9)
    assert nothing.se[0] == pytest.approx(1, abs=1e-3)

    perfect = irt.eap(np.ones(20), np.zeros(20), np.ones(20))
    assert 1.5 < perfect.theta[0] < 4 and 0 < perfect.se[0] < 1


def test_cut_theta_is_where_the_test_characteristic_curve_meets_the_cut() -> None:
    pool = objective_pool(9)
    weights = irt.form_weights(pool, FORM)
    assert weights.sum() == pytest.approx(FORM.length)

    cut = irt.theta_for_percent(pool.a, pool.b, 65.0, weights)
    assert irt.expected_percent(pool.a, pool.b, cut, weights) == pytest.approx(65.0, abs=1e-6)
    rule = irt.FormRule(FORM.counts, cut_percent=65.0)
    assert irt.cut_theta(pool, rule) == pytest.approx(cut)
    assert irt.form_percent(pool, rule, cut) == pytest.approx(65.0, abs=1e-6)
    curve = irt.expected_percent(pool.a, pool.b, np.linspace(-3, 3, 13), weights)
    assert (np.diff(curve) > 0).all()
    with pytest.raises(ValueError, match="an expected 99.9% is not reached"):
        irt.theta_for_percent(pool.a, pool.b, 99.9, weights)


def test_test_information_is_the_sum_of_the_items_and_peaks_at_b() -> None:
    a, b = np.array([1.0, 2.0]), np.array([0.0, 1.0])
    assert irt.test_information(a, b, 0.5) == pytest.approx(
        irt.information(1.0, 0.0, 0.5) + irt.information(2.0, 1.0, 0.5)
    )
    assert irt.information(2.0, 1.0, 1.0) == pytest.approx(1.0)  # a²/4 at θ = b


def test_difficulty_from_facility_reproduces_the_share_right() -> None:
    rng = np.random.default_rng(10)
    theta = rng.standard_normal(200_000)
    for facility in (0.2, 0.5, 0.85):
        b = irt.b_from_facility(facility)
        assert np.mean(irt.probability(1.0, b, theta)) == pytest.approx(facility, abs=0.01)
    assert irt.b_from_facility(irt.LABEL_FACILITY["hard"]) > irt.b_from_facility(0.6)


# --- readiness ----------------------------------------------------------------------------


def test_readiness_is_calibrated_on_simulated_candidates() -> None:
    """Each candidate answers 0-60 practice questions; readiness predicts; then they sit a
    random form. The predictions must beat the base rate and be calibrated."""
    pool = objective_pool(11)
    rng = np.random.default_rng(12)
    predicted, passed = [], []
    for _ in range(1200):
        theta = objective_abilities(rng)
        practice = rng.choice(pool.size, rng.integers(0, 61), replace=False)
        evidence = irt.Evidence.of(practice, answer(pool, practice, theta, rng))
        readiness = irt.readiness(pool, FORM, evidence, target_width=None, draws=500)
        assert readiness.low <= readiness.probability <= readiness.high
        predicted.append(readiness.probability)
        form = irt.draw_form(pool, FORM, rng)
        passed.append(answer(pool, form, theta, rng).sum() >= FORM.required_right())
    p, y = np.array(predicted), np.array(passed, dtype=float)

    brier = np.mean((p - y) ** 2)
    base_rate = np.mean((y.mean() - y) ** 2)
    assert brier < 0.65 * base_rate
    likely = (p >= 0.7) & (p < 0.8)
    assert likely.sum() >= 50
    assert 0.65 <= y[likely].mean() <= 0.85


def test_readiness_is_honest_with_little_data() -> None:
    pool = objective_pool(13)
    rng = np.random.default_rng(14)
    theta = np.full(OBJECTIVES, 1.2)  # clearly above the cut

    nothing = irt.readiness(pool, FORM, irt.Evidence.of([], []))
    assert nothing.high - nothing.low > 0.8
    assert nothing.more_questions is not None and nothing.more_questions > 20

    practice = rng.choice(pool.size, 120, replace=False)
    plenty = irt.readiness(
        pool, FORM, irt.Evidence.of(practice, answer(pool, practice, theta, rng))
    )
    assert plenty.probability > 0.9 and plenty.high - plenty.low < 0.3
    assert plenty.more_questions == 0
    assert plenty.cut_theta is not None and plenty.theta > plenty.cut_theta


def test_the_estimate_of_more_questions_is_met_by_answering_them() -> None:
    pool = objective_pool(15)
    rng = np.random.default_rng(16)
    theta = np.full(OBJECTIVES, 1.0)
    practice = rng.choice(pool.size, 10, replace=False)
    scores = answer(pool, practice, theta, rng)
    before = irt.readiness(pool, FORM, irt.Evidence.of(practice, scores), target_width=0.3)
    assert before.high - before.low > 0.3 and before.more_questions

    more = rng.choice(np.setdiff1d(np.arange(pool.size), practice), before.more_questions)
    items = np.concatenate([practice, more])
    after = irt.readiness(
        pool, FORM, irt.Evidence.of(items, np.concatenate([scores, answer(pool, more, theta, rng)]))
    )
    assert after.high - after.low < 0.3 + 0.1  # a real draw of answers, not their expectation


def test_without_an_objective_spread_mastery_is_the_single_ability() -> None:
    pool = objective_pool(29)
    rng = np.random.default_rng(30)
    items = rng.choice(pool.size, 40, replace=False)
    scores = answer(pool, items, np.full(OBJECTIVES, 0.5), rng)
    state = irt.mastery(pool, irt.Evidence.of(items, scores), cut_percent=50, spread=0.0)
    flat = irt.eap(pool.a[items], pool.b[items], scores)

    assert state.theta == pytest.approx(flat.theta[0], abs=1e-6)
    np.testing.assert_allclose(state.objective_theta(), flat.theta[0], atol=1e-6)


def test_the_weak_objective_is_named_first() -> None:
    pool = objective_pool(17)
    rng = np.random.default_rng(18)
    theta = np.full(OBJECTIVES, 0.8)
    theta[3] = -1.0  # a gap of 1.8, 3.6 times the model's spread between objectives
    practice = np.arange(pool.size)  # 20 answers on each objective
    evidence = irt.Evidence.of(practice, answer(pool, practice, theta, rng))
    readiness = irt.readiness(pool, FORM, evidence, target_width=None)

    assert readiness.objectives[0].objective == "D3"
    assert [o.objective for o in readiness.holding_back] == ["D3"]
    weak = readiness.objectives[0]
    assert weak.below_cut > 0.6 and weak.shortfall > 0 and weak.answered == 20
    assert weak.low < weak.mastery < weak.high


# --- adaptive practice --------------------------------------------------------------------


def test_adaptive_practice_reaches_se_04_in_fewer_items_than_random() -> None:
    pool = objective_pool(19)
    rng = np.random.default_rng(20)
    rule = irt.StopRule(max_items=80, target_se=0.4, min_items=1)
    adaptive, random = [], []
    for _ in range(30):
        theta = objective_abilities(rng)
        served: list[int] = []
        scores: list[float] = []
        while True:
            evidence = irt.Evidence.of(served, scores)
            choice = irt.next_item(pool, evidence, served, form=FORM, rng=rng, stop=rule)
            if choice.item is None:
                assert choice.stop in ("precision", "length")
                break
            served.append(choice.item)
            scores.append(float(answer(pool, np.array([choice.item]), theta, rng)[0]))
        assert len(set(served)) == len(served)
        adaptive.append(len(served))
        order = rng.permutation(pool.size)
        scores_r = answer(pool, order, theta, rng)
        for n in range(1, pool.size + 1):
            if irt.eap(pool.a[order[:n]], pool.b[order[:n]], scores_r[:n]).se[0] < 0.4:
                break
        random.append(n)
    assert np.mean(adaptive) < 0.85 * np.mean(random)


def test_adaptive_practice_targets_the_weakest_objective_and_varies_its_choice() -> None:
    pool = objective_pool(21)
    rng = np.random.default_rng(22)
    weak = np.flatnonzero(pool.objective == 6)[:6]
    strong = np.flatnonzero(pool.objective != 6)[::4][:30]
    items = np.concatenate([weak, strong])
    scores = np.concatenate([np.zeros(weak.size), np.ones(strong.size)])
    evidence = irt.Evidence.of(items, scores)

    rule = irt.StopRule(max_items=100, target_se=0.0)
    picks = [
        irt.next_item(pool, evidence, items, form=FORM, rng=rng, stop=rule, breadth=10)
        for _ in range(40)
    ]
    assert {p.objective for p in picks} == {"D6"}
    assert len({p.item for p in picks}) >= 3  # randomesque: not always the same item
    assert not {p.item for p in picks} & set(items.tolist())


def test_adaptive_practice_stops_at_its_length_and_when_the_pool_is_used_up() -> None:
    pool = objective_pool(23)
    rng = np.random.default_rng(24)
    stop = irt.StopRule(max_items=3, target_se=0.0)
    served = [0, 1, 2]
    evidence = irt.Evidence.of(served, [1, 0, 1])
    assert irt.next_item(pool, evidence, served, form=FORM, rng=rng, stop=stop).stop == "length"

    one = irt.FormRule({"D0": 1}, cut_percent=50)
    everything = np.flatnonzero(pool.objective == 0)
    evidence = irt.Evidence.of(everything, np.ones(everything.size))
    rule = irt.StopRule(max_items=100, target_se=0.0)
    assert irt.next_item(pool, evidence, everything, form=one, rng=rng, stop=rule).stop == "pool"


def test_excluded_items_are_not_served_and_do_not_count_towards_the_length() -> None:
    pool = objective_pool(26)
    rng = np.random.default_rng(27)
    recent = np.flatnonzero(pool.objective == 2)[:15]
    stop = irt.StopRule(max_items=5, target_se=0.0)
    nothing = irt.Evidence.of([], [])
    for _ in range(30):
        choice = irt.next_item(pool, nothing, [], form=FORM, rng=rng, stop=stop, exclude=recent)
        assert choice.item is not None and choice.item not in recent

    one = irt.FormRule({"D2": 1}, cut_percent=50)
    rest = np.flatnonzero(pool.objective == 2)[15:]
    choice = irt.next_item(pool, nothing, rest, form=one, rng=rng, exclude=recent)
    assert choice.stop == "pool"


def test_before_calibration_the_pool_runs_on_classical_difficulty() -> None:
    facility = np.array([irt.LABEL_FACILITY[d] for d in ["easy", "medium", "hard"] * 4])
    pool = irt.ItemPool.build(1.0, irt.b_from_facility(facility), ["D0"] * 6 + ["D1"] * 6)
    form = irt.FormRule({"D0": 3, "D1": 3}, cut_percent=60)
    choice = irt.next_item(
        pool, irt.Evidence.of([], []), [], form=form, rng=np.random.default_rng(1)
    )
    assert choice.item is not None and choice.se == pytest.approx(1, abs=1e-3)
    assert 0 <= irt.readiness(pool, form, irt.Evidence.of([0, 6], [1, 1])).probability <= 1
