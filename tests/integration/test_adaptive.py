"""Adaptive practice (issue 17, item 4) on both databases: a session from its start to a
length stop and a precision stop through the API, questions for the weakest objective
first, no question twice in a session and recent sessions' questions avoided while the
pool allows, grading and the result, and the blueprint rules."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from exam_service.db import create_engine, session_factory, utcnow
from exam_service.grading import irt
from exam_service.models import AttemptItem, ItemCalibration
from tests.factories import Person, import_folder, write_questions
from tests.integration.exam_helpers import (
    bank_by_stem,
    make_blueprint,
    right_answer,
    start,
    wrong_answer,
)

Client = AsyncTestClient  # type: ignore[type-arg]
SIMULATED = {"D2.1.4": 15, "D2.2.5": 15, "D2.3.1": 6}
"""Single-answer questions added to the fixture bank per objective (with the fixture's own,
D2.1 has 18 questions, D2.2 18 and D2.3 7)."""
DOMAINS = {"D2.1": 1, "D2.2": 1, "D2.3": 1}


def simulated_questions() -> str:
    questions = []
    for code, count in SIMULATED.items():
        for j in range(count):
            difficulty = ("easy", "medium", "hard")[j % 3]
            questions.append(
                f"""  - id: adaptive-{code.replace(".", "-").lower()}-{j:02d}
    type: single
    objectives: [{code}]
    difficulty: {difficulty}
    source: "Simulation"
    stem: "Adaptive question {j} on {code}: which setting applies here?"
    options:
      - {{text: "Setting one ({code} {j})", correct: true, rationale: "It is the key."}}
      - {{text: "Setting two ({code} {j})", rationale: "It is not."}}
      - {{text: "Setting three ({code} {j})", rationale: "It is not either."}}
    explanation: "Question {j} on {code}."
"""
            )
    return "questions:\n" + "".join(questions)


@pytest.fixture(autouse=True)
async def bank(db_url: str, bank_dir: Path, cohort_id: int) -> None:
    """The fixture bank with the simulated questions, and the people of conftest."""
    write_questions(bank_dir, "adaptive.yaml", simulated_questions())
    await import_folder(db_url, bank_dir)


def adaptive(**fields: Any) -> dict[str, Any]:
    return {
        "mode": "adaptive",
        "scoring": "irt",
        "time_limit_seconds": None,
        "objective_weights": DOMAINS,
        "max_open_attempts": 5,
        **fields,
    }


def domain_of(question: dict[str, Any]) -> str:
    return ".".join(question["objectives"][0].split(".")[:2])


Chooser = Callable[[dict[str, Any], dict[str, Any], int], bool]
"""(item, question from the bank, position) -> answer it right?"""


async def take(
    client: Client,
    who: Person,
    staff: Person,
    blueprint_id: str,
    right: Chooser,
    *,
    limit: int = 60,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Start an adaptive attempt and answer each served question (right or wrong as
    `right` says), asking for the next after each, until the session is complete:
    (the attempt as started, the questions served in order, the final /next answer)."""
    bank = await bank_by_stem(client, staff)
    attempt = await start(client, who, blueprint_id)
    assert [item["position"] for item in attempt["items"]] == [1]
    assert attempt["adaptive"]["served"] == 1 and not attempt["adaptive"]["complete"]
    item = attempt["items"][0]
    served: list[dict[str, Any]] = []
    for _ in range(limit):
        question = bank[item["stem"]]
        served.append(question)
        answer = (right_answer if right(item, question, item["position"]) else wrong_answer)(
            item, question
        )
        saved = await client.put(
            f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
            json={"answer": answer},
            headers=who.headers,
        )
        assert saved.status_code == 200, saved.text
        following = await client.post(f"/api/v1/attempts/{attempt['id']}/next", headers=who.headers)
        assert following.status_code == 200, following.text
        body: dict[str, Any] = following.json()
        if body["progress"]["complete"]:
            assert body["item"] is None
            return attempt, served, body
        item = body["item"]
        assert item["position"] == len(served) + 1
        assert body["progress"]["served"] == item["position"]
    raise AssertionError(f"no stop after {limit} questions")


async def test_a_session_runs_to_its_length_and_is_graded(
    client: Client, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(
        client,
        admin,
        "adaptive-length",
        **adaptive(question_count=6, adaptive={"target_se": 0.1, "min_items": 1}),
    )
    shown = (await client.get("/api/v1/blueprints/adaptive-length", headers=admin.headers)).json()
    assert shown["mode"] == "adaptive"
    assert shown["adaptive"] == {"target_se": 0.1, "min_items": 1}

    attempt, served, last = await take(
        client, candidate, admin, "adaptive-length", lambda _i, _q, position: position % 2 == 1
    )
    attempt_id = attempt["id"]
    assert last["progress"]["stop_reason"] == "length"
    assert last["progress"]["served"] == 6
    assert "Submit it" in last["progress"]["note"]
    assert len({q["id"] for q in served}) == 6  # never the same question twice
    again = await client.post(f"/api/v1/attempts/{attempt_id}/next", headers=candidate.headers)
    assert again.status_code == 200 and again.json()["progress"] == last["progress"]
    state = (await client.get(f"/api/v1/attempts/{attempt_id}", headers=candidate.headers)).json()
    assert state["adaptive"]["complete"] and state["adaptive"]["stop_reason"] == "length"
    assert [i["position"] for i in state["items"]] == [1, 2, 3, 4, 5, 6]
    beyond = await client.put(
        f"/api/v1/attempts/{attempt_id}/responses/7",
        json={"answer": ["A"]},
        headers=candidate.headers,
    )
    assert beyond.status_code == 404
    assert "positions run from 1 to 6" in beyond.json()["detail"]

    # feedback per question as in practice mode (after_submit: the key comes with it)
    checked = await client.post(
        f"/api/v1/attempts/{attempt_id}/responses/1/check", headers=candidate.headers
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["correct"] is True and checked.json()["feedback"] == "full"

    result = await client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=candidate.headers)
    assert result.status_code == 200, result.text
    graded = result.json()
    assert graded["raw_possible"] == 6 and graded["raw_score"] == 3
    assert graded["scoring"] == "irt" and graded["theta"] is not None
    assert [item["question_id"] for item in graded["review"]] == [q["id"] for q in served]
    assert {o["code"] for o in graded["objectives"]} >= {domain_of(q) for q in served}
    closed = await client.post(f"/api/v1/attempts/{attempt_id}/next", headers=candidate.headers)
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]
    report = await client.get(f"/api/v1/attempts/{attempt_id}/report.pdf", headers=admin.headers)
    assert report.status_code == 200 and report.content.startswith(b"%PDF")


async def test_a_session_stops_once_the_ability_is_measured(
    client: Client, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(
        client,
        admin,
        "adaptive-precision",
        **adaptive(question_count=25, adaptive={"target_se": 0.6, "min_items": 4}),
    )
    _, served, last = await take(
        client, candidate, admin, "adaptive-precision", lambda _i, _q, position: position % 2 == 0
    )
    assert last["progress"]["stop_reason"] == "precision"
    assert 4 <= len(served) < 25
    assert last["theta_se"] < 0.6
    assert "closely enough" in last["progress"]["note"]


async def test_the_weakest_objective_comes_first(client: Client, people: dict[str, Person]) -> None:
    """A candidate who gets every D2.1 question wrong and the others right is served more
    D2.1 than anything else."""
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(
        client,
        admin,
        "adaptive-weak",
        **adaptive(question_count=15, adaptive={"target_se": 0.1, "min_items": 1}),
    )
    _, served, _ = await take(
        client, candidate, admin, "adaptive-weak", lambda _i, q, _p: domain_of(q) != "D2.1"
    )
    counts = Counter(domain_of(q) for q in served)
    assert len(served) == 15
    assert counts["D2.1"] >= 8, counts  # 9-12 in 300 simulated sessions
    assert counts["D2.1"] > counts["D2.2"] + counts["D2.3"], counts


async def test_the_next_question_names_what_it_practises(
    client: Client, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(client, admin, "adaptive-named", **adaptive(question_count=5))
    bank = await bank_by_stem(client, admin)
    attempt = await start(client, candidate, "adaptive-named")
    first = attempt["items"][0]
    waiting = await client.post(f"/api/v1/attempts/{attempt['id']}/next", headers=candidate.headers)
    body = waiting.json()
    assert body["item"]["position"] == 1  # not answered yet: the same question again
    assert body["item"]["stem"] == first["stem"]
    assert body["objective"] == domain_of(bank[first["stem"]])
    assert body["objective_title"]
    assert (body["theta"], body["theta_se"]) == (0.0, 1.0)  # nothing answered: the prior
    assert "key" not in body["item"] and "explanation" not in body["item"]


async def test_calibrated_parameters_are_used_once_there_are_some(
    client: Client, people: dict[str, Person], db_url: str
) -> None:
    """Before calibration the first answer is read with a = 1 and b from the question's
    difficulty label; once a calibration run has estimated the question, with its a and b."""
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(client, admin, "adaptive-calibrated", **adaptive(question_count=5))
    bank = await bank_by_stem(client, admin)
    attempt = await start(client, candidate, "adaptive-calibrated")
    item = attempt["items"][0]
    url = f"/api/v1/attempts/{attempt['id']}"
    saved = await client.put(
        f"{url}/responses/1",
        json={"answer": right_answer(item, bank[item["stem"]])},
        headers=candidate.headers,
    )
    assert saved.status_code == 200
    label = irt.LABEL_FACILITY[bank[item["stem"]]["difficulty"]]
    before = irt.eap([1.0], irt.b_from_facility([label]), [1.0])
    served = (await client.post(f"{url}/next", headers=candidate.headers)).json()
    assert served["theta"] == pytest.approx(before.theta[0], abs=1e-3)

    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            revision = await session.scalar(
                select(AttemptItem.revision_id).where(
                    AttemptItem.attempt_id == attempt["id"], AttemptItem.position == 1
                )
            )
            session.add(
                ItemCalibration(
                    revision_id=revision,
                    model="2pl",
                    status="estimated",
                    responses=400,
                    facility=0.2,
                    a=2.0,
                    b=1.5,
                    misfit=False,
                    calibrated_at=utcnow(),
                )
            )
            await session.commit()
    finally:
        await engine.dispose()
    after = irt.eap([2.0], [1.5], [1.0])
    second = served["item"]
    again = (await client.post(f"{url}/next", headers=candidate.headers)).json()
    assert again["item"]["stem"] == second["stem"]  # still waiting for its answer
    assert again["theta"] == pytest.approx(after.theta[0], abs=1e-3)
    assert again["theta"] > served["theta"] + 0.3  # right on a hard question counts more


async def test_no_repeats_and_recent_sessions_avoided_while_the_pool_allows(
    client: Client, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(
        client,
        admin,
        "adaptive-wide",
        **adaptive(question_count=6, adaptive={"target_se": 0.1, "min_items": 1}),
    )
    sessions = []
    for _ in range(3):
        attempt, served, _ = await take(
            client, candidate, admin, "adaptive-wide", lambda _i, _q, p: p % 3 != 0
        )
        await client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers)
        sessions.append({q["id"] for q in served})
    assert all(len(s) == 6 for s in sessions)
    assert not (sessions[0] & sessions[1]) and not (sessions[2] & (sessions[0] | sessions[1]))

    # D2.3 has 7 questions: another candidate's second session of 5 gets the 2 they have
    # not seen first, then repeats rather than stopping short
    candidate = people["other-candidate"]
    await make_blueprint(
        client,
        admin,
        "adaptive-narrow",
        **adaptive(
            question_count=5,
            objective_weights={"D2.3": 1},
            adaptive={"target_se": 0.1, "min_items": 1},
        ),
    )
    first, first_served, _ = await take(
        client, candidate, admin, "adaptive-narrow", lambda _i, _q, _p: True
    )
    await client.post(f"/api/v1/attempts/{first['id']}/submit", headers=candidate.headers)
    _, second_served, last = await take(
        client, candidate, admin, "adaptive-narrow", lambda _i, _q, _p: True
    )
    seen = {q["id"] for q in first_served}
    ids = [q["id"] for q in second_served]
    assert last["progress"]["stop_reason"] == "length"
    assert len(set(ids)) == 5
    assert not seen & set(ids[:2]), "the unseen questions come first"
    assert set(ids[2:]) <= seen


async def test_parallel_requests_serve_one_question(
    client: Client, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(client, admin, "adaptive-race", **adaptive(question_count=5))
    bank = await bank_by_stem(client, admin)
    attempt = await start(client, candidate, "adaptive-race")
    item = attempt["items"][0]
    saved = await client.put(
        f"/api/v1/attempts/{attempt['id']}/responses/1",
        json={"answer": right_answer(item, bank[item["stem"]])},
        headers=candidate.headers,
    )
    assert saved.status_code == 200
    url = f"/api/v1/attempts/{attempt['id']}/next"
    answers = await asyncio.gather(*(client.post(url, headers=candidate.headers) for _ in range(3)))
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["item"]["position"] for a in answers} == {2}
    assert len({a.json()["item"]["stem"] for a in answers}) == 1
    state = (
        await client.get(f"/api/v1/attempts/{attempt['id']}", headers=candidate.headers)
    ).json()
    assert len(state["items"]) == 2


async def test_next_is_for_the_owner_of_an_open_adaptive_attempt(
    client: Client, people: dict[str, Person]
) -> None:
    candidate, admin = people["candidate"], people["admin"]
    await make_blueprint(client, admin, "adaptive-own", **adaptive(question_count=5))
    attempt = await start(client, candidate, "adaptive-own")
    url = f"/api/v1/attempts/{attempt['id']}/next"
    for other in ("other-candidate", "instructor", "admin"):
        refused = await client.post(url, headers=people[other].headers)
        assert refused.status_code == 404, other
    await make_blueprint(client, admin, "plain-practice", mode="practice", time_limit_seconds=None)
    practice = await start(client, candidate, "plain-practice")
    refused = await client.post(
        f"/api/v1/attempts/{practice['id']}/next", headers=candidate.headers
    )
    assert refused.status_code == 409
    assert "not adaptive practice" in refused.json()["detail"]
    assert practice["adaptive"] is None and len(practice["items"]) == 5


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"scoring": "raw"}, "needs scoring: irt"),
        ({"unscored_count": 1}, "set unscored_count to 0"),
        ({"difficulty_mix": {"easy": 1, "hard": 1}}, "remove difficulty_mix"),
        ({"adaptive": {"min_items": 9}}, "adaptive.min_items (9) is more than question_count"),
        ({"mode": "practice"}, "'adaptive' applies to mode: adaptive only"),
    ],
)
async def test_adaptive_blueprints_are_checked(
    client: Client, people: dict[str, Person], fields: dict[str, Any], says: str
) -> None:
    body = {
        "id": "adaptive-wrong",
        "name": "Wrong",
        "question_count": 8,
        "scale": {"min": 100, "max": 1000, "pass": 720},
        **adaptive(adaptive={"target_se": 0.4}),
        **fields,
    }
    refused = await client.post("/api/v1/blueprints", json=body, headers=people["admin"].headers)
    assert refused.status_code == 422, refused.text
    assert says in refused.json()["detail"]
