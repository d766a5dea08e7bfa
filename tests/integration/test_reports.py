"""Reports on both databases: a hand-computed cohort, then random data checked against
NumPy and SciPy; CSV and PDF downloads; the candidate's score report."""

from __future__ import annotations

import asyncio
import io
import math
import statistics
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from scipy import stats
from sqlalchemy import text

from exam_service.db import create_engine, session_factory, utcnow
from exam_service.grading.scoring import Scale, scaled_score
from exam_service.migrate import downgrade, upgrade
from exam_service.models import Attempt, AttemptItem, Blueprint, Question, QuestionRevision, Result
from exam_service.settings import Settings
from tests.factories import Person, import_folder, make_cohort, make_people
from tests.integration.exam_helpers import (
    bank_by_stem,
    make_blueprint,
    right_answer,
    start,
    wrong_answer,
)

Client = AsyncTestClient  # type: ignore[type-arg]
IDS = [
    "algorithm-match",
    "amt-steps",
    "churn-algorithm",
    "churn-explain",
    "churn-why-builtin",
    "l1-zero-weights",
    "regularization-pick-two",
]
# Who answered what right, on the fixed seven-question form (columns in IDS order).
MATRIX = {
    "c1": [1, 1, 1, 1, 1, 1, 1],
    "c2": [1, 1, 1, 1, 1, 0, 0],
    "c3": [1, 0, 1, 1, 0, 1, 0],
    "c4": [0, 1, 1, 0, 0, 0, 1],
    "c5": [0, 0, 1, 0, 0, 0, 0],
}
AWS = Scale(100, 1000, 720, 70)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
async def hand_cohort(
    client: Client, db_url: str, bank_dir: Path, settings: Settings, people: dict[str, Person]
) -> dict[str, Any]:
    """Five candidates of one cohort sit the whole seven-question bank as a fixed form."""
    await import_folder(db_url, bank_dir)
    await make_blueprint(client, people["admin"], "fixed", question_count=7)
    crowd = await make_people(settings, *((name, "candidate") for name in MATRIX))
    cohort_id = await make_cohort(settings, people["instructor"], list(crowd.values()))
    bank = await bank_by_stem(client, people["instructor"])
    attempt_ids = {}
    for name, row in MATRIX.items():
        right = {qid for qid, mark in zip(IDS, row, strict=True) if mark}
        attempt = await start(client, crowd[name], "fixed")
        for item in attempt["items"]:
            question = bank[item["stem"]]
            answer = (right_answer if question["id"] in right else wrong_answer)(item, question)
            saved = await client.put(
                f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
                json={"answer": answer},
                headers=crowd[name].headers,
            )
            assert saved.status_code == 200
        done = await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=crowd[name].headers
        )
        assert done.status_code == 200
        attempt_ids[name] = attempt["id"]
    return {"cohort_id": cohort_id, "people": crowd, "attempts": attempt_ids}


async def test_cohort_report_by_hand(
    client: Client, people: dict[str, Person], hand_cohort: dict[str, Any]
) -> None:
    response = await client.get(
        f"/api/v1/reports/cohorts/{hand_cohort['cohort_id']}",
        params={"blueprint_id": "fixed"},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    totals = [sum(row) for row in MATRIX.values()]  # 7, 5, 4, 3, 1
    scaled = [scaled_score(100 * t / 7, AWS) for t in totals]
    assert scaled == [1000, 733, 606, 480, 227]
    assert (report["candidates"], report["attempts"]) == (5, 5)
    assert report["mean"] == round(sum(scaled) / 5, 1) == 609.2
    assert report["median"] == 606
    assert report["sd"] == round(statistics.stdev(scaled), 1)
    assert report["pass_rate"] == 0.4
    # bins of 90 from 100: 227 in the 2nd, 480 the 5th, 606 the 6th, 733 the 8th, 1000 the last
    assert [b["count"] for b in report["histogram"]] == [0, 1, 0, 0, 1, 1, 0, 1, 0, 1]
    assert report["histogram"][0] == {"low": 100.0, "high": 190.0, "count": 0}
    # KR-20 = k/(k-1) (1 - Σpq/σ²): Σpq = 6 x 0.24 = 1.44, σ² = 4 (population) -> 0.747
    assert report["reliability_method"] == "KR-20"
    assert report["reliability"] == round(7 / 6 * (1 - 1.44 / 4), 3) == 0.747
    assert report["sem_raw"] == round(math.sqrt(5) * math.sqrt(1 - 7 / 6 * 0.64), 2)
    mastery = {n["code"]: n for n in report["objectives"]}
    # D2.2.3 holds l1-zero-weights and regularization-pick-two: 100, 0, 50, 50, 0 percent
    d223 = mastery["D2.2.3"]
    assert (d223["attempts"], d223["mean_percent"], d223["meeting_share"]) == (5, 40.0, 0.2)
    half = 1.959964 * statistics.stdev([100, 0, 50, 50, 0]) / math.sqrt(5)
    assert (d223["ci_low"], d223["ci_high"]) == (round(40 - half, 1), round(40 + half, 1))
    assert mastery["MLA-C01"]["mean_percent"] == round(100 * sum(totals) / 35, 1)

    first_only = await client.get(
        f"/api/v1/reports/cohorts/{hand_cohort['cohort_id']}",
        params={"blueprint_id": "fixed", "attempts": "first"},
        headers=people["instructor"].headers,
    )
    assert first_only.json()["attempts"] == 5


async def test_item_report_by_hand(
    client: Client, people: dict[str, Person], hand_cohort: dict[str, Any]
) -> None:
    response = await client.get(
        "/api/v1/reports/items",
        params={"blueprint_id": "fixed", "cohort_id": hand_cohort["cohort_id"]},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["attempts"] == 5 and report["group_share"] == 0.27
    items = {i["question_id"]: i for i in report["items"]}
    assert sorted(items) == IDS
    match = items["algorithm-match"]
    assert (match["responses"], match["facility"]) == (5, 0.6)
    # x = 1,1,1,0,0 against rest = 6,4,3,3,1: r = 2.8 / sqrt(1.2 * 13.2)
    assert match["point_biserial"] == round(2.8 / math.sqrt(1.2 * 13.2), 3) == 0.704
    assert match["discrimination_index"] == 1.0  # the top attempt right, the bottom wrong
    easy = items["churn-algorithm"]
    assert easy["facility"] == 1.0 and easy["point_biserial"] is None
    assert "too easy" in easy["flags"]
    xgboost = next(o for o in easy["options"] if o["correct"])
    assert xgboost["text"] == "XGBoost" and xgboost["share"] == 1.0
    assert sum(o["share"] for o in easy["options"]) == 1.0

    csv_text = (
        await client.get(
            "/api/v1/reports/items",
            params={"blueprint_id": "fixed", "format": "csv"},
            headers=people["instructor"].headers,
        )
    ).text
    lines = csv_text.splitlines()
    assert lines[0].startswith("question_id,revision,type,objective,responses")
    assert any(line.startswith("churn-algorithm,1,single,D2.1.2,5,5,1.0,,") for line in lines)


async def test_item_analysis_page_as_its_form_sends_it(
    client: Client, people: dict[str, Person], hand_cohort: dict[str, Any]
) -> None:
    """The form's "All my cohorts" sends an empty cohort_id: the report over every cohort,
    as with no cohort_id at all; a cohort's id narrows it; anything else is a 400 naming
    the field."""
    headers = people["instructor"].headers
    for cohort in ("", str(hand_cohort["cohort_id"])):
        page = await client.get(
            "/items", params={"blueprint_id": "fixed", "cohort_id": cohort}, headers=headers
        )
        assert page.status_code == 200, page.text
        assert "5 attempts." in page.text and "algorithm-match" in page.text
    refused = await client.get(
        "/items",
        params={"blueprint_id": "fixed", "cohort_id": "first"},
        headers=headers | {"accept": "application/json"},
    )
    assert refused.status_code == 400
    assert "cohort_id must be a cohort's id" in refused.json()["detail"]


async def _choices_and_objective_rows(url: str) -> tuple[list[Any], list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            chosen = await connection.execute(
                text(
                    "SELECT attempt_id, position, chosen, attempt_score FROM attempt_items "
                    "ORDER BY attempt_id, position"
                )
            )
            nodes = await connection.execute(
                text(
                    "SELECT attempt_id, objective_id, points, possible FROM result_objectives "
                    "ORDER BY attempt_id, objective_id"
                )
            )
            return [tuple(r) for r in chosen.all()], [tuple(r) for r in nodes.all()]
    finally:
        await engine.dispose()


async def test_migration_keeps_choices_and_rebuilds_objective_rows(
    db_url: str, hand_cohort: dict[str, Any]
) -> None:
    """Down to the revision that kept choices in `item_choices` (and no raw score on item
    rows), with the per-objective rows gone as for attempts graded before they existed,
    then up again: the same rows."""
    chosen, nodes = await _choices_and_objective_rows(db_url)
    assert any(" " in (c or "") for _, _, c, _ in chosen)  # a multiple-answer item
    assert all(score is not None for *_, score in chosen) and nodes
    await asyncio.to_thread(downgrade, db_url, "35661c9ed3eb")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM result_objectives"))
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, db_url)
    assert await _choices_and_objective_rows(db_url) == (chosen, nodes)


async def test_candidate_report_and_score_pdf(
    client: Client, people: dict[str, Person], hand_cohort: dict[str, Any]
) -> None:
    c3 = hand_cohort["people"]["c3"]
    mine = await client.get(f"/api/v1/reports/candidates/{c3.user.id}", headers=c3.headers)
    assert mine.status_code == 200
    report = mine.json()
    assert [a["scaled_score"] for a in report["attempts"]] == [606]
    percents = [t["latest"] for t in report["objectives"]]
    assert percents == sorted(percents)  # weakest first
    assert report["objectives"][0]["label"] == "needs improvement"
    assert any(t["study"] for t in report["objectives"])
    other = await client.get(
        f"/api/v1/reports/candidates/{c3.user.id}", headers=people["other-candidate"].headers
    )
    assert other.status_code == 404
    teacher = await client.get(
        f"/api/v1/reports/candidates/{c3.user.id}",
        params={"format": "csv"},
        headers=people["instructor"].headers,
    )
    assert teacher.status_code == 200 and teacher.text.startswith("code,title,level,latest")

    attempt_id = hand_cohort["attempts"]["c3"]
    score = await client.get(f"/api/v1/attempts/{attempt_id}/report.pdf", headers=c3.headers)
    assert score.status_code == 200 and score.headers["content-type"] == "application/pdf"
    text = pdf_text(score.content)
    assert "606" in text and "FAIL" in text
    assert "Choose a modeling approach" in text


async def test_cohort_pdf(
    client: Client, people: dict[str, Person], hand_cohort: dict[str, Any]
) -> None:
    response = await client.get(
        f"/api/v1/reports/cohorts/{hand_cohort['cohort_id']}",
        params={"blueprint_id": "fixed", "format": "pdf"},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "too easy" in text and "churn-algorithm" in text and "KR-20" in text
    csv_response = await client.get(
        f"/api/v1/reports/cohorts/{hand_cohort['cohort_id']}",
        params={"blueprint_id": "fixed", "format": "csv"},
        headers=people["instructor"].headers,
    )
    assert csv_response.headers["content-disposition"].endswith('.csv"')
    assert (
        'D2.2.3,"Prevent overfitting with regularization (L1, L2, dropout)",objective,5,40.0'
        in (csv_response.text)
    )


async def test_report_access(
    client: Client, people: dict[str, Person], hand_cohort: dict[str, Any]
) -> None:
    url = f"/api/v1/reports/cohorts/{hand_cohort['cohort_id']}"
    params = {"blueprint_id": "fixed"}
    other = await client.get(url, params=params, headers=people["other-instructor"].headers)
    assert other.status_code == 404
    candidate = await client.get(url, params=params, headers=people["candidate"].headers)
    assert candidate.status_code == 403
    missing = await client.get(url, headers=people["instructor"].headers)
    assert missing.status_code == 422  # blueprint_id (or sitting_id) is required
    assert "send blueprint_id" in missing.json()["detail"]
    # another instructor's item analysis without a cohort sees none of these attempts
    items = await client.get(
        "/api/v1/reports/items",
        params={"blueprint_id": "fixed"},
        headers=people["other-instructor"].headers,
    )
    assert items.json()["attempts"] == 0


# --- random data against NumPy/SciPy --------------------------------------------------------


UNSCORED = 6
"""The form's last item is a pretest item: in no total, analysed all the same."""
SCORED = [j for j in range(len(IDS)) if j != UNSCORED]


async def seed_random_attempts(
    settings: Settings, owners: list[Person], partial: bool, rng: np.random.Generator
) -> tuple[np.ndarray, list[list[set[str]]]]:
    """Graded attempts written straight to the database: every owner sits the seven
    questions once (a fixed form, the last unscored) and picks random options on the
    single and multiple items; returns the points matrix (attempts x items) and the option
    ids each attempt chose per item."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            from sqlalchemy import select

            revisions = {
                revision.question_id: revision
                for revision in await session.scalars(
                    select(QuestionRevision).join(
                        Question, Question.id == QuestionRevision.question_id
                    )
                )
            }
            blueprint = Blueprint(
                id="random",
                name="Random",
                mode="exam",
                question_count=7,
                time_limit_seconds=600,
                scale_min=100,
                scale_max=1000,
                scale_pass=720,
                raw_cut=70.0,
                review_policy="after_submit",
                partial_credit=partial,
            )
            session.add(blueprint)
            await session.flush()
            ability = rng.normal(0, 1, size=(len(owners), 1))
            hardness = rng.normal(0, 1, size=(1, 7))
            chance = 1 / (1 + np.exp(-(ability - hardness)))
            points = (rng.random((len(owners), 7)) < chance).astype(float)
            if partial:
                points *= rng.choice([0.5, 1.0], size=points.shape)
            chosen: list[list[set[str]]] = []
            for _owner in owners:
                picks = []
                for qid in IDS:
                    revision = revisions[qid]
                    options = [o["id"] for o in revision.content.get("options", [])]
                    size = {"single": 1, "multiple": 2}.get(revision.type, 0)
                    picks.append(set(rng.choice(options, size=size, replace=False).tolist()))
                chosen.append(picks)
            now = utcnow()
            for index, owner in enumerate(owners):
                total = float(points[index, SCORED].sum())
                percent = 100 * total / len(SCORED)
                attempt = Attempt(
                    user_id=owner.user.id,
                    blueprint_id="random",
                    seed=index,
                    status="submitted",
                    mode="exam",
                    started_at=now + timedelta(seconds=index),
                    deadline=now,
                    closes_at=now,
                    submitted_at=now,
                    settings={"name": "Random"},
                    items=[
                        AttemptItem(
                            position=j + 1,
                            revision_id=revisions[qid].id,
                            scored=j != UNSCORED,
                            layout={},
                            points=float(points[index, j]),
                            chosen=" ".join(sorted(chosen[index][j])) or None,
                            attempt_score=total,
                        )
                        for j, qid in enumerate(IDS)
                    ],
                )
                session.add(attempt)
                await session.flush()
                session.add(
                    Result(
                        attempt_id=attempt.id,
                        raw_score=total,
                        raw_possible=len(SCORED),
                        raw_percent=round(percent, 1),
                        scaled_score=scaled_score(percent, AWS),
                        passed=percent >= 70,
                        objectives=[],
                    )
                )
            await session.commit()
    finally:
        await engine.dispose()
    return points, chosen


@pytest.mark.parametrize("partial", [False, True])
async def test_random_data_matches_numpy_and_scipy(
    client: Client,
    db_url: str,
    bank_dir: Path,
    settings: Settings,
    people: dict[str, Person],
    partial: bool,
) -> None:
    await import_folder(db_url, bank_dir)
    crowd = await make_people(settings, *((f"r{i:03d}", "candidate") for i in range(80)))
    owners = list(crowd.values())
    cohort_id = await make_cohort(settings, people["instructor"], owners)
    points, chosen = await seed_random_attempts(
        settings, owners, partial, np.random.default_rng(11)
    )
    k = len(SCORED)
    totals = points[:, SCORED].sum(axis=1)
    scaled = np.array([scaled_score(100 * t / k, AWS) for t in totals])
    headers = people["instructor"].headers

    cohort = (
        await client.get(
            f"/api/v1/reports/cohorts/{cohort_id}",
            params={"blueprint_id": "random"},
            headers=headers,
        )
    ).json()
    assert cohort["mean"] == pytest.approx(scaled.mean(), abs=0.06)
    assert cohort["median"] == pytest.approx(np.median(scaled))
    assert cohort["sd"] == pytest.approx(scaled.std(ddof=1), abs=0.06)
    assert cohort["pass_rate"] == pytest.approx((100 * totals / k >= 70).mean(), abs=6e-4)
    counts, _ = np.histogram(scaled, bins=10, range=(100, 1000))
    assert [b["count"] for b in cohort["histogram"]] == counts.tolist()
    alpha = k / (k - 1) * (1 - points[:, SCORED].var(axis=0, ddof=1).sum() / totals.var(ddof=1))
    assert cohort["reliability"] == pytest.approx(alpha, abs=6e-4)
    assert cohort["reliability_method"] == ("Cronbach's alpha" if partial else "KR-20")
    assert cohort["sem_raw"] == pytest.approx(totals.std(ddof=1) * np.sqrt(1 - alpha), abs=6e-3)

    items = (
        await client.get(
            "/api/v1/reports/items",
            params={"blueprint_id": "random", "cohort_id": cohort_id},
            headers=headers,
        )
    ).json()
    by_id = {i["question_id"]: i for i in items["items"]}
    order = np.lexsort((np.arange(len(totals)), -totals))  # by total desc, then attempt order
    group = round(0.27 * len(totals))
    upper, lower = order[:group], order[-group:]
    for j, qid in enumerate(IDS):
        x = points[:, j]
        stats_row = by_id[qid]
        assert stats_row["facility"] == pytest.approx(x.mean(), abs=6e-4)
        assert stats_row["scored_responses"] == (0 if j == UNSCORED else len(totals))
        rest = totals if j == UNSCORED else totals - x
        if x.std() > 0:
            expected = stats.pearsonr(x, rest).statistic
            assert stats_row["point_biserial"] == pytest.approx(expected, abs=6e-4)
        assert stats_row["discrimination_index"] == pytest.approx(
            x[upper].mean() - x[lower].mean(), abs=6e-4
        )
        for option in stats_row["options"]:
            picked = np.array([option["option_id"] in row[j] for row in chosen])
            assert option["share"] == pytest.approx(picked.mean(), abs=6e-4)
            assert option["upper_share"] == pytest.approx(picked[upper].mean(), abs=6e-4)
            assert option["lower_share"] == pytest.approx(picked[lower].mean(), abs=6e-4)
    assert any(i["options"] for i in items["items"])
