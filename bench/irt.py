"""Item response theory on simulated candidates: calibration speed and memory, recovery,
readiness calibration and adaptive practice (issue 17, `exam_service.grading.irt`).

Everything is simulated, so the truth is known: items with a = exp(N(0, 0.3²)) and
b ~ N(0, 1), candidates with θ ~ N(0, 1), random forms (`irt.draw_forms`), 0/1 answers
drawn from the 2PL. No database is used.

1. Calibration time and memory. For each of `--sizes` (attempts; default 25,000, 50,000 and
   100,000) a child process simulates that many attempts of `--length` (50) items drawn from
   a pool of `--pool` (200) items and calibrates the 2PL (`irt.calibrate`). It reports the
   wall and CPU time of the calibration, the EM iterations, the rise of the peak RSS during
   calibration above the RSS with the simulated responses loaded (Linux: the peak is reset
   through /proc/self/clear_refs just before calling) and the tracemalloc peak of the
   NumPy/SciPy allocations the calibration made, in MiB and in MiB per million responses,
   and the recovery of a and b. With `--wide-pool` (default 1,000) the largest size runs
   again over that many items: the same responses over a larger bank should need the same
   memory. Target: the largest size under 60 s; memory per million responses at the
   largest size at most 1.25x the smallest's (it grows with the responses only), and the
   wide pool at most 1.25x the narrow one.
2. Recovery (the issue's design): 2,000 candidates, 200 items, 50-item random forms; 2PL
   and Rasch: correlation of estimated and true b (target >= 0.95) and a (>= 0.8, 2PL),
   RMSE, the share of true values within 2 standard errors (about 95% when the SEs are
   honest), and the correlation of the persons' EAP θ with the truth. A miss is a broken
   check (exit 1).
3. Readiness. A pool of 200 items in 10 objectives (20 each) is calibrated from `--pilot`
   (5,000) simulated attempts; readiness uses those estimates, the outcomes use the true
   parameters. `--candidates` (3,000) candidates have objective abilities θ_o = θ_g + δ_o
   (the readiness model's structure, τ = 0.5), answer 0-80 random practice questions,
   get `irt.readiness` for a form of 5 items per objective with a raw cut of `--cut`
   (55%), then sit such a random form. Printed: the Brier score against the base rate's,
   a reliability table by tenths of the predicted probability (target: of those predicted
   70-80%, 65-85% pass), and how often the candidate's true P(pass | abilities) lies in
   the 90% interval. For `--more-checks` (100) candidates with 0-20 answers, the number
   of further questions readiness says would narrow the interval below 0.3 is then
   answered (spread over the objectives as a form spreads them) and the new width printed.
4. Adaptive practice. For `--adaptive` (200) candidates, adaptive practice
   (`irt.next_item`, randomesque top 5) and a random draw from the same pool each run
   until the posterior SD of θ is below 0.4; printed: the mean items of each and their
   ratio (target below 1), and the largest share of sessions in which any one item was
   served, with top 5 and with top 1 (no exposure control).

Under `make bench` the headline figures also go to the table it ends with
(`common.summary_row`; `bench/summary.py` prints it).

Run: `.venv/bin/python bench/irt.py` (options `--sizes 25000,50000,100000 --pool 200
--length 50 --wide-pool 1000 --candidates 3000 --adaptive 200 --quick`). The exit code is 0
whatever the timings; 1 if something broke (a calibration did not converge or returned
non-finite values, recovery or readiness calibration missed its target, a child failed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from exam_service.grading import irt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import summary_row  # noqa: E402  (the bench folder is not a package)

BENCH = "irt"
TARGET_SECONDS = 60.0
MEMORY_GROWTH = 1.25
OBJECTIVES = 10
PER_OBJECTIVE = 20
SPREAD = irt.OBJECTIVE_SPREAD
TARGET_WIDTH = 0.3


# --- 1. calibration in a child process ----------------------------------------------------


def rss_mib(field: str) -> float:
    """VmRSS or VmHWM of this process, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def calibration_child(attempts: int, pool: int, length: int, seed: int) -> dict[str, Any]:
    """Simulate, then calibrate with the memory measured; the result as a dict."""
    rng = np.random.default_rng(seed)
    a, b = irt.draw_items(pool, rng)
    theta = rng.standard_normal(attempts)
    person, item = irt.draw_forms(attempts, pool, length, rng)
    score = irt.draw_scores(theta[person], a[item], b[item], rng)
    data = irt.Responses.from_arrays(person, item, score, n_persons=attempts, n_items=pool)
    del theta, person, item, score
    loaded = rss_mib("VmRSS")
    try:  # reset the peak RSS to the current RSS (Linux 4.0+)
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    tracemalloc.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fit = irt.calibrate(data, model="2pl")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = rss_mib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finite = bool(np.isfinite(fit.a).all() and np.isfinite(fit.b).all())
    return {
        "attempts": attempts,
        "pool": pool,
        "responses": int(data.score.size),
        "seconds": wall,
        "cpu_seconds": cpu,
        "iterations": fit.iterations,
        "converged": fit.converged,
        "finite": finite,
        "rss_rise_mib": peak - loaded,
        "rss_exact": reset,
        "traced_mib": traced / 2**20,
        "corr_a": float(np.corrcoef(fit.a, a)[0, 1]) if finite else float("nan"),
        "corr_b": float(np.corrcoef(fit.b, b)[0, 1]) if finite else float("nan"),
    }


def run_child(attempts: int, pool: int, length: int, seed: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        f"{attempts},{pool},{length},{seed}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"the calibration of {attempts} attempts failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def describe_calibration(row: dict[str, Any]) -> str:
    per_million = row["traced_mib"] / (row["responses"] / 1e6)
    rss = "" if row["rss_exact"] else " (peak since start)"
    return (
        f"  {row['attempts']:>7,} attempts x {row['responses'] // row['attempts']} items, "
        f"pool {row['pool']}: {row['seconds']:.1f} s (CPU {row['cpu_seconds']:.1f}), "
        f"{row['iterations']} iterations{'' if row['converged'] else ' NOT CONVERGED'}; "
        f"allocated {row['traced_mib']:.0f} MiB ({per_million:.0f} MiB per million "
        f"responses), RSS rise {row['rss_rise_mib']:.0f} MiB{rss}; "
        f"r(a) {row['corr_a']:.3f}, r(b) {row['corr_b']:.4f}"
    )


# --- 2. recovery --------------------------------------------------------------------------


@dataclass
class Recovery:
    model: str
    seconds: float
    corr_a: float
    corr_b: float
    rmse_a: float
    rmse_b: float
    within_a: float
    within_b: float
    corr_theta: float
    converged: bool


def recovery(model: irt.Model, seed: int) -> Recovery:
    rng = np.random.default_rng(seed)
    a, b = irt.draw_items(200, rng)
    theta = rng.standard_normal(2000)
    person, item = irt.draw_forms(2000, 200, 50, rng)
    score = irt.draw_scores(theta[person], a[item], b[item], rng)
    began = time.perf_counter()
    fit = irt.calibrate(irt.Responses.from_arrays(person, item, score), model=model)
    seconds = time.perf_counter() - began
    return Recovery(
        model=model,
        seconds=seconds,
        corr_a=float(np.corrcoef(fit.a, a)[0, 1]) if model == "2pl" else float("nan"),
        corr_b=float(np.corrcoef(fit.b, b)[0, 1]),
        rmse_a=float(np.sqrt(np.mean((fit.a - a) ** 2))),
        rmse_b=float(np.sqrt(np.mean((fit.b - b) ** 2))),
        within_a=float(np.mean(np.abs(fit.a - a) < 2 * fit.se_a)),
        within_b=float(np.mean(np.abs(fit.b - b) < 2 * fit.se_b)),
        corr_theta=float(np.corrcoef(fit.person_theta, theta)[0, 1]),
        converged=fit.converged,
    )


# --- 3. readiness -------------------------------------------------------------------------


def objective_abilities(rng: np.random.Generator) -> np.ndarray:
    """θ_o = θ_g + δ_o, θ_g ~ N(0, 1 - τ²), δ_o ~ N(0, τ²): the readiness model's structure."""
    general = rng.normal(0, math.sqrt(1 - SPREAD**2))
    return np.asarray(general + rng.normal(0, SPREAD, OBJECTIVES))


@dataclass
class World:
    """The true items, the calibrated pool readiness sees, and the form."""

    truth: irt.ItemPool
    pool: irt.ItemPool
    form: irt.FormRule
    pilot_corr_b: float

    def answer(self, items: np.ndarray, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = self.truth
        return irt.draw_scores(theta[t.objective[items]], t.a[items], t.b[items], rng)

    def true_pass(self, theta: np.ndarray) -> float:
        """P(pass | the true abilities and items), by the rule readiness uses."""
        t, form = self.truth, self.form
        share = sum(
            count
            / form.length
            * float(np.mean(irt.probability(t.a[m], t.b[m], theta[t.objective[m]])))
            for count, m in irt.form_groups(t, form)
        )
        n, k = form.length, form.required_right()
        return float(
            sum(math.comb(n, x) * share**x * (1 - share) ** (n - x) for x in range(k, n + 1))
        )


def make_world(pilot: int, cut: float, rng: np.random.Generator) -> World:
    codes = [f"D{o}" for o in range(OBJECTIVES) for _ in range(PER_OBJECTIVE)]
    a, b = irt.draw_items(len(codes), rng)
    truth = irt.ItemPool.build(a, b, codes)
    abilities = np.array([objective_abilities(rng) for _ in range(pilot)])
    person, item = irt.draw_forms(pilot, truth.size, 50, rng)
    score = irt.draw_scores(abilities[person, truth.objective[item]], a[item], b[item], rng)
    fit = irt.calibrate(irt.Responses.from_arrays(person, item, score))
    pool = irt.ItemPool.build(fit.a, fit.b, codes)
    form = irt.FormRule({f"D{o}": 5 for o in range(OBJECTIVES)}, cut_percent=cut)
    return World(truth, pool, form, float(np.corrcoef(fit.b, b)[0, 1]))


@dataclass
class ReadinessRun:
    predicted: np.ndarray
    passed: np.ndarray
    covered: np.ndarray
    width: np.ndarray
    answered: np.ndarray
    seconds_each: float


def readiness_run(world: World, candidates: int, rng: np.random.Generator) -> ReadinessRun:
    size = world.truth.size
    predicted, passed, covered, width, answered = (np.zeros(candidates) for _ in range(5))
    spent = 0.0
    for c in range(candidates):
        theta = objective_abilities(rng)
        practice = rng.choice(size, rng.integers(0, 81), replace=False)
        evidence = irt.Evidence.of(practice, world.answer(practice, theta, rng))
        began = time.perf_counter()
        result = irt.readiness(world.pool, world.form, evidence, target_width=None)
        spent += time.perf_counter() - began
        drawn = irt.draw_form(world.truth, world.form, rng)
        passed[c] = world.answer(drawn, theta, rng).sum() >= world.form.required_right()
        true_pass = world.true_pass(theta)
        predicted[c], width[c], answered[c] = (
            result.probability,
            result.high - result.low,
            practice.size,
        )
        covered[c] = result.low - 1e-9 <= true_pass <= result.high + 1e-9
    return ReadinessRun(predicted, passed, covered, width, answered, spent / candidates)


def more_questions_run(
    world: World, checks: int, rng: np.random.Generator
) -> list[tuple[int, int, float, float]]:
    """(answers before, further questions readiness asked for, width before, width after
    answering them). The further answers are spread over the objectives as a form spreads
    them; past an objective's 20 items they repeat items (drawn afresh, as the model has it)."""
    found = []
    for _ in range(checks):
        theta = objective_abilities(rng)
        practice = rng.choice(world.truth.size, rng.integers(0, 21), replace=False)
        scores = world.answer(practice, theta, rng)
        evidence = irt.Evidence.of(practice, scores)
        before = irt.readiness(world.pool, world.form, evidence, target_width=TARGET_WIDTH)
        if not before.more_questions:
            continue
        per_objective = math.ceil(before.more_questions / OBJECTIVES)
        extra = np.concatenate(
            [
                rng.choice(np.flatnonzero(world.truth.objective == o), per_objective)
                for o in range(OBJECTIVES)
            ]
        )
        items = np.concatenate([practice, extra])
        more = irt.Evidence.of(items, np.concatenate([scores, world.answer(extra, theta, rng)]))
        after = irt.readiness(world.pool, world.form, more, target_width=None)
        found.append(
            (practice.size, before.more_questions, before.high - before.low, after.high - after.low)
        )
    return found


def reliability_table(
    predicted: np.ndarray, passed: np.ndarray
) -> list[tuple[str, int, float, float]]:
    rows = []
    for tenth in range(10):
        low, high = tenth / 10, (tenth + 1) / 10
        inside = (predicted >= low) & ((predicted < high) | (tenth == 9))
        if inside.any():
            rows.append(
                (
                    f"{tenth * 10}-{tenth * 10 + 10}%",
                    int(inside.sum()),
                    float(predicted[inside].mean()),
                    float(passed[inside].mean()),
                )
            )
    return rows


# --- 4. adaptive practice -----------------------------------------------------------------


@dataclass
class AdaptiveRun:
    adaptive: list[int]
    random: list[int]
    exposure: float
    overlap: float
    first: float
    exposure_top1: float
    overlap_top1: float
    first_top1: float


def sessions(
    world: World, candidates: int, top_k: int, rng: np.random.Generator
) -> tuple[list[int], tuple[np.ndarray, np.ndarray]]:
    """Items served until SE < 0.4, per candidate; which items each session served, and the
    first item of each."""
    rule = irt.StopRule(max_items=world.truth.size, target_se=0.4, min_items=1)
    seen = np.zeros((candidates, world.truth.size), dtype=bool)
    first = np.zeros(candidates, dtype=np.int64)
    lengths = []
    for c in range(candidates):
        theta = objective_abilities(rng)
        served: list[int] = []
        scores: list[float] = []
        while True:
            evidence = irt.Evidence.of(served, scores)
            choice = irt.next_item(
                world.pool, evidence, served, form=world.form, rng=rng, stop=rule, top_k=top_k
            )
            if choice.item is None:
                break
            served.append(choice.item)
            scores.append(float(world.answer(np.array([choice.item]), theta, rng)[0]))
        lengths.append(len(served))
        seen[c, served] = True
        first[c] = served[0] if served else 0
    return lengths, (seen, first)


def exposure(sessions_seen: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """The largest share of sessions serving one item, the overlap rate (the mean number of
    items two sessions share over the mean session length; a random draw of L of N items:
    L / N), and the largest share of sessions that began with one item."""
    seen, first = sessions_seen
    counts = seen.sum(axis=0)
    shared = seen.astype(float) @ seen.T.astype(float)
    pairs = shared.sum() - np.trace(shared)
    n = seen.shape[0]
    overlap = pairs / (n * (n - 1)) / seen.sum(axis=1).mean()
    return float(counts.max() / n), float(overlap), float(np.bincount(first).max() / n)


def random_lengths(world: World, candidates: int, rng: np.random.Generator) -> list[int]:
    pool = world.pool
    lengths = []
    for _ in range(candidates):
        theta = objective_abilities(rng)
        order = rng.permutation(pool.size)
        scores = world.answer(order, theta, rng)
        for n in range(1, pool.size + 1):
            if irt.eap(pool.a[order[:n]], pool.b[order[:n]], scores[:n]).se[0] < 0.4:
                break
        lengths.append(n)
    return lengths


def adaptive_run(world: World, candidates: int, rng: np.random.Generator) -> AdaptiveRun:
    adaptive, seen = sessions(world, candidates, 5, rng)
    _, seen_top1 = sessions(world, candidates, 1, rng)
    return AdaptiveRun(
        adaptive, random_lengths(world, candidates, rng), *exposure(seen), *exposure(seen_top1)
    )


# --- the run ------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected attempts like 25000,50000, not {text!r}"
        ) from None
    if not sizes or min(sizes) < 100 or sizes != sorted(sizes):
        raise argparse.ArgumentTypeError("sizes must grow and be at least 100 attempts")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[25_000, 50_000, 100_000],
        help="attempts per calibration run, growing",
    )
    parser.add_argument("--pool", type=int, default=200, help="items the forms draw from")
    parser.add_argument("--length", type=int, default=50, help="items per attempt")
    parser.add_argument(
        "--wide-pool",
        type=int,
        default=1000,
        help="rerun the largest size over this many items (0: skip)",
    )
    parser.add_argument(
        "--pilot", type=int, default=5000, help="attempts calibrating the readiness pool"
    )
    parser.add_argument("--candidates", type=int, default=3000, help="readiness candidates")
    parser.add_argument("--cut", type=float, default=55.0, help="raw cut percent of the form")
    parser.add_argument(
        "--more-checks",
        type=int,
        default=100,
        help="candidates whose 'more questions' figure is tried out",
    )
    parser.add_argument("--adaptive", type=int, default=200, help="adaptive practice candidates")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 5,000 and 10,000, 600 readiness and 40 adaptive candidates",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.wide_pool = [5_000, 10_000], 0
        args.candidates, args.adaptive, args.more_checks, args.pilot = 600, 40, 20, 3000
    if not 1 <= args.length <= args.pool:
        parser.error("--length must be between 1 and --pool")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        attempts, pool, length, seed = (int(x) for x in args.child.split(","))
        print(json.dumps(calibration_child(attempts, pool, length, seed)))
        return 0
    broken: list[str] = []
    load = os.getloadavg()[0]
    print(f"item response theory on simulated candidates (load average {load:.1f})")

    print("\n1. 2PL calibration time and memory (each size in a fresh process)")
    runs = []
    plan = [(n, args.pool) for n in args.sizes]
    if args.wide_pool:
        plan.append((args.sizes[-1], args.wide_pool))
    for attempts, pool in plan:
        try:
            row = run_child(attempts, pool, args.length, args.seed)
        except RuntimeError as exc:
            broken.append(str(exc))
            print(f"  {exc}")
            continue
        runs.append(row)
        print(describe_calibration(row), flush=True)
        if not (row["converged"] and row["finite"]):
            broken.append(
                f"the calibration of {attempts} attempts over {pool} items did not converge"
            )
    narrow = [r for r in runs if r["pool"] == args.pool]
    if narrow:
        largest = narrow[-1]
        scenario = f"{largest['attempts']:,} attempts x {args.length} items, pool {args.pool}"
        summary_row(
            BENCH,
            scenario,
            "calibration time (2PL)",
            f"{largest['seconds']:.1f} s (CPU {largest['cpu_seconds']:.1f})",
            f"< {TARGET_SECONDS:g} s",
            largest["seconds"] < TARGET_SECONDS,
        )
        summary_row(
            BENCH,
            scenario,
            "calibration memory (allocated, RSS rise)",
            f"{largest['traced_mib']:.0f} MiB, {largest['rss_rise_mib']:.0f} MiB",
        )

        def per_million(row: dict[str, Any]) -> float:
            return float(row["traced_mib"] / (row["responses"] / 1e6))

        if len(narrow) > 1:
            growth = per_million(narrow[-1]) / per_million(narrow[0])
            print(
                f"  memory per million responses, {narrow[0]['attempts']:,} -> "
                f"{narrow[-1]['attempts']:,} attempts: x{growth:.2f}"
            )
            summary_row(
                BENCH,
                f"{narrow[0]['attempts']:,} -> {narrow[-1]['attempts']:,} attempts",
                "memory per million responses",
                f"{per_million(narrow[0]):.0f} -> {per_million(narrow[-1]):.0f} MiB",
                f"<= {MEMORY_GROWTH:g}x",
                growth <= MEMORY_GROWTH,
            )
        wide = [r for r in runs if r["pool"] != args.pool]
        if wide:
            ratio = wide[0]["traced_mib"] / largest["traced_mib"]
            print(
                f"  the same responses over {args.wide_pool} items instead of {args.pool}: "
                f"memory x{ratio:.2f}, time x{wide[0]['seconds'] / largest['seconds']:.2f}"
            )
            summary_row(
                BENCH,
                f"pool {args.pool} -> {args.wide_pool} items",
                "calibration memory",
                f"x{ratio:.2f}",
                f"<= {MEMORY_GROWTH:g}x",
                ratio <= MEMORY_GROWTH,
            )

    print("\n2. recovery: 2,000 candidates, 200 items, random forms of 50")
    for model in ("2pl", "rasch"):
        r = recovery(model, args.seed)
        slope = "" if model == "rasch" else f"r(a) {r.corr_a:.3f}, RMSE(a) {r.rmse_a:.3f}, "
        print(
            f"  {model}: {r.seconds:.2f} s; r(b) {r.corr_b:.4f}, RMSE(b) {r.rmse_b:.3f}, "
            f"{slope}true b within 2 SE {100 * r.within_b:.0f}%"
            + ("" if model == "rasch" else f", true a within 2 SE {100 * r.within_a:.0f}%")
            + f"; r(EAP θ, θ) {r.corr_theta:.3f}"
        )
        if model == "2pl":
            ok = r.corr_b >= 0.95 and r.corr_a >= 0.8 and r.converged
            summary_row(
                BENCH,
                "2,000 x 200, forms of 50",
                "recovery r(b), r(a) (2PL)",
                f"{r.corr_b:.3f}, {r.corr_a:.3f}",
                ">= 0.95, >= 0.8",
                ok,
            )
            if not ok:
                broken.append(f"2PL recovery missed: r(b) {r.corr_b:.3f}, r(a) {r.corr_a:.3f}")

    rng = np.random.default_rng(args.seed)
    world = make_world(args.pilot, args.cut, rng)
    print(
        f"\n3. readiness: {args.candidates:,} candidates, 0-80 practice answers each; pool "
        f"calibrated from {args.pilot:,} attempts (r(b) {world.pilot_corr_b:.3f}); form of 5 "
        f"items from each of 10 objectives, raw cut {args.cut:g}%"
    )
    run = readiness_run(world, args.candidates, rng)
    brier = float(np.mean((run.predicted - run.passed) ** 2))
    base = float(np.mean((run.passed.mean() - run.passed) ** 2))
    print(
        f"  passed {100 * run.passed.mean():.0f}%; Brier score {brier:.4f} (predicting the "
        f"pass rate for everyone: {base:.4f}; skill {1 - brier / base:.2f}); "
        f"{1000 * run.seconds_each:.1f} ms per readiness"
    )
    print("  predicted   candidates  mean predicted  passed")
    table = reliability_table(run.predicted, run.passed)
    for label, count, mean, observed in table:
        print(f"  {label:>9}  {count:>10}  {100 * mean:>13.1f}%  {100 * observed:>5.1f}%")
    likely = [row for row in table if row[0] == "70-80%"]
    observed = likely[0][3] if likely else float("nan")
    bin_ok = bool(likely) and 0.65 <= observed <= 0.85
    coverage = float(run.covered.mean())
    print(
        f"  the true P(pass | abilities) lay inside the 90% interval for {100 * coverage:.0f}% "
        f"of candidates; mean width {run.width.mean():.2f}"
    )
    for low, high in ((0, 0), (1, 20), (21, 40), (41, 80)):
        inside = (run.answered >= low) & (run.answered <= high)
        if inside.any():
            print(
                f"    {low}-{high} answers: width {run.width[inside].mean():.2f}, "
                f"coverage {100 * run.covered[inside].mean():.0f}%"
            )
    summary_row(
        BENCH,
        f"{args.candidates:,} candidates",
        "readiness Brier score",
        f"{brier:.3f} (base rate {base:.3f})",
        "below the base rate",
        brier < base,
    )
    summary_row(
        BENCH,
        f"{args.candidates:,} candidates",
        "predicted 70-80%: passed",
        f"{100 * observed:.0f}%",
        "65-85%",
        bin_ok,
    )
    summary_row(
        BENCH,
        f"{args.candidates:,} candidates",
        "true P(pass) inside the 90% interval",
        f"{100 * coverage:.0f}%",
    )
    if not bin_ok:
        broken.append(
            f"readiness calibration missed: of those predicted 70-80%, {observed:.0%} passed"
        )
    checks = more_questions_run(world, args.more_checks, rng)
    if checks:
        asked = np.array([c[1] for c in checks])
        after = np.array([c[3] for c in checks])
        met = float(np.mean(after <= TARGET_WIDTH + 0.05))
        print(
            f"  'more questions' for a width of {TARGET_WIDTH}: asked for a median of "
            f"{int(np.median(asked))} (range {asked.min()}-{asked.max()}) from candidates with "
            f"0-20 answers; after answering them the width was {np.median(after):.2f} "
            f"(median), within {TARGET_WIDTH + 0.05:.2f} for {100 * met:.0f}%"
        )
        summary_row(
            BENCH,
            f"{len(checks)} candidates",
            "width after the 'more questions'",
            f"median {np.median(after):.2f}",
            f"about {TARGET_WIDTH}",
        )

    print(f"\n4. adaptive practice: {args.adaptive} candidates until the SE of θ is below 0.4")
    adaptive = adaptive_run(world, args.adaptive, rng)
    ratio = float(np.mean(adaptive.adaptive) / np.mean(adaptive.random))
    print(
        f"  items: adaptive {np.mean(adaptive.adaptive):.1f} (median "
        f"{np.median(adaptive.adaptive):.0f}), random {np.mean(adaptive.random):.1f} (median "
        f"{np.median(adaptive.random):.0f}): ratio {ratio:.2f}"
    )
    print(
        f"  the most common first item began {100 * adaptive.first:.0f}% of sessions with the "
        f"randomesque top 5, {100 * adaptive.first_top1:.0f}% with top 1"
    )
    print(
        f"  exposure: the most served item was in {100 * adaptive.exposure:.0f}% of sessions "
        f"with the randomesque top 5 ({100 * adaptive.exposure_top1:.0f}% with top 1); two "
        f"sessions shared {100 * adaptive.overlap:.0f}% of their items "
        f"({100 * adaptive.overlap_top1:.0f}% with top 1; a random draw of the same length "
        f"about {100 * np.mean(adaptive.adaptive) / world.truth.size:.0f}%)"
    )
    summary_row(
        BENCH,
        f"{args.adaptive} candidates",
        "items to SE 0.4, adaptive / random",
        f"{ratio:.2f}",
        "< 1",
        ratio < 1,
    )
    summary_row(
        BENCH,
        f"{args.adaptive} candidates",
        "item overlap of two sessions (top 5; top 1)",
        f"{100 * adaptive.overlap:.0f}%; {100 * adaptive.overlap_top1:.0f}%",
    )

    summary_row(BENCH, "", "checks", "failed" if broken else "passed", "passed", not broken)
    if broken:
        print("\nBROKEN:")
        for problem in broken:
            print(f"  - {problem}")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
