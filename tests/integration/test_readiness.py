"""Readiness on both databases (issue 17, item 3): the chance that a candidate passes a
blueprint from their recent answers, with its interval and the objectives that hold them
back; honest when there is too little to go on; in the API, on the dashboard and in the
candidate report (JSON and PDF)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from exam_service.db import create_engine, session_factory, utcnow
from exam_service.models import Attempt, Blueprint, QuestionRevision
from tests.factories import Person, import_folder, write_questions
from tests.integration.exam_helpers import (
    bank_by_stem,
    make_blueprint,
    make_sitting,
    right_answer,
    start,
)
from tests.integration.test_calibration import write_graded
from tests.unit.pdf_checks import assert_prints

Client = AsyncTestClient  # type: ignore[type-arg]
STRONG, WEAK = "D2.2.5", "D2.2.6"
"""The fixture bank has no question on these objectives: the simulated questions are theirs."""
PER_OBJECTIVE = 20
FIRST_ID = 2_000_000


def questions(prefix: str, objective: str, count: int, stem: str = "Which setting is right") -> str:
    body = []
    for j in range(count):
        body.append(
            f"""  - id: {prefix}-{j:03d}
    type: single
    objectives: [{objective}]
    difficulty: medium
    source: "Readiness simulation"
    stem: "{stem} for {prefix} case {j}?"
    options:
      - {{text: "Setting one of {prefix} {j}", correct: true, rationale: "It is the key."}}
      - {{text: "Setting two of {prefix} {j}", rationale: "It is not."}}
      - {{text: "Setting three of {prefix} {j}", rationale: "It is not either."}}
    explanation: "Simulated question {prefix} {j}."
"""
        )
    return "questions:\n" + "".join(body)


async def revisions(url: str, prefix: str) -> list[int]:
    """The current revision ids of the questions named `prefix-...`, in question order."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(QuestionRevision.question_id, QuestionRevision.id)
                .where(QuestionRevision.question_id.like(f"{prefix}-%"))
                .order_by(QuestionRevision.question_id, QuestionRevision.number)
            )
            return list({qid: rid for qid, rid in rows.all()}.values())
    finally:
        await engine.dispose()


@pytest.fixture
async def ready(client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]) -> Any:
    """Blueprint `ready`: 20 scored questions, 10 from each of two objectives of 20."""
    write_questions(bank_dir, "strong.yaml", questions("st", STRONG, PER_OBJECTIVE))
    write_questions(bank_dir, "weak.yaml", questions("wk", WEAK, PER_OBJECTIVE))
    await import_folder(db_url, bank_dir)
    await make_blueprint(
        client,
        people["admin"],
        "ready",
        name="the readiness mock",
        question_count=20,
        objective_counts={STRONG: 10, WEAK: 10},
    )
    return {"strong": await revisions(db_url, "st"), "weak": await revisions(db_url, "wk")}


async def graded(
    url: str, person: Person, strong: float, weak: float, ids: Any, first: int
) -> None:
    """One graded attempt of all 40 questions: `strong` and `weak` points on each side."""
    form = ids["strong"] + ids["weak"]
    marks = [strong] * PER_OBJECTIVE + [weak] * PER_OBJECTIVE
    await write_graded(url, person.user.id, "ready", [form], [marks], first)


async def readiness(client: Client, viewer: Person, user_id: int, blueprint: str = "ready") -> Any:
    return await client.get(
        f"/api/v1/reports/candidates/{user_id}/readiness",
        params={"blueprint_id": blueprint},
        headers=viewer.headers,
    )


async def test_without_answers_it_says_there_is_nothing_to_go_on(
    client: Client, people: dict[str, Person], ready: Any
) -> None:
    candidate = people["candidate"]
    response = await readiness(client, candidate, candidate.user.id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answers_counted"] == 0 and body["enough_data"] is False
    assert body["high"] - body["low"] > 0.8  # the prior: anything is possible
    assert body["more_questions"] > 0
    said = re.fullmatch(
        "You have not answered any of the questions the readiness mock draws from yet, so "
        r"there is nothing to go on\. Answer about (\d+) more questions for an estimate "
        r"within ±15 points\.",
        body["summary"],
    )
    assert said, body["summary"]
    assert abs(int(said[1]) - body["more_questions"]) <= body["more_questions"] * 0.05
    assert body["holding_back"] == []  # no answer says any objective is weak
    assert [o["code"] for o in body["objectives"]] and body["pool_items"] == 40
    assert body["level"] == 0.9 and body["target_width"] == 0.3


async def test_many_right_answers_make_passing_likely(
    client: Client, db_url: str, people: dict[str, Person], ready: Any
) -> None:
    candidate = people["candidate"]
    await graded(db_url, candidate, 1.0, 1.0, ready, FIRST_ID)
    body = (await readiness(client, candidate, candidate.user.id)).json()
    assert body["answers_counted"] == 40 and body["answers_left_out"] == 0
    assert body["probability"] > 0.95 and body["low"] > 0.9 and body["enough_data"] is True
    assert body["expected_percent"] > 85 and body["expected_scaled_score"] > 900
    assert body["holding_back"] == [] and body["more_questions"] == 0
    assert body["summary"].startswith("You would pass the readiness mock with a probability of")
    assert body["summary"].endswith("No objective holds you back.")


async def test_many_wrong_answers_make_passing_unlikely(
    client: Client, db_url: str, people: dict[str, Person], ready: Any
) -> None:
    candidate = people["candidate"]
    await graded(db_url, candidate, 0.0, 0.0, ready, FIRST_ID)
    body = (await readiness(client, candidate, candidate.user.id)).json()
    assert body["probability"] < 0.05 and body["high"] < 0.1 and body["enough_data"] is True
    assert body["expected_scaled_score"] < 720
    assert set(body["holding_back"]) == {STRONG, WEAK}
    assert body["summary"] == (
        "You would pass the readiness mock with a probability of less than 1% (between 0% "
        f"and 1%). Practise {body['holding_back'][0]} and {body['holding_back'][1]} first."
    )


async def test_the_weak_objective_holds_the_candidate_back(
    client: Client, db_url: str, people: dict[str, Person], ready: Any
) -> None:
    candidate = people["candidate"]
    await graded(db_url, candidate, 1.0, 0.0, ready, FIRST_ID)
    body = (await readiness(client, candidate, candidate.user.id)).json()
    assert body["holding_back"] == [WEAK]
    objectives = {o["code"]: o for o in body["objectives"]}
    weak, strong = objectives[WEAK], objectives[STRONG]
    assert weak["holding_back"] and not strong["holding_back"]
    assert weak["mastery"] < 70 < strong["mastery"]
    assert weak["low"] <= weak["mastery"] <= weak["high"]
    assert weak["below_cut"] > 0.9 and weak["on_form"] == 10 and weak["answered"] == 20
    assert weak["right"] == 0 and strong["right"] == 20
    assert weak["title"] == "Bring custom models with Script Mode or your own container"
    assert body["objectives"][0]["code"] == WEAK  # the largest shortfall first
    assert "Practise D2.2.6 first." in body["summary"]
    assert body["probability"] < 0.5


async def test_what_counts_each_question_once_by_its_latest_answer(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person], ready: Any
) -> None:
    """The latest answer to a question is the one that counts, also across a revision of
    it; answers to questions the blueprint does not draw are left out; a checked practice
    answer counts before its attempt is submitted."""
    candidate = people["candidate"]
    await graded(db_url, candidate, 0.0, 0.0, ready, FIRST_ID)
    # a day later, all right: the same questions, now answered right
    await graded(db_url, candidate, 1.0, 1.0, ready, FIRST_ID + 1)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            day_ago = utcnow() - timedelta(days=1)
            await connection.execute(
                update(Attempt).where(Attempt.id == FIRST_ID).values(submitted_at=day_ago)
            )
    finally:
        await engine.dispose()
    body = (await readiness(client, candidate, candidate.user.id)).json()
    assert body["answers_counted"] == 40 and body["probability"] > 0.95

    # Every question reworded: the answers count for the new revisions.
    write_questions(bank_dir, "strong.yaml", questions("st", STRONG, PER_OBJECTIVE, "Pick"))
    write_questions(bank_dir, "weak.yaml", questions("wk", WEAK, PER_OBJECTIVE, "Pick"))
    await import_folder(db_url, bank_dir)
    assert set(await revisions(db_url, "st")).isdisjoint(ready["strong"])
    body = (await readiness(client, candidate, candidate.user.id)).json()
    assert body["answers_counted"] == 40 and body["probability"] > 0.95

    # A practice set over the fixture bank's questions: outside `ready`, left out there.
    await make_blueprint(
        client,
        people["admin"],
        "other",
        mode="practice",
        time_limit_seconds=None,
        question_count=3,
        objective_weights={"D2.1": 1},
    )
    attempt = await start(client, candidate, "other")
    bank = await bank_by_stem(client, people["instructor"])
    item = attempt["items"][0]
    url = f"/api/v1/attempts/{attempt['id']}/responses/1"
    answer = right_answer(item, bank[item["stem"]])
    assert (await client.put(url, json={"answer": answer}, headers=candidate.headers)).is_success
    unchecked = (await readiness(client, candidate, candidate.user.id, "other")).json()
    assert unchecked["answers_counted"] == 0  # saved but not checked: it may still change
    assert (await client.post(f"{url}/check", headers=candidate.headers)).json()["correct"]
    checked = (await readiness(client, candidate, candidate.user.id, "other")).json()
    assert checked["answers_counted"] == 1 and checked["answers_left_out"] == 40
    assert checked["objectives"] and checked["enough_data"] is False
    assert "There is too little to go on yet: from your 1 answer," in checked["summary"]
    assert "for an estimate within ±15 points." in checked["summary"]
    body = (await readiness(client, candidate, candidate.user.id)).json()
    assert body["answers_counted"] == 40 and body["answers_left_out"] == 1


async def test_who_may_ask_and_what_is_refused(
    client: Client,
    db_url: str,
    people: dict[str, Person],
    cohort_id: int,
    ready: Any,
) -> None:
    candidate = people["candidate"]
    user_id = candidate.user.id
    for viewer, status in (
        ("candidate", 200),
        ("other-candidate", 404),
        ("instructor", 200),  # the candidate is in their cohort
        ("other-instructor", 404),
        ("admin", 200),
    ):
        response = await readiness(client, people[viewer], user_id)
        assert response.status_code == status, (viewer, response.text)
    hidden = (await readiness(client, people["other-candidate"], user_id)).json()
    missing = (await readiness(client, people["admin"], user_id + 1000)).json()
    assert hidden["detail"] == f"there is no candidate {user_id} among yours"
    assert missing["detail"] == f"there is no candidate {user_id + 1000} among yours"

    unknown = await readiness(client, candidate, user_id, "no-such-blueprint")
    assert unknown.status_code == 404 and "GET /api/v1/blueprints" in unknown.json()["detail"]
    # a blueprint whose objectives no longer have a question in the bank
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Blueprint)
                .where(Blueprint.id == "ready")
                .values(objective_counts={"D2.2.8": 20})
            )
    finally:
        await engine.dispose()
    empty = await readiness(client, candidate, user_id)
    assert empty.status_code == 409
    assert "draws no scored question" in empty.json()["detail"]


async def test_the_dashboard_and_the_candidate_report_show_it(
    client: Client, db_url: str, people: dict[str, Person], cohort_id: int, ready: Any
) -> None:
    candidate = people["candidate"]
    await graded(db_url, candidate, 1.0, 0.0, ready, FIRST_ID)
    # a blueprint taken only in a sitting of the candidate's cohort is open to them too
    await make_blueprint(
        client,
        people["admin"],
        "room",
        name="the sitting mock",
        self_study=False,
        question_count=20,
        objective_counts={STRONG: 10, WEAK: 10},
    )
    await make_sitting(client, people["instructor"], "room", [cohort_id])
    api = (await readiness(client, candidate, candidate.user.id)).json()

    page = await client.get("/", headers=candidate.headers)
    assert page.status_code == 200
    assert html.escape(api["summary"]) in page.text
    section = page.text[page.text.index('id="readiness"') :]
    assert "<h3>the sitting mock</h3>" in section and 'class="bar-svg readiness-svg"' in section
    assert "Bring custom models with Script Mode" in section  # the objective holding back
    assert "style=" not in page.text and "<script>" not in page.text  # the CSP forbids them

    report = await client.get(
        f"/api/v1/reports/candidates/{candidate.user.id}", headers=people["instructor"].headers
    )
    shown = {r["blueprint_id"]: r for r in report.json()["readiness"]}
    assert list(shown)[0] == "room"  # the sitting's blueprint first
    assert {"room", "ready", "starter-mock"} <= set(shown)
    assert shown["ready"]["summary"] == api["summary"]
    assert shown["room"]["holding_back"] == [WEAK]

    pdf = await client.get(
        f"/api/v1/reports/candidates/{candidate.user.id}",
        params={"format": "pdf"},
        headers=candidate.headers,
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert_prints(pdf.content, "Readiness", api["summary"], shown["room"]["summary"])

    nobody = people["other-candidate"]
    fresh = await client.get("/", headers=nobody.headers)
    assert "so there is nothing to go on" in fresh.text
