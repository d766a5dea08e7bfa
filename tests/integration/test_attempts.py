"""Timed attempts end to end on both databases: start, save, submit, expire, review."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from exam_service.app import create_app
from exam_service.db import create_engine, session_factory
from exam_service.exams.closing import sweep_expired
from exam_service.settings import Settings
from tests.backends import only_on
from tests.factories import Person, import_folder
from tests.integration.exam_helpers import (
    bank_by_stem,
    make_blueprint,
    no_secrets,
    right_answer,
    start,
    wrong_answer,
)

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture(autouse=True)
async def bank(db_url: str, bank_dir: Path, cohort_id: int) -> None:
    """The test bank imported, and the people of conftest with the instructor's cohort."""
    await import_folder(db_url, bank_dir)


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def answer_all(
    client: Client, who: Person, attempt: dict[str, Any], bank: dict[str, Any], right: set[int]
) -> None:
    for item in attempt["items"]:
        question = bank[item["stem"]]
        answer = (
            right_answer(item, question)
            if item["position"] in right
            else wrong_answer(item, question)
        )
        response = await client.put(
            f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
            json={"answer": answer, "flagged": item["position"] == 2},
            headers=who.headers,
        )
        assert response.status_code == 200, response.text
        assert 0 < response.json()["seconds_left"] <= 600


async def test_file_blueprints_are_imported(client: Client, people: dict[str, Person]) -> None:
    listed = (await client.get("/api/v1/blueprints", headers=people["candidate"].headers)).json()
    assert [(b["id"], b["origin"]) for b in listed] == [("starter-mock", "file")]
    assert listed[0]["scale"] == {"min": 100, "max": 1000, "pass": 720, "raw_cut": 70.0}


async def test_whole_lifecycle(client: Client, people: dict[str, Person]) -> None:
    candidate = people["candidate"]
    before = datetime.now().astimezone()
    attempt = await start(client, candidate, "starter-mock")
    assert attempt["status"] == "in_progress" and attempt["mode"] == "exam"
    assert len(attempt["items"]) == 5 and [i["position"] for i in attempt["items"]] == [
        1,
        2,
        3,
        4,
        5,
    ]
    deadline = parse(attempt["deadline"])
    assert timedelta(seconds=595) < deadline - before < timedelta(seconds=605)
    assert 590 <= attempt["seconds_left"] <= 600
    assert abs(parse(attempt["server_time"]) - before) < timedelta(seconds=5)

    bank = await bank_by_stem(client, people["instructor"])
    # case questions sit together
    cases = [i["case"] for i in attempt["items"]]
    seen: list[str] = []
    for case in cases:
        if case and case in seen and seen[-1] != case:
            pytest.fail(f"case questions are split: {cases}")
        if case:
            seen.append(case)

    await answer_all(client, candidate, attempt, bank, right={1, 2, 3, 4, 5})
    state = (
        await client.get(f"/api/v1/attempts/{attempt['id']}", headers=candidate.headers)
    ).json()
    assert state["answered"] == 5 and state["flagged"] == 1
    assert [i["flagged"] for i in state["items"]] == [False, True, False, False, False]

    submitted = await client.post(
        f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
    )
    assert submitted.status_code == 200
    result = submitted.json()
    assert (result["raw_score"], result["raw_possible"], result["raw_percent"]) == (5, 5, 100)
    assert result["scaled_score"] == 1000 and result["passed"] is True
    assert result["status"] == "submitted"
    codes = {o["code"]: o for o in result["objectives"]}
    assert {"MLA-C01", "D2", "D2.1", "D2.2"} <= set(codes)
    assert codes["D2"]["possible"] == 5 and codes["D2"]["label"] == "meets competencies"
    assert codes["D2"]["ci_high"] == 100.0 and codes["D2"]["ci_low"] < 60
    assert result["review_available"] is True
    review = result["review"]
    assert all(r["points"] == 1.0 and r["answer"] == r["key"] for r in review)
    assert all(r["explanation"] and r["rationales"] for r in review)

    again = await client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers)
    assert again.status_code == 200 and again.json() == result
    fetched = await client.get(
        f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers
    )
    assert fetched.json() == result
    teacher = await client.get(
        f"/api/v1/attempts/{attempt['id']}/result", headers=people["instructor"].headers
    )
    assert teacher.status_code == 200 and teacher.json()["scaled_score"] == 1000

    listed = (await client.get("/api/v1/attempts", headers=candidate.headers)).json()
    assert [(a["id"], a["status"], a["scaled_score"]) for a in listed] == [
        (attempt["id"], "submitted", 1000)
    ]


async def test_partial_score_and_scale(client: Client, people: dict[str, Person]) -> None:
    candidate = people["candidate"]
    attempt = await start(client, candidate, "starter-mock")
    bank = await bank_by_stem(client, people["instructor"])
    await answer_all(client, candidate, attempt, bank, right={1, 3})
    result = (
        await client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers)
    ).json()
    assert (result["raw_score"], result["raw_percent"]) == (2, 40)
    assert result["scaled_score"] == round(100 + 620 * 40 / 70) and result["passed"] is False
    assert sum(r["points"] for r in result["review"]) == 2


async def test_unanswered_items_count_as_wrong(client: Client, people: dict[str, Person]) -> None:
    attempt = await start(client, people["candidate"], "starter-mock")
    result = (
        await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=people["candidate"].headers
        )
    ).json()
    assert (result["raw_score"], result["raw_possible"], result["scaled_score"]) == (0, 5, 100)


async def test_rejections(client: Client, people: dict[str, Person]) -> None:
    candidate, other = people["candidate"], people["other-candidate"]
    attempt = await start(client, candidate, "starter-mock")
    url = f"/api/v1/attempts/{attempt['id']}/responses"
    by_type = {i["type"]: i for i in attempt["items"]}

    async def put(position: int, answer: Any, who: Person = candidate) -> Any:
        return await client.put(f"{url}/{position}", json={"answer": answer}, headers=who.headers)

    single = next(i for i in attempt["items"] if i["type"] == "single")
    bad = await put(single["position"], ["Z"])
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith(f"question {single['position']}: unknown option 'Z'")
    assert (await put(single["position"], ["A", "B"])).status_code == 422
    if "ordering" in by_type:
        partial = await put(by_type["ordering"]["position"], ["A"])
        assert partial.status_code == 422 and "every option once" in partial.json()["detail"]
    if "matching" in by_type:
        stray = await put(by_type["matching"]["position"], {"9": "A"})
        assert stray.status_code == 422 and "prompt '9' is not in this question" in stray.text
    nowhere = await put(99, ["A"])
    assert nowhere.status_code == 404 and "positions run from 1 to 5" in nowhere.json()["detail"]
    theirs = await put(single["position"], ["A"], who=other)
    missing = await client.put(
        "/api/v1/attempts/999999/responses/1", json={"answer": ["A"]}, headers=other.headers
    )
    assert theirs.status_code == missing.status_code == 404
    assert re.sub(r"attempt \d+", "attempt N", theirs.json()["detail"]) == re.sub(
        r"attempt \d+", "attempt N", missing.json()["detail"]
    )
    malformed = await client.put(f"{url}/1", content=b"{not json", headers=candidate.headers)
    assert malformed.status_code == 400

    unknown = await client.post(
        "/api/v1/attempts", json={"blueprint_id": "nope"}, headers=candidate.headers
    )
    assert unknown.status_code == 404 and "no blueprint 'nope'" in unknown.json()["detail"]

    await client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers)
    late = await put(single["position"], ["A"])
    assert late.status_code == 409
    assert "was submitted at" in late.json()["detail"]
    # `status` is the HTTP status, as problem-details clients read it; the attempt's is apart
    assert late.json()["status"] == 409 and late.json()["attempt_status"] == "submitted"
    assert "answers can no longer be saved" in late.json()["detail"]
    assert late.json()["deadline"] == attempt["deadline"].replace("Z", "+00:00") or late.json()[
        "deadline"
    ].startswith(attempt["deadline"][:19])


async def test_open_attempt_limit(client: Client, people: dict[str, Person]) -> None:
    await make_blueprint(client, people["admin"], "one-at-a-time", max_open_attempts=1)
    first = await start(client, people["candidate"], "one-at-a-time")
    second = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": "one-at-a-time"},
        headers=people["candidate"].headers,
    )
    assert second.status_code == 409
    assert f"(attempt {first['id']})" in second.json()["detail"]
    await client.post(f"/api/v1/attempts/{first['id']}/submit", headers=people["candidate"].headers)
    await start(client, people["candidate"], "one-at-a-time")


async def test_blueprints_the_bank_cannot_fill_are_refused(
    client: Client, people: dict[str, Person]
) -> None:
    response = await client.post(
        "/api/v1/blueprints",
        json={
            "id": "too-big",
            "name": "Too big",
            "mode": "exam",
            "question_count": 6,
            "time_limit_seconds": 600,
            "objective_counts": {"D2.3": 3, "D2.1.1": 2, "D2.2": 1},
            "scale": {"min": 100, "max": 1000, "pass": 720},
        },
        headers=people["instructor"].headers,
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "D2.3 needs 3" in detail and "2 short" in detail
    assert "D2.1.1 needs 2" in detail and "1 short" in detail
    # D2.2 has enough questions for its one seat: only the two short objectives are named
    assert set(re.findall(r"(D[0-9.]+) needs", detail)) == {"D2.3", "D2.1.1"}
    unknown = await client.post(
        "/api/v1/blueprints",
        json={
            "id": "ghost",
            "name": "G",
            "mode": "practice",
            "question_count": 1,
            "objective_weights": {"D9": 1},
            "scale": {"min": 0, "max": 100, "pass": 50},
        },
        headers=people["instructor"].headers,
    )
    assert unknown.status_code == 422 and "unknown objective 'D9'" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("time_limit_seconds", 2**80, "<= 604800"),
        ("grace_seconds", 2**31, "<= 604800"),
        ("max_open_attempts", 2**63, "<= 1000"),
        ("scale", {"min": 0, "max": 2**40, "pass": 50}, "<= 1000000"),
    ],
)
async def test_blueprint_numbers_beyond_their_columns_are_refused(
    client: Client, people: dict[str, Person], field: str, value: Any, limit: str
) -> None:
    """Found by the stateful API run: a number too large for its integer column was a 500
    (SQLite's OverflowError; PostgreSQL's int4 overflows past 2**31) on create and edit."""
    body = {
        "id": "huge",
        "name": "Huge",
        "mode": "practice",
        "question_count": 1,
        "scale": {"min": 0, "max": 100, "pass": 50},
        field: value,
    }
    created = await client.post(
        "/api/v1/blueprints", json=body, headers=people["instructor"].headers
    )
    assert created.status_code == 400, created.text
    assert limit in created.json()["errors"][0]["message"]
    fine = {**body, field: {"min": 0, "max": 100, "pass": 50} if field == "scale" else 60}
    made = await client.post("/api/v1/blueprints", json=fine, headers=people["instructor"].headers)
    assert made.status_code == 201, made.text
    edited = await client.put(
        "/api/v1/blueprints/huge", json=body, headers=people["instructor"].headers
    )
    assert edited.status_code == 400, edited.text


async def test_blueprint_edit(client: Client, people: dict[str, Person]) -> None:
    """Instructors change the blueprints they made; another instructor's answers 404 as
    for cohorts, the bank's file blueprints 403 with where to change them; admins any."""
    await make_blueprint(client, people["instructor"], "editable", question_count=3)
    body = (
        await client.get("/api/v1/blueprints/editable", headers=people["candidate"].headers)
    ).json()
    assert body["question_count"] == 3 and body["origin"] == "api"
    assert body["owner_id"] == people["instructor"].user.id
    edit = {k: v for k, v in body.items() if k not in ("origin", "owner_id")}
    edit["question_count"] = 4
    changed = await client.put(
        "/api/v1/blueprints/editable", json=edit, headers=people["instructor"].headers
    )
    assert changed.status_code == 200 and changed.json()["question_count"] == 4
    mismatch = await client.put(
        "/api/v1/blueprints/editable",
        json={**edit, "id": "other"},
        headers=people["instructor"].headers,
    )
    assert mismatch.status_code == 422
    dup = await client.post("/api/v1/blueprints", json=edit, headers=people["instructor"].headers)
    assert dup.status_code == 409
    borrowed = await client.put(
        "/api/v1/blueprints/editable", json=edit, headers=people["other-instructor"].headers
    )
    assert borrowed.status_code == 404
    assert "no blueprint 'editable' of yours" in borrowed.json()["detail"]
    by_admin = await client.put(
        "/api/v1/blueprints/editable",
        json={**edit, "question_count": 5},
        headers=people["admin"].headers,
    )
    assert by_admin.status_code == 200 and by_admin.json()["question_count"] == 5

    shipped = (
        await client.get("/api/v1/blueprints/starter-mock", headers=people["instructor"].headers)
    ).json()
    assert shipped["origin"] == "file" and shipped["owner_id"] is None
    rewrite = {k: v for k, v in shipped.items() if k not in ("origin", "owner_id")}
    rewrite["name"] = "Taken over"
    for persona in ("instructor", "other-instructor"):
        refused = await client.put(
            "/api/v1/blueprints/starter-mock", json=rewrite, headers=people[persona].headers
        )
        assert refused.status_code == 403
        assert "bank import" in refused.json()["detail"]
    unchanged = await client.get(
        "/api/v1/blueprints/starter-mock", headers=people["instructor"].headers
    )
    assert unchanged.json()["name"] == shipped["name"]
    admin_edit = await client.put(
        "/api/v1/blueprints/starter-mock", json=rewrite, headers=people["admin"].headers
    )
    assert admin_edit.status_code == 200 and admin_edit.json()["name"] == "Taken over"


async def test_expiry_on_touch(client: Client, people: dict[str, Person]) -> None:
    await make_blueprint(client, people["admin"], "quick", time_limit_seconds=1, grace_seconds=0)
    candidate = people["candidate"]
    attempt = await start(client, candidate, "quick")
    bank = await bank_by_stem(client, people["instructor"])
    first = attempt["items"][0]
    saved = await client.put(
        f"/api/v1/attempts/{attempt['id']}/responses/1",
        json={"answer": right_answer(first, bank[first["stem"]])},
        headers=candidate.headers,
    )
    assert saved.status_code == 200
    await asyncio.sleep(1.3)
    late = await client.put(
        f"/api/v1/attempts/{attempt['id']}/responses/2",
        json={"answer": None},
        headers=candidate.headers,
    )
    assert late.status_code == 409
    assert "closed at" in late.json()["detail"] and late.json()["attempt_status"] == "expired"
    assert late.json()["status"] == 409
    state = (
        await client.get(f"/api/v1/attempts/{attempt['id']}", headers=candidate.headers)
    ).json()
    assert state["status"] == "expired"
    assert parse(state["submitted_at"]) == parse(attempt["deadline"])
    assert state["seconds_left"] is None
    result = (
        await client.get(f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers)
    ).json()
    assert (result["raw_score"], result["raw_possible"]) == (1, 5)


async def test_grace_period_accepts_late_saves(client: Client, people: dict[str, Person]) -> None:
    await make_blueprint(
        client, people["admin"], "graceful", time_limit_seconds=1, grace_seconds=30
    )
    attempt = await start(client, people["candidate"], "graceful")
    await asyncio.sleep(1.2)
    saved = await client.put(
        f"/api/v1/attempts/{attempt['id']}/responses/1",
        json={"answer": None, "flagged": True},
        headers=people["candidate"].headers,
    )
    assert saved.status_code == 200
    assert saved.json()["seconds_left"] == 0  # past the deadline, inside the grace


async def test_expiry_by_sweep(
    client: Client, people: dict[str, Person], settings: Settings
) -> None:
    await make_blueprint(client, people["admin"], "quick", time_limit_seconds=1, grace_seconds=0)
    attempts = [await start(client, people[p], "quick") for p in ("candidate", "other-candidate")]
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        assert await sweep_expired(sessions) == 0
        await asyncio.sleep(1.3)
        assert await sweep_expired(sessions) == 2
        assert await sweep_expired(sessions) == 0
    finally:
        await engine.dispose()
    for attempt, who in zip(attempts, ("candidate", "other-candidate"), strict=True):
        state = (
            await client.get(f"/api/v1/attempts/{attempt['id']}", headers=people[who].headers)
        ).json()
        assert state["status"] == "expired"
        assert parse(state["submitted_at"]) == parse(attempt["deadline"])


async def test_background_sweep(people: dict[str, Person], settings: Settings) -> None:
    from dataclasses import replace

    from exam_service.app import create_app

    sweeping = replace(settings, sweep_interval_seconds=1)
    async with AsyncTestClient(app=create_app(sweeping)) as client:
        await make_blueprint(client, people["admin"], "quick", time_limit_seconds=1)
        attempt = await start(client, people["candidate"], "quick")
        await asyncio.sleep(3.5)
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            from sqlalchemy import text

            status = await connection.scalar(
                text("SELECT status FROM attempts WHERE id = :id"), {"id": attempt["id"]}
            )
            graded = await connection.scalar(
                text("SELECT count(*) FROM results WHERE attempt_id = :id"), {"id": attempt["id"]}
            )
    finally:
        await engine.dispose()
    assert (status, graded) == ("expired", 1)


async def test_practice_check(client: Client, people: dict[str, Person]) -> None:
    await make_blueprint(
        client, people["admin"], "practice", mode="practice", time_limit_seconds=None
    )
    candidate = people["candidate"]
    attempt = await start(client, candidate, "practice")
    assert attempt["deadline"] is None and attempt["seconds_left"] is None
    bank = await bank_by_stem(client, people["instructor"])
    item = attempt["items"][0]
    url = f"/api/v1/attempts/{attempt['id']}/responses/1"
    premature = await client.post(f"{url}/check", headers=candidate.headers)
    assert premature.status_code == 409 and "save an answer" in premature.json()["detail"]
    await client.put(
        url, json={"answer": wrong_answer(item, bank[item["stem"]])}, headers=candidate.headers
    )
    checked = await client.post(f"{url}/check", headers=candidate.headers)
    assert checked.status_code == 200
    body = checked.json()
    assert body["correct"] is False and body["key"] == right_answer(item, bank[item["stem"]])
    assert body["explanation"] == bank[item["stem"]]["explanation"]
    assert body["feedback"] == "full"
    locked = await client.put(url, json={"answer": None}, headers=candidate.headers)
    assert locked.status_code == 409 and "locked" in locked.json()["detail"]

    exam = await start(client, candidate, "starter-mock")
    await client.put(
        f"/api/v1/attempts/{exam['id']}/responses/1",
        json={"answer": None},
        headers=candidate.headers,
    )
    refused = await client.post(
        f"/api/v1/attempts/{exam['id']}/responses/1/check", headers=candidate.headers
    )
    assert refused.status_code == 403 and "practice mode" in refused.json()["detail"]


async def test_same_seed_same_exam_but_attempts_differ(
    client: Client, people: dict[str, Person]
) -> None:
    """Different attempts draw their own order and option order (seeded per attempt)."""
    await make_blueprint(client, people["admin"], "all-seven", question_count=7)
    orders = set()
    for _ in range(4):
        attempt = await start(client, people["candidate"], "all-seven")
        orders.add(
            tuple(
                (i["stem"][:20], tuple(o["text"] for o in i["options"])) for i in attempt["items"]
            )
        )
        await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=people["candidate"].headers
        )
    assert len(orders) > 1


@pytest.mark.parametrize("policy", ["after_close", "never"])
async def test_nothing_leaks_before_release(
    client: Client, people: dict[str, Person], policy: str
) -> None:
    """Every response a candidate can fetch, before the review is released, holds no key,
    rationale or explanation."""
    await make_blueprint(client, people["admin"], "sealed", review_policy=policy, question_count=7)
    candidate = people["candidate"]
    bank = await bank_by_stem(client, people["instructor"])
    secrets = set()
    for question in bank.values():
        secrets.add(question["explanation"])
        secrets.update(o["rationale"] for o in question["options"] + question["prompts"])
    bodies = []
    attempt = await start(client, candidate, "sealed")
    bodies.append(attempt)
    for item in attempt["items"]:
        saved = await client.put(
            f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
            json={"answer": right_answer(item, bank[item["stem"]])},
            headers=candidate.headers,
        )
        bodies.append(saved.json())
    bodies.append(
        (await client.get(f"/api/v1/attempts/{attempt['id']}", headers=candidate.headers)).json()
    )
    bodies.append((await client.get("/api/v1/attempts", headers=candidate.headers)).json())
    bodies.append(
        (
            await client.get(f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers)
        ).json()
    )
    bodies.append((await client.get("/api/v1/blueprints", headers=candidate.headers)).json())
    bodies.append((await client.get("/api/v1/objectives", headers=candidate.headers)).json())
    submitted = await client.post(
        f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
    )
    bodies.append(submitted.json())
    bodies.append(
        (
            await client.get(f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers)
        ).json()
    )
    bodies.append(
        (await client.get(f"/api/v1/attempts/{attempt['id']}", headers=candidate.headers)).json()
    )
    for body in bodies:
        assert no_secrets(body, secrets) == [], body
    result = submitted.json()
    assert result["review_available"] is False and result["review"] is None
    assert result["scaled_score"] == 1000  # the score itself is shown
    staff = await client.get(
        f"/api/v1/attempts/{attempt['id']}/result", headers=people["instructor"].headers
    )
    assert staff.json()["review_available"] is True and staff.json()["review"]


@pytest.mark.parametrize("policy", ["after_close", "never"])
async def test_practice_check_keeps_the_answers_back_as_the_policy_says(
    client: Client, people: dict[str, Person], policy: str
) -> None:
    """Under `after_close` and `never`, checking an answer in practice mode says right or
    wrong and nothing more: no key, rationale or explanation."""
    await make_blueprint(
        client,
        people["admin"],
        "sealed-practice",
        mode="practice",
        time_limit_seconds=None,
        review_policy=policy,
        question_count=7,
    )
    candidate = people["candidate"]
    bank = await bank_by_stem(client, people["instructor"])
    secrets = set()
    for question in bank.values():
        secrets.add(question["explanation"])
        secrets.update(o["rationale"] for o in question["options"] + question["prompts"])
    attempt = await start(client, candidate, "sealed-practice")
    verdicts = []
    for item in attempt["items"]:
        url = f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}"
        right = item["position"] % 2 == 0
        question = bank[item["stem"]]
        answer = right_answer(item, question) if right else wrong_answer(item, question)
        await client.put(url, json={"answer": answer}, headers=candidate.headers)
        checked = await client.post(f"{url}/check", headers=candidate.headers)
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert no_secrets(body, secrets) == [], body
        assert body["feedback"] == "verdict" and body["key"] is None
        verdicts.append((body["correct"], right))
    assert all(correct == right for correct, right in verdicts)
    assert "only right or wrong" in body["feedback_note"]


@only_on("sqlite")  # the file write lock is SQLite's own
async def test_sqlite_write_lock_timeout_is_a_busy_503_and_loses_nothing(
    settings: Settings, people: dict[str, Person]
) -> None:
    """While another process holds SQLite's write lock longer than the busy timeout, a save
    and a start are answered 503 with Retry-After (nothing half-written); sent again once
    the lock is free, they succeed."""
    candidate = people["candidate"]
    app = create_app(replace(settings, sqlite_busy_timeout_ms=200))
    async with AsyncTestClient(app=app) as client:
        await make_blueprint(client, people["admin"], "locked")
        attempt = await start(client, candidate, "locked")
        url = f"/api/v1/attempts/{attempt['id']}/responses/1"
        blocker = sqlite3.connect(make_url(settings.database_url).database or "")
        try:
            blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            save = await client.put(
                url, json={"answer": None, "flagged": True}, headers=candidate.headers
            )
            begin = await client.post(
                "/api/v1/attempts", json={"blueprint_id": "locked"}, headers=candidate.headers
            )
        finally:
            blocker.rollback()
            blocker.close()
        for refused in (save, begin):
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "2"
            assert "send it again" in refused.json()["detail"]
        shown = await client.get(f"/api/v1/attempts/{attempt['id']}", headers=candidate.headers)
        assert shown.json()["items"][0]["flagged"] is False  # the refused save wrote nothing
        again = await client.put(
            url, json={"answer": None, "flagged": True}, headers=candidate.headers
        )
        assert again.status_code == 200
        mine = await client.get("/api/v1/attempts", headers=candidate.headers)
        assert len(mine.json()) == 1  # the refused start opened no attempt


async def test_a_start_draws_from_the_bank_as_last_imported(
    client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]
) -> None:
    """The question pool is kept per process between starts; a bank import that revises a
    question is seen by the very next start."""
    await make_blueprint(client, people["admin"], "whole", question_count=7)
    candidate = people["candidate"]
    before = await start(client, candidate, "whole")
    old = "Which SageMaker built-in algorithm is the best first choice"
    assert any(item["stem"].startswith(old) for item in before["items"])
    questions = bank_dir / "questions" / "starter.yaml"
    new = "Which built-in algorithm of SageMaker should the team try first"
    questions.write_text(questions.read_text().replace(old, new))
    await import_folder(db_url, bank_dir)
    await client.post(f"/api/v1/attempts/{before['id']}/submit", headers=candidate.headers)
    after = await start(client, candidate, "whole")
    stems = [item["stem"] for item in after["items"]]
    assert any(stem.startswith(new) for stem in stems)
    assert not any(stem.startswith(old) for stem in stems)
