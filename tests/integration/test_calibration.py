"""Item calibration and ability on both databases (issue 17): `exam-service calibrate` and
the background run over graded attempts of simulated candidates whose abilities and item
parameters are known, one run however many instances poll, the parameters in the item
report, θ in results and reports, and `scoring: irt` equating an easy and a hard form."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select, update

from exam_service.app import create_app
from exam_service.calibration import runs, service
from exam_service.cli import main
from exam_service.db import create_engine, session_factory, utcnow
from exam_service.grading import irt
from exam_service.grading.scoring import Scale, scaled_score
from exam_service.models import (
    Attempt,
    AttemptItem,
    CalibrationState,
    ItemCalibration,
    QuestionRevision,
    Response,
    Result,
)
from exam_service.settings import Settings
from tests.factories import Person, import_folder, write_questions
from tests.integration.exam_helpers import bank_by_stem, make_blueprint, right_answer, start
from tests.unit.pdf_checks import text as pdf_text

Client = AsyncTestClient  # type: ignore[type-arg]
OBJECTIVE = "D2.2.1"
"""The fixture bank has no question on this objective: the simulated questions are its."""
SCALE = Scale(100, 1000, 720, 70.0)
FIRST_ID = 1_000_000
"""Attempts written straight to the database take ids far above those the API makes."""


def simulated_bank(count: int, prefix: str = "sim") -> str:
    """`count` single-answer questions on OBJECTIVE, the first option right."""
    questions = []
    for j in range(count):
        questions.append(
            f"""  - id: {prefix}-{j:03d}
    type: single
    objectives: [{OBJECTIVE}]
    difficulty: medium
    source: "Simulation"
    stem: "Simulated question {prefix} {j}: which setting is right here?"
    options:
      - {{text: "Setting one of {j}", correct: true, rationale: "It is the key."}}
      - {{text: "Setting two of {j}", rationale: "It is not."}}
      - {{text: "Setting three of {j}", rationale: "It is not either."}}
    explanation: "Simulated question {j}."
"""
        )
    return "questions:\n" + "".join(questions)


async def revision_ids(url: str, prefix: str) -> list[int]:
    """The simulated questions' revision ids, in question order."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(QuestionRevision.id)
                .where(QuestionRevision.question_id.like(f"{prefix}-%"))
                .order_by(QuestionRevision.question_id)
            )
            return [rid for (rid,) in rows.all()]
    finally:
        await engine.dispose()


async def write_graded(
    url: str,
    user_id: int,
    blueprint_id: str,
    forms: Sequence[Sequence[int]],
    points: Sequence[Sequence[float]],
    first_id: int,
    settings: dict[str, Any] | None = None,
) -> list[int]:
    """Graded attempts written straight to the database (rows as grading leaves them):
    attempt i showed revisions `forms[i]`, every item scored, with `points[i]`."""
    now = utcnow()
    attempts, items, results = [], [], []
    for i, (form, marks) in enumerate(zip(forms, points, strict=True)):
        attempt_id = first_id + i
        total = float(sum(marks))
        percent = 100 * total / len(form)
        attempts.append(
            {
                "id": attempt_id,
                "user_id": user_id,
                "blueprint_id": blueprint_id,
                "seed": attempt_id,
                "status": "submitted",
                "source": "online",
                "mode": "exam",
                "started_at": now - timedelta(hours=1),
                "deadline": now,
                "closes_at": now,
                "submitted_at": now,
                "settings": settings or {"name": blueprint_id, "scale": {}},
            }
        )
        for position, (rid, mark) in enumerate(zip(form, marks, strict=True), start=1):
            items.append(
                {
                    "attempt_id": attempt_id,
                    "position": position,
                    "revision_id": int(rid),
                    "scored": True,
                    "layout": {"options": ["a", "b", "c"]},
                    "points": float(mark),
                    "attempt_score": total,
                }
            )
        results.append(
            {
                "attempt_id": attempt_id,
                "raw_score": total,
                "raw_possible": len(form),
                "raw_percent": round(percent, 1),
                "scaled_score": scaled_score(percent, SCALE),
                "passed": percent >= SCALE.raw_cut,
                "objectives": [],
                "graded_at": now,
            }
        )
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(insert(Attempt), attempts)
            await session.execute(insert(AttemptItem), items)
            await session.execute(insert(Result), results)
            await session.commit()
    finally:
        await engine.dispose()
    return [a["id"] for a in attempts]


class Simulation:
    """Candidates θ ~ N(0, 1) answering random forms of a pool with known a and b."""

    def __init__(self, a: np.ndarray, b: np.ndarray, seed: int) -> None:
        self.a, self.b = a, b
        self.rng = np.random.default_rng(seed)

    def forms(self, attempts: int, length: int) -> np.ndarray:
        """attempts x length pool indexes, each row a random form."""
        _, item = irt.draw_forms(attempts, self.a.size, length, self.rng)
        return item.reshape(attempts, length)

    def scores(self, items: np.ndarray) -> np.ndarray:
        """0/1 scores of a fresh candidate per row of `items`."""
        theta = self.rng.standard_normal(items.shape[0])
        return irt.draw_scores(theta[:, None], self.a[items], self.b[items], self.rng)


# --- calibration through the command ------------------------------------------------------

POOL = 40
MISKEYED = 7
"""Pool index of an item whose key is wrong: abler candidates get it wrong more often."""
RARE = 39
"""Pool index of an item only a few attempts saw."""


@pytest.fixture
async def calibration_data(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person], cohort_id: int
) -> dict[str, Any]:
    """600 graded attempts of 15 items from a 40-item pool on blueprint `sim` (the
    candidate's, who is in the instructor's cohort): item 7 miskeyed, item 39 seen by
    12 attempts only."""
    write_questions(bank_dir, "sim.yaml", simulated_bank(POOL))
    await import_folder(db_url, bank_dir)
    await make_blueprint(
        client, people["admin"], "sim", question_count=15, objective_counts={OBJECTIVE: 15}
    )
    ids = await revision_ids(db_url, "sim")
    rng = np.random.default_rng(11)
    a, b = irt.draw_items(POOL, rng)
    a[MISKEYED] = -1.2
    simulation = Simulation(a, b, seed=12)
    items = simulation.forms(600, 15)
    for row in np.flatnonzero((items == RARE).any(axis=1))[12:]:  # 12 attempts see it
        spare = next(j for j in range(POOL) if j != RARE and j not in items[row])
        items[row][items[row] == RARE] = spare
    scores = simulation.scores(items)
    forms = [[ids[j] for j in row] for row in items]
    await write_graded(db_url, people["candidate"].user.id, "sim", forms, scores.tolist(), FIRST_ID)
    return {"ids": ids, "a": a, "b": b}


async def test_the_command_calibrates_every_graded_attempt_and_says_what_it_did(
    calibration_data: dict[str, Any],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EXAM_DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["calibrate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("calibrated 2PL from 600 graded attempts (9,000 responses)")
    # 40 simulated questions answered (the starter questions were not): 39 estimated, the
    # rare one skipped, the miskeyed one named
    assert "39 items estimated, 1 skipped for fewer than 30 responses" in out
    assert "sim-007 r1" in out

    ids, true_b = calibration_data["ids"], calibration_data["b"]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            found = await service.revision_parameters(session, ids)
            assert await service.active_model(session) == "2pl"
    finally:
        await engine.dispose()
    good = [j for j in range(POOL) if j not in (MISKEYED, RARE)]
    assert all(found[ids[j]].source == "calibrated" for j in good)
    estimated_b = [found[ids[j]].b for j in good]
    assert np.corrcoef(estimated_b, true_b[good])[0, 1] > 0.95
    assert found[ids[MISKEYED]].misfit and found[ids[MISKEYED]].a < irt.MIN_DISCRIMINATION
    rare = found[ids[RARE]]
    assert (rare.source, rare.status, rare.responses) == ("facility", "too_few_responses", 12)
    assert rare.a == 1.0 and -6 < rare.b < 6

    # the Rasch model on demand: it becomes the model in use
    assert await asyncio.to_thread(main, ["calibrate", "--model", "rasch"]) == 0
    assert capsys.readouterr().out.startswith("calibrated Rasch from 600 graded attempts")
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            assert await service.active_model(session) == "rasch"
            rasch = await service.revision_parameters(session, ids)
    finally:
        await engine.dispose()
    slopes = {round(rasch[ids[j]].a, 6) for j in good}
    assert len(slopes) == 1  # one slope shared by every item
    assert np.corrcoef([rasch[ids[j]].b for j in good], true_b[good])[0, 1] > 0.9


async def test_the_command_with_nothing_graded_and_while_a_run_holds_the_lease(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAM_DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["calibrate"]) == 0
    assert capsys.readouterr().out.strip() == "no graded attempts yet: nothing to calibrate"

    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(
                update(CalibrationState)
                .where(CalibrationState.id == 1)
                .values(claimed_by="app-2:41", claimed_until=utcnow() + timedelta(minutes=5))
            )
            await session.commit()
    finally:
        await engine.dispose()
    assert await asyncio.to_thread(main, ["calibrate"]) == 1
    err = capsys.readouterr().err
    assert "a calibration run by app-2:41 is under way" in err
    assert "run this again when it has finished" in err


# --- the background run -------------------------------------------------------------------


async def state_row(url: str) -> CalibrationState | None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return await session.get(CalibrationState, 1)
    finally:
        await engine.dispose()


async def test_two_instances_polling_at_once_run_one_calibration(
    calibration_data: dict[str, Any], db_url: str, people: dict[str, Person]
) -> None:
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        one, two = (session_factory(engine) for engine in engines)
        ran = await asyncio.gather(
            runs.calibrate_if_due(one, None, 3600, "instance-one"),
            runs.calibrate_if_due(two, None, 3600, "instance-two"),
        )
        done = [summary for summary in ran if summary is not None]
        assert len(done) == 1, ran
        assert done[0].attempts == 600 and done[0].estimated == 39
        first = await state_row(db_url)
        assert first is not None and first.finished_at is not None
        assert first.claimed_until is None and first.model == "2pl"

        # within the interval nobody runs it again
        assert await runs.calibrate_if_due(two, None, 3600, "instance-two") is None
        # due again, but nothing was graded since: skipped
        assert await runs.calibrate_if_due(two, None, 0, "instance-two") is None
        skipped = await state_row(db_url)
        assert skipped is not None and skipped.finished_at == first.finished_at
        assert skipped.started_at is not None and skipped.started_at > first.started_at

        # one more graded attempt: the next due poll runs it
        ids = calibration_data["ids"]
        await write_graded(
            db_url, people["candidate"].user.id, "sim", [ids[:15]], [[1.0] * 15], FIRST_ID + 600
        )
        summary = await runs.calibrate_if_due(one, None, 0, "instance-one")
        assert summary is not None and summary.attempts == 601 and summary.by == "instance-one"
        again = await state_row(db_url)
        assert again is not None and again.finished_at > first.finished_at
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_service_calibrates_in_the_background_while_it_serves(
    calibration_data: dict[str, Any], settings: Settings, db_url: str
) -> None:
    background = replace(settings, calibration_interval_seconds=1)
    async with AsyncTestClient(app=create_app(background)) as client:
        state = None
        for _ in range(240):
            assert (await client.get("/health")).status_code == 200
            state = await state_row(db_url)
            if state is not None and state.finished_at is not None:
                break
            await asyncio.sleep(0.25)
    assert state is not None and state.finished_at is not None, "no background run in 60 s"
    assert state.summary is not None and state.summary["by"] == runs.instance_name()
    assert state.summary["estimated"] == 39
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            stored = (await session.scalars(select(ItemCalibration))).all()
    finally:
        await engine.dispose()
    assert len(stored) == POOL


# --- the item report ----------------------------------------------------------------------


async def test_the_item_report_shows_the_parameters_and_flags_misfits(
    calibration_data: dict[str, Any],
    client: Client,
    db_url: str,
    people: dict[str, Person],
) -> None:
    instructor = people["instructor"].headers
    before = await client.get("/api/v1/reports/items?blueprint_id=sim", headers=instructor)
    assert before.status_code == 200
    assert before.json()["calibrated_at"] is None
    assert len(before.json()["items"]) == POOL
    assert all(item["a"] is None and item["calibration"] is None for item in before.json()["items"])
    page = await client.get("/items?blueprint_id=sim", headers=instructor)
    assert "No calibration has run yet" in page.text

    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            await runs.calibrate_now(session)
    finally:
        await engine.dispose()

    response = await client.get("/api/v1/reports/items?blueprint_id=sim", headers=instructor)
    assert response.status_code == 200
    report = response.json()
    assert report["calibration_model"] == "2pl" and report["calibrated_at"] is not None
    items = {item["question_id"]: item for item in report["items"]}
    good = items["sim-000"]
    assert good["calibration"] == "estimated" and good["model"] == "2pl"
    for name in ("a", "se_a", "b", "se_b", "infit", "outfit"):
        assert isinstance(good[name], float), name
    assert 0 < good["se_b"] < 1 and 0.7 < good["infit"] < 1.3 and not good["misfit"]
    miskeyed = items["sim-007"]
    assert miskeyed["misfit"] is True
    assert any(flag.startswith("misfit: slope a = ") for flag in miskeyed["flags"])
    rare = items["sim-039"]
    assert rare["calibration"] == "too_few_responses" and rare["a"] is None
    assert rare["b"] is None and not rare["misfit"]

    download = await client.get(
        "/api/v1/reports/items?blueprint_id=sim&format=csv", headers=instructor
    )
    rows = {row["question_id"]: row for row in csv.DictReader(io.StringIO(download.text))}
    assert float(rows["sim-000"]["b"]) == pytest.approx(good["b"])
    assert rows["sim-007"]["misfit"] == "True" and rows["sim-039"]["a"] == ""
    assert rows["sim-039"]["calibration"] == "too_few_responses"

    page = await client.get("/items?blueprint_id=sim", headers=instructor)
    assert page.status_code == 200
    assert "a (SE)" in page.text and "Item parameters: 2PL model" in page.text
    assert f"{good['b']:.2f} ({good['se_b']:.2f})" in page.text
    assert "misfit: slope a = " in page.text


# --- ability in results and reports -------------------------------------------------------


async def test_results_and_reports_carry_theta_with_its_standard_error(
    calibration_data: dict[str, Any],
    client: Client,
    db_url: str,
    people: dict[str, Person],
) -> None:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            await runs.calibrate_now(session)
    finally:
        await engine.dispose()
    candidate = people["candidate"]
    bank = await bank_by_stem(client, people["instructor"])
    ids_ = calibration_data["ids"]
    revision_of = {f"sim-{j:03d}": ids_[j] for j in range(POOL)}
    thetas = []
    for right in (True, False):
        attempt = await start(client, candidate, "sim")
        if right:
            for item in attempt["items"]:
                answer = right_answer(item, bank[item["stem"]])
                saved = await client.put(
                    f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
                    json={"answer": answer},
                    headers=candidate.headers,
                )
                assert saved.status_code == 200
        submitted = await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
        )
        assert submitted.status_code in (200, 201), submitted.text
        result = submitted.json()
        assert result["scoring"] == "raw"
        assert 0 < result["theta_se"] < 1
        thetas.append(result["theta"])
        again = await client.get(
            f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers
        )
        assert again.json()["theta"] == result["theta"]

        # θ is the EAP over the attempt's items with the stored parameters
        items = sorted(attempt["items"], key=lambda item: item["position"])
        ids = [revision_of[bank[item["stem"]]["id"]] for item in items]
        engine = create_engine(db_url)
        try:
            async with session_factory(engine)() as session:
                found = await service.revision_parameters(session, ids)
        finally:
            await engine.dispose()
        expected = irt.eap(
            [found[r].a for r in ids], [found[r].b for r in ids], [1.0 if right else 0.0] * 15
        )
        assert result["theta"] == pytest.approx(expected.theta[0], abs=1e-3)
        assert result["theta_se"] == pytest.approx(expected.se[0], abs=1e-3)
    all_right, all_wrong = thetas
    assert all_right > 1 and all_wrong < -1

    report = await client.get(
        f"/api/v1/reports/candidates/{candidate.user.id}", headers=people["instructor"].headers
    )
    assert report.status_code == 200
    attempts = [a for a in report.json()["attempts"] if a["theta"] is not None]
    assert [round(a["theta"], 4) for a in attempts] == [round(t, 4) for t in thetas]
    pdf = await client.get(
        f"/api/v1/reports/candidates/{candidate.user.id}?format=pdf",
        headers=people["instructor"].headers,
    )
    assert pdf.status_code == 200
    printed = pdf_text(pdf.content)
    assert "Ability θ (SE)" in printed
    assert f"{all_right:.2f}" in printed and f"{all_wrong:.2f}" in printed


# --- scoring: irt -------------------------------------------------------------------------

EASY_HARD = 30
"""Easy items (b around -1.2) and as many hard ones (b around +1.2)."""
FORM_LENGTH = 20
SAME_ABILITY = 0.3
PER_FORM = 50


async def test_irt_scoring_equates_an_easy_and_a_hard_form(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    """Candidates of the same ability sit an easy and a hard form of one `scoring: irt`
    blueprint: their raw scores are far apart, their scaled scores about the same."""
    write_questions(bank_dir, "eq.yaml", simulated_bank(2 * EASY_HARD, prefix="eq"))
    await import_folder(db_url, bank_dir)
    await make_blueprint(
        client,
        people["admin"],
        "equated",
        question_count=FORM_LENGTH,
        objective_counts={OBJECTIVE: FORM_LENGTH},
        scoring="irt",
    )
    shown = await client.get("/api/v1/blueprints/equated", headers=people["candidate"].headers)
    assert shown.json()["scoring"] == "irt"
    ids = await revision_ids(db_url, "eq")
    rng = np.random.default_rng(5)
    a = np.exp(rng.normal(0, 0.2, 2 * EASY_HARD))
    b = np.concatenate([rng.normal(-1.2, 0.3, EASY_HARD), rng.normal(1.2, 0.3, EASY_HARD)])
    # calibration data: 1,500 earlier attempts of random forms
    simulation = Simulation(a, b, seed=6)
    items = simulation.forms(1500, FORM_LENGTH)
    scores = simulation.scores(items)
    await write_graded(
        db_url,
        people["other-candidate"].user.id,
        "equated",
        [[ids[j] for j in row] for row in items],
        scores.tolist(),
        FIRST_ID,
    )
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            summary = await runs.calibrate_now(session)
            assert summary.estimated == 2 * EASY_HARD
    finally:
        await engine.dispose()

    # the candidate sits the easy form and the hard form PER_FORM times each, at θ = 0.3,
    # as if 50 candidates of that ability sat each
    candidate = people["candidate"]
    easy, hard = list(range(EASY_HARD))[:FORM_LENGTH], list(range(EASY_HARD, 2 * EASY_HARD))
    forms = {"easy": easy, "hard": hard[:FORM_LENGTH]}
    settings = {
        "name": "equated",
        "scale": {"min": 100, "max": 1000, "pass": 720, "raw_cut": 70.0},
        "partial_credit": False,
        "review_policy": "after_submit",
        "grace_seconds": 0,
        "time_limit_seconds": 3600,
        "scoring": "irt",
    }
    attempt_ids = await open_attempts(
        db_url, candidate.user.id, "equated", forms, [ids[j] for j in range(len(ids))], settings
    )
    answers_rng = np.random.default_rng(8)
    results: dict[str, list[dict[str, Any]]] = {"easy": [], "hard": []}
    for name, form in forms.items():
        answers = stratified_answers(irt.probability(a[form], b[form], SAME_ABILITY), answers_rng)
        for attempt_id, right in zip(attempt_ids[name], answers, strict=True):
            await save_answers(db_url, attempt_id, right)
            submitted = await client.post(
                f"/api/v1/attempts/{attempt_id}/submit", headers=candidate.headers
            )
            assert submitted.status_code in (200, 201), submitted.text
            results[name].append(submitted.json())

    def mean(name: str, field: str) -> float:
        return float(np.mean([r[field] for r in results[name]]))

    raw_gap = mean("easy", "raw_percent") - mean("hard", "raw_percent")
    raw_scaled_gap = np.mean(
        [scaled_score(r["raw_percent"], SCALE) for r in results["easy"]]
    ) - np.mean([scaled_score(r["raw_percent"], SCALE) for r in results["hard"]])
    irt_gap = mean("easy", "scaled_score") - mean("hard", "scaled_score")
    # Raw scoring: the easy form gives about 50 more percent (81% against 31%), some 440
    # scaled points.
    assert raw_gap > 40, raw_gap
    assert raw_scaled_gap > 350, raw_scaled_gap
    # irt: about the same. EAP shrinks towards the mean, a little more on the form that
    # says less about these candidates: at θ = 0.3 the expected EAP is 0.30 on the easy
    # form and 0.16 on the hard one (simulated with these calibrated parameters), about 20
    # scaled points apart.
    assert abs(irt_gap) < 50, (irt_gap, raw_scaled_gap)
    assert abs(mean("easy", "theta") - mean("hard", "theta")) < 0.3
    for result in results["easy"] + results["hard"]:
        assert result["scoring"] == "irt"
        assert result["passed"] == (result["scaled_score"] >= SCALE.pass_)


def stratified_answers(chance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """PER_FORM answer patterns (rows) in which item j is right in round(PER_FORM · chance_j)
    of them, the rows drawn at random: each pattern is a plausible one at that ability, and
    the group's item totals are what the model expects (stratified sampling), so that the
    comparison of two groups of 50 is not left to the luck of the draw."""
    right = np.zeros((PER_FORM, chance.size), dtype=bool)
    for j, p in enumerate(chance):
        right[rng.choice(PER_FORM, round(PER_FORM * p), replace=False), j] = True
    return right


async def open_attempts(
    url: str,
    user_id: int,
    blueprint_id: str,
    forms: dict[str, list[int]],
    ids: list[int],
    settings: dict[str, Any],
) -> dict[str, list[int]]:
    """PER_FORM in-progress attempts at each named form (pool indexes), as a start leaves
    them, with the options shown in file order (A is the key)."""
    now = utcnow()
    made: dict[str, list[int]] = {}
    attempts, items = [], []
    next_id = FIRST_ID + 10_000
    for name, form in forms.items():
        for _ in range(PER_FORM):
            attempts.append(
                {
                    "id": next_id,
                    "user_id": user_id,
                    "blueprint_id": blueprint_id,
                    "seed": next_id,
                    "status": "in_progress",
                    "source": "online",
                    "mode": "exam",
                    "started_at": now,
                    "deadline": now + timedelta(hours=1),
                    "closes_at": now + timedelta(hours=1),
                    "settings": settings,
                }
            )
            items.extend(
                {
                    "attempt_id": next_id,
                    "position": position,
                    "revision_id": ids[j],
                    "scored": True,
                    "layout": {"options": ["a", "b", "c"]},
                }
                for position, j in enumerate(form, start=1)
            )
            made.setdefault(name, []).append(next_id)
            next_id += 1
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(insert(Attempt), attempts)
            await session.execute(insert(AttemptItem), items)
            await session.commit()
    finally:
        await engine.dispose()
    return made


async def save_answers(url: str, attempt_id: int, right: np.ndarray) -> None:
    """Answer every item: the key (A) where `right`, else B."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(
                insert(Response),
                [
                    {
                        "attempt_id": attempt_id,
                        "position": position,
                        "answer": ["A"] if mark else ["B"],
                        "flagged": False,
                        "locked": False,
                        "saved_at": utcnow(),
                    }
                    for position, mark in enumerate(right.tolist(), start=1)
                ],
            )
            await session.commit()
    finally:
        await engine.dispose()


def test_the_equating_target_is_the_scale_map_of_the_expected_percent() -> None:
    """What the README says of `scoring: irt`: θ_c maps to the passing score exactly."""
    pool = irt.ItemPool.build([1.0, 1.2, 0.8], [-1.0, 0.0, 1.0], ["*"] * 3)
    form = irt.FormRule({"*": 2}, cut_percent=70.0)
    cut = irt.cut_theta(pool, form)
    assert scaled_score(float(irt.form_percent(pool, form, cut)), SCALE) == SCALE.pass_
    assert math.isclose(float(irt.form_percent(pool, form, cut)), 70.0, abs_tol=1e-6)


async def test_blueprints_take_a_scoring_option(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    (bank_dir / "blueprints" / "equated-file.yaml").write_text(
        (bank_dir / "blueprints" / "starter.yaml")
        .read_text()
        .replace("id: starter-mock", "id: equated-file")
        + "scoring: irt\n"
    )
    await import_folder(db_url, bank_dir)
    admin = people["admin"]
    starter = await client.get("/api/v1/blueprints/starter-mock", headers=admin.headers)
    assert starter.json()["scoring"] == "raw"  # the default
    from_file = await client.get("/api/v1/blueprints/equated-file", headers=admin.headers)
    assert from_file.json()["scoring"] == "irt"

    await make_blueprint(client, admin, "by-api", question_count=3, scoring="irt")
    made = await client.get("/api/v1/blueprints/by-api", headers=admin.headers)
    assert made.json()["scoring"] == "irt"
    wrong = await client.post(
        "/api/v1/blueprints",
        json={
            "id": "wrong",
            "name": "Wrong",
            "mode": "practice",
            "question_count": 3,
            "scale": {"min": 0, "max": 100, "pass": 70},
            "scoring": "theta",
        },
        headers=admin.headers,
    )
    assert wrong.status_code == 400, wrong.text
    assert {"message": "Invalid enum value 'theta'", "key": "scoring", "source": "body"} in (
        wrong.json()["errors"]
    )
