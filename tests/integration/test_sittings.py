"""Sittings on both databases: instructors schedule a blueprint for their cohorts with a
window, attempts and accommodations; candidates start inside the window only, get the
deadline the rule gives, and see where they stand. Windows are set relative to the clock,
so the edges are tested without waiting."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from exam_service.db import create_engine, session_factory
from exam_service.errors import Conflict
from exam_service.exams.closing import sweep_expired
from exam_service.exams.sitting_rules import Counted
from exam_service.exams.sittings import counted_scores
from exam_service.exams.start import start_in_sitting
from exam_service.models import Attempt, Sitting
from exam_service.settings import Settings
from tests.backends import only_on
from tests.factories import Person, import_folder, make_cohort
from tests.integration.exam_helpers import (
    bank_by_stem,
    from_now,
    make_blueprint,
    make_sitting,
    parse,
    right_answer,
    start,
    start_in,
    wrong_answer,
)

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture(autouse=True)
async def bank(client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]) -> None:
    """The test bank, and `closed-mock`: a blueprint candidates take only in a sitting."""
    await import_folder(db_url, bank_dir)
    await make_blueprint(client, people["admin"], "closed-mock", self_study=False, grace_seconds=0)


async def enrol(client: Client, people: dict[str, Person], cohort_id: int, name: str) -> None:
    response = await client.post(
        f"/api/v1/cohorts/{cohort_id}/members",
        json={"usernames": [name]},
        headers=people["instructor"].headers,
    )
    assert response.status_code == 200, response.text


async def sitting(
    client: Client, people: dict[str, Person], cohort_id: int, **fields: Any
) -> dict[str, Any]:
    return await make_sitting(client, people["instructor"], "closed-mock", [cohort_id], **fields)


async def attempt_of(client: Client, who: Person, attempt_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/attempts/{attempt_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def entry(client: Client, who: Person, sitting_id: int) -> dict[str, Any]:
    listed = (await client.get("/api/v1/sittings", headers=who.headers)).json()
    return next(e for e in listed if e["id"] == sitting_id)


# --- scheduling ---------------------------------------------------------------------------


async def test_instructor_schedules_reads_changes_and_deletes(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    teacher = people["instructor"].headers
    made = await sitting(
        client,
        people,
        cohort_id,
        opens_at="2030-12-07T09:00:00+01:00",
        closes_at="2030-12-07T11:00:00+01:00",
        time_limit_seconds=1800,
        grading_method="mean",
        review_policy="after_window_closes",
        access_code="blue-42",
    )
    assert made["name"] == "Blueprint closed-mock"  # the blueprint's, unless named
    assert (
        made["opens_at"] == "2030-12-07T08:00:00Z" and made["closes_at"] == "2030-12-07T10:00:00Z"
    )
    assert (made["attempts_allowed"], made["time_limit_seconds"]) == (1, 1800)
    assert (made["grading_method"], made["review_policy"]) == ("mean", "after_window_closes")
    assert made["cohort_ids"] == [cohort_id] and made["state"] == "upcoming"
    assert made["access_code_set"] is True and "access_code" not in made
    assert made["attempts_started"] == 0 and made["accommodations"] == []

    url = f"/api/v1/sittings/{made['id']}"
    read = await client.get(url, headers=teacher)
    assert read.status_code == 200 and read.json() == made
    assert "blue-42" not in read.text and "argon2" not in read.text
    listed = (await client.get("/api/v1/sittings", headers=teacher)).json()
    assert [(e["id"], e["cohort_ids"], e["standing"]) for e in listed] == [
        (made["id"], [cohort_id], None)
    ]

    changed = await client.patch(
        url, json={"name": "Mock, cohort B", "attempts_allowed": None}, headers=teacher
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Mock, cohort B"
    assert changed.json()["attempts_allowed"] is None  # null: unlimited
    assert changed.json()["grading_method"] == "mean"  # left out: unchanged

    assert (await client.delete(url, headers=teacher)).status_code == 204
    assert (await client.get(url, headers=teacher)).status_code == 404


async def test_someone_elses_sitting_looks_like_a_missing_one(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    made = await sitting(client, people, cohort_id)
    other = people["other-instructor"].headers
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"grading_method": "last"}),
        ("DELETE", "", None),
        ("PUT", "/accommodations/candidate", {"extra_attempts": 1}),
        ("DELETE", "/accommodations/candidate", None),
    ):
        hidden = await client.request(
            method, f"/api/v1/sittings/{made['id']}{suffix}", json=body, headers=other
        )
        missing = await client.request(
            method, f"/api/v1/sittings/{made['id'] + 1000}{suffix}", json=body, headers=other
        )
        assert hidden.status_code == missing.status_code == 404, (method, suffix)

        def anonymised(response: Any) -> dict[str, str]:
            body = response.json()
            return {k: re.sub(r"sittings?[ /]\d+", "sitting N", str(v)) for k, v in body.items()}

        assert anonymised(hidden) == anonymised(missing)
    admin = await client.get(f"/api/v1/sittings/{made['id']}", headers=people["admin"].headers)
    assert admin.status_code == 200
    listed = (await client.get("/api/v1/sittings", headers=other)).json()
    assert listed == []


async def test_a_sitting_takes_only_the_owners_cohorts(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    body = {"blueprint_id": "closed-mock", "cohort_ids": [cohort_id], "opens_at": from_now(0)}
    refused = await client.post(
        "/api/v1/sittings", json=body, headers=people["other-instructor"].headers
    )
    assert refused.status_code == 404
    assert f"no cohort {cohort_id} among yours" in refused.json()["detail"]
    unknown = await client.post(
        "/api/v1/sittings",
        json={**body, "blueprint_id": "nope"},
        headers=people["instructor"].headers,
    )
    assert unknown.status_code == 404 and "no blueprint 'nope'" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"closes_at": "2020-01-01T00:00:00Z"}, "is not after opens_at"),
        ({"review_policy": "after_window_closes"}, "needs a closes_at"),
        ({"opens_at": "1999-12-31T23:00:00Z"}, "out of range"),
    ],
)
async def test_a_window_that_cannot_work_is_refused(
    client: Client, people: dict[str, Person], cohort_id: int, fields: dict[str, Any], says: str
) -> None:
    body = {"blueprint_id": "closed-mock", "cohort_ids": [cohort_id]}
    body |= {"opens_at": "2021-01-01T00:00:00Z", **fields}
    response = await client.post(
        "/api/v1/sittings", json=body, headers=people["instructor"].headers
    )
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]


# --- starting -----------------------------------------------------------------------------


async def test_a_start_one_second_before_opening_is_refused_one_second_after_accepted(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    candidate = people["candidate"]
    early = await sitting(client, people, cohort_id, opens_at=from_now(1))
    refused = await start_in(client, candidate, early["id"])
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    opens = early["opens_at"].replace(".000000", "")
    assert re.search(rf"opens at {opens[:19]}Z \(in 1 second\)", detail), detail

    just_open = await sitting(client, people, cohort_id, opens_at=from_now(-1))
    accepted = await start_in(client, candidate, just_open["id"])
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["blueprint_id"] == "closed-mock"

    closed = await sitting(
        client, people, cohort_id, opens_at=from_now(-3600), closes_at=from_now(-1)
    )
    late = await start_in(client, candidate, closed["id"])
    assert late.status_code == 409
    assert f"closed at {closed['closes_at'][:19]}Z" in late.json()["detail"]


async def test_outsiders_get_404_exactly_as_for_a_missing_sitting(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    made = await sitting(client, people, cohort_id)
    for who in ("other-candidate", "instructor", "admin"):  # none of them is in the cohort
        hidden = await start_in(client, people[who], made["id"])
        missing = await start_in(client, people[who], made["id"] + 1000)
        assert hidden.status_code == missing.status_code == 404, who
        assert hidden.json()["detail"] == missing.json()["detail"].replace(
            str(made["id"] + 1000), str(made["id"])
        )
    listed = await client.get("/api/v1/sittings", headers=people["other-candidate"].headers)
    assert listed.json() == []


async def test_attempts_allowed_with_extra_attempts(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    candidate = people["candidate"]
    made = await sitting(client, people, cohort_id, attempts_allowed=1)
    first = await start_in(client, candidate, made["id"])
    assert first.status_code == 201
    await client.post(f"/api/v1/attempts/{first.json()['id']}/submit", headers=candidate.headers)
    second = await start_in(client, candidate, made["id"])
    assert second.status_code == 409
    assert f"you have used 1 of 1 attempt at sitting {made['id']}" in second.json()["detail"]

    given = await client.put(
        f"/api/v1/sittings/{made['id']}/accommodations/candidate",
        json={"extra_attempts": 1},
        headers=people["instructor"].headers,
    )
    assert given.status_code == 200, given.text
    assert given.json()["username"] == "candidate" and given.json()["extra_attempts"] == 1
    again = await start_in(client, candidate, made["id"])
    assert again.status_code == 201
    await client.post(f"/api/v1/attempts/{again.json()['id']}/submit", headers=candidate.headers)
    third = await start_in(client, candidate, made["id"])
    assert third.status_code == 409
    assert "you have used 2 of 2 attempts" in third.json()["detail"]

    listed = await client.get(
        "/api/v1/attempts", params={"sitting_id": made["id"]}, headers=people["instructor"].headers
    )
    assert sorted((a["sitting_id"], a["attempt_number"]) for a in listed.json()) == [
        (made["id"], 1),
        (made["id"], 2),
    ]
    standing = (await entry(client, candidate, made["id"]))["standing"]
    assert (standing["attempts_used"], standing["attempts_left"]) == (2, 0)
    assert [a["attempt_number"] for a in standing["attempts"]] == [1, 2]
    assert standing["can_start"] is False and "2 of 2" in standing["start_note"]


async def test_the_access_code(client: Client, people: dict[str, Person], cohort_id: int) -> None:
    candidate = people["candidate"]
    made = await sitting(client, people, cohort_id, access_code="blue-42")
    none = await start_in(client, candidate, made["id"])
    assert none.status_code == 403 and "needs its access code" in none.json()["detail"]
    wrong = await start_in(client, candidate, made["id"], access_code="blue-43")
    assert wrong.status_code == 403 and "access code" in wrong.json()["detail"]
    assert "wrong" in wrong.json()["detail"]
    right = await start_in(client, candidate, made["id"], access_code="blue-42")
    assert right.status_code == 201, right.text
    assert (await entry(client, candidate, made["id"]))["access_code_required"] is True

    cleared = await client.patch(
        f"/api/v1/sittings/{made['id']}",
        json={"access_code": None, "attempts_allowed": 2},
        headers=people["instructor"].headers,
    )
    assert cleared.json()["access_code_set"] is False
    await client.post(f"/api/v1/attempts/{right.json()['id']}/submit", headers=candidate.headers)
    assert (await start_in(client, candidate, made["id"])).status_code == 201


async def test_only_self_study_blueprints_start_without_a_sitting(
    client: Client, people: dict[str, Person]
) -> None:
    refused = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": "closed-mock"},
        headers=people["candidate"].headers,
    )
    assert refused.status_code == 403
    assert "only in a sitting" in refused.json()["detail"]
    assert "GET /api/v1/sittings" in refused.json()["detail"]
    preview = await start(client, people["instructor"], "closed-mock")  # staff: to preview
    assert preview["blueprint_id"] == "closed-mock"
    practice = await start(client, people["candidate"], "starter-mock")  # self-study
    assert practice["status"] == "in_progress"
    listed = (await client.get("/api/v1/blueprints", headers=people["candidate"].headers)).json()
    assert {b["id"]: b["self_study"] for b in listed} == {
        "closed-mock": False,
        "starter-mock": True,
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"blueprint_id": "starter-mock", "sitting_id": 1},
        {"blueprint_id": "x", "access_code": "abcd"},
    ],
)
async def test_a_start_names_a_blueprint_or_a_sitting(
    client: Client, people: dict[str, Person], body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/attempts", json=body, headers=people["candidate"].headers)
    assert response.status_code == 422
    assert "sitting_id" in response.json()["detail"]


# --- the deadline rule --------------------------------------------------------------------


async def test_deadline_with_extra_time_or_a_multiplier(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    await enrol(client, people, cohort_id, "other-candidate")
    made = await sitting(client, people, cohort_id, time_limit_seconds=300)  # blueprint: 600
    url = f"/api/v1/sittings/{made['id']}/accommodations"
    teacher = people["instructor"].headers
    assert (
        await client.put(f"{url}/candidate", json={"extra_time_seconds": 120}, headers=teacher)
    ).status_code == 200
    assert (
        await client.put(f"{url}/other-candidate", json={"time_multiplier": 1.5}, headers=teacher)
    ).status_code == 200
    for who, seconds in (("candidate", 420), ("other-candidate", 450)):
        attempt = (await start_in(client, people[who], made["id"])).json()
        assert parse(attempt["deadline"]) - parse(attempt["started_at"]) == timedelta(
            seconds=seconds
        ), who
    listed = await client.get(f"/api/v1/sittings/{made['id']}", headers=teacher)
    shown = {a["username"]: a for a in listed.json()["accommodations"]}
    assert shown["candidate"]["extra_time_seconds"] == 120
    assert shown["other-candidate"]["time_multiplier"] == 1.5
    both = await client.put(
        f"{url}/candidate",
        json={"extra_time_seconds": 60, "time_multiplier": 2},
        headers=teacher,
    )
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    stranger = await client.put(f"{url}/admin", json={"extra_attempts": 1}, headers=teacher)
    assert stranger.status_code == 404 and "enrol them" in stranger.json()["detail"]


async def test_deadline_is_the_close_when_it_comes_first(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    await enrol(client, people, cohort_id, "other-candidate")
    made = await sitting(client, people, cohort_id, closes_at=from_now(120))  # limit: 600
    own_close = from_now(200)
    given = await client.put(
        f"/api/v1/sittings/{made['id']}/accommodations/other-candidate",
        json={"closes_at": own_close, "extra_time_seconds": 3600},
        headers=people["instructor"].headers,
    )
    assert given.status_code == 200, given.text
    mine = (await start_in(client, people["candidate"], made["id"])).json()
    assert parse(mine["deadline"]) == parse(made["closes_at"])
    theirs = (await start_in(client, people["other-candidate"], made["id"])).json()
    assert parse(theirs["deadline"]) == parse(own_close)
    standing = await entry(client, people["other-candidate"], made["id"])
    assert parse(standing["closes_at"]) == parse(own_close)
    assert standing["time_limit_seconds"] == 600 + 3600
    assert 190 <= standing["seconds_left"] <= 200


async def test_a_changed_close_or_accommodation_retimes_running_attempts(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    candidate, teacher = people["candidate"], people["instructor"].headers
    made = await sitting(client, people, cohort_id, closes_at=from_now(60))
    attempt = (await start_in(client, candidate, made["id"])).json()
    url = f"/api/v1/sittings/{made['id']}"

    later = from_now(300)
    assert (await client.patch(url, json={"closes_at": later}, headers=teacher)).status_code == 200
    assert parse((await attempt_of(client, candidate, attempt["id"]))["deadline"]) == parse(later)

    own = from_now(400)
    put = await client.put(
        f"{url}/accommodations/candidate", json={"closes_at": own}, headers=teacher
    )
    assert put.status_code == 200
    assert parse((await attempt_of(client, candidate, attempt["id"]))["deadline"]) == parse(own)

    gone = await client.delete(f"{url}/accommodations/candidate", headers=teacher)
    assert gone.status_code == 204
    assert parse((await attempt_of(client, candidate, attempt["id"]))["deadline"]) == parse(later)
    assert (await client.get(url, headers=teacher)).json()["accommodations"] == []


async def test_closing_the_window_ends_running_attempts_at_the_close(
    client: Client, people: dict[str, Person], cohort_id: int, settings: Settings
) -> None:
    """Moving the close to now ends the running attempts through the sweep, each
    finishing at the deadline that applied (the close), never earlier than the change."""
    await enrol(client, people, cohort_id, "other-candidate")
    made = await sitting(client, people, cohort_id, closes_at=from_now(600))
    attempts = {
        who: (await start_in(client, people[who], made["id"])).json()
        for who in ("candidate", "other-candidate")
    }
    changed = await client.patch(
        f"/api/v1/sittings/{made['id']}",
        json={"closes_at": from_now(0)},
        headers=people["instructor"].headers,
    )
    after = from_now(0)
    assert changed.status_code == 200 and changed.json()["state"] == "closed"
    engine = create_engine(settings.database_url)
    try:
        await asyncio.sleep(0.05)  # past the new close (grace 0)
        assert await sweep_expired(session_factory(engine)) == 2
    finally:
        await engine.dispose()
    for who, attempt in attempts.items():
        ended = await attempt_of(client, people[who], attempt["id"])
        assert ended["status"] == "expired"
        assert ended["submitted_at"] == ended["deadline"]
        # the close, or the moment of the change if that came a moment after it
        assert parse(changed.json()["closes_at"]) <= parse(ended["deadline"]) <= parse(after)


async def test_the_window_closing_ends_an_attempt_on_the_next_touch(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    made = await sitting(client, people, cohort_id, closes_at=from_now(1))
    attempt = (await start_in(client, people["candidate"], made["id"])).json()
    assert parse(attempt["deadline"]) == parse(made["closes_at"])
    await asyncio.sleep(1.2)
    late = await client.put(
        f"/api/v1/attempts/{attempt['id']}/responses/1",
        json={"answer": None, "flagged": True},
        headers=people["candidate"].headers,
    )
    assert late.status_code == 409 and late.json()["attempt_status"] == "expired"
    ended = await attempt_of(client, people["candidate"], attempt["id"])
    assert ended["status"] == "expired"
    assert parse(ended["submitted_at"]) == parse(made["closes_at"])


# --- what cannot change -------------------------------------------------------------------


async def test_changes_that_would_alter_started_attempts_are_refused(
    client: Client, people: dict[str, Person], cohort_id: int, settings: Settings
) -> None:
    teacher = people["instructor"].headers
    made = await sitting(client, people, cohort_id, attempts_allowed=None)
    assert (await start_in(client, people["candidate"], made["id"])).status_code == 201
    url = f"/api/v1/sittings/{made['id']}"

    for body, field in (
        ({"time_limit_seconds": 60}, "time_limit_seconds"),
        ({"blueprint_id": "starter-mock"}, "blueprint_id"),
    ):
        refused = await client.patch(url, json=body, headers=teacher)
        assert refused.status_code == 409, body
        detail = refused.json()["detail"]
        assert f"{field} (" in detail and "1 attempt(s) started" in detail
        assert "create a new sitting" in detail
    deleted = await client.delete(url, headers=teacher)
    assert deleted.status_code == 409 and "cannot be deleted" in deleted.json()["detail"]

    empty = await make_cohort(settings, people["instructor"], [])
    moved = await client.patch(url, json={"cohort_ids": [empty]}, headers=teacher)
    assert moved.status_code == 409 and "candidate started attempts" in moved.json()["detail"]
    widened = await client.patch(url, json={"cohort_ids": [cohort_id, empty]}, headers=teacher)
    assert widened.status_code == 200 and widened.json()["cohort_ids"] == sorted([cohort_id, empty])

    allowed = await client.patch(
        url, json={"grading_method": "last", "attempts_allowed": 3}, headers=teacher
    )
    assert allowed.status_code == 200 and allowed.json()["attempts_started"] == 1

    blueprint = (
        await client.get("/api/v1/blueprints/closed-mock", headers=people["admin"].headers)
    ).json()
    edit = {
        k: blueprint[k]
        for k in ("id", "name", "mode", "question_count", "time_limit_seconds", "scale")
    }
    edit["question_count"] = 3
    held = await client.put(
        "/api/v1/blueprints/closed-mock", json=edit, headers=people["admin"].headers
    )
    assert held.status_code == 409
    assert f"being sat in sitting {made['id']}" in held.json()["detail"]


# --- what candidates see ------------------------------------------------------------------


async def test_candidates_see_upcoming_open_and_closed_sittings(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    candidate, teacher = people["candidate"], people["instructor"].headers
    upcoming = await sitting(client, people, cohort_id, opens_at=from_now(3600), name="Next week")
    running = await sitting(client, people, cohort_id, closes_at=from_now(1800), attempts_allowed=2)
    ended = await sitting(
        client,
        people,
        cohort_id,
        closes_at=from_now(1800),
        review_policy="after_window_closes",
        grading_method="highest",
    )
    attempt = (await start_in(client, candidate, ended["id"])).json()
    result = await client.post(
        f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
    )
    assert result.json()["review"] is None
    assert "after the sitting closes at" in result.json()["review_note"]
    closing = await client.patch(
        f"/api/v1/sittings/{ended['id']}", json={"closes_at": from_now(0)}, headers=teacher
    )
    assert closing.status_code == 200

    listed = {
        e["id"]: e for e in (await client.get("/api/v1/sittings", headers=candidate.headers)).json()
    }
    assert set(listed) == {upcoming["id"], running["id"], ended["id"]}
    soon = listed[upcoming["id"]]
    assert (soon["state"], soon["name"], soon["seconds_left"]) == ("upcoming", "Next week", None)
    assert 3590 <= soon["seconds_until_open"] <= 3600
    assert soon["standing"]["can_start"] is False and "opens at" in soon["standing"]["start_note"]
    assert soon["cohort_ids"] is None  # a candidate is not shown the sitting's cohorts

    now_open = listed[running["id"]]
    assert now_open["state"] == "open" and 1790 <= now_open["seconds_left"] <= 1800
    assert now_open["standing"]["attempts_left"] == 2
    assert now_open["standing"]["start_note"] == "you may start attempt 1 of 2"

    done = listed[ended["id"]]
    assert done["state"] == "closed" and done["review_policy"] == "after_window_closes"
    shown = done["standing"]["attempts"]
    assert [(a["id"], a["status"]) for a in shown] == [(attempt["id"], "submitted")]
    assert shown[0]["scaled_score"] == result.json()["scaled_score"]
    assert shown[0]["review_available"] is True  # the window has closed for everyone
    assert done["standing"]["counted_score"] == result.json()["scaled_score"]
    review = await client.get(f"/api/v1/attempts/{attempt['id']}/result", headers=candidate.headers)
    assert review.json()["review"] is not None


@pytest.mark.parametrize(
    ("method", "counts"),
    [("highest", "second"), ("first", "first"), ("last", "second"), ("mean", None)],
)
async def test_the_grading_method_picks_the_score_that_counts(
    client: Client,
    people: dict[str, Person],
    cohort_id: int,
    settings: Settings,
    method: str,
    counts: str | None,
) -> None:
    candidate = people["candidate"]
    made = await sitting(client, people, cohort_id, attempts_allowed=2, grading_method=method)
    bank = await bank_by_stem(client, people["instructor"])
    results = {}
    for name, answer in (("first", wrong_answer), ("second", right_answer)):
        attempt = (await start_in(client, candidate, made["id"])).json()
        for item in attempt["items"]:
            saved = await client.put(
                f"/api/v1/attempts/{attempt['id']}/responses/{item['position']}",
                json={"answer": answer(item, bank[item["stem"]])},
                headers=candidate.headers,
            )
            assert saved.status_code == 200
        submitted = await client.post(
            f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
        )
        results[name] = submitted.json()
    assert results["first"]["scaled_score"] < results["second"]["scaled_score"]
    expected = (
        results[counts]["scaled_score"]
        if counts
        else (results["first"]["scaled_score"] + results["second"]["scaled_score"]) / 2
    )
    standing = (await entry(client, candidate, made["id"]))["standing"]
    assert standing["counted_score"] == expected
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            row = await session.get(Sitting, made["id"])
            assert row is not None
            counted = await counted_scores(session, row)
    finally:
        await engine.dispose()
    assert counted == {
        candidate.user.id: Counted(expected, results[counts]["attempt_id"] if counts else None)
    }


# --- races --------------------------------------------------------------------------------


@only_on("postgresql")
async def test_parallel_starts_cannot_both_take_the_last_attempt(
    client: Client,
    people: dict[str, Person],
    cohort_id: int,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Eight starts at once, each on its own connection (the test client would queue
    them), for a candidate with one attempt: one opens, seven are told the attempt is
    used, and the log shows that the database's unique attempt number stopped a start
    that had read "none used" (so the race really happened)."""
    candidate = people["candidate"]
    made = await sitting(client, people, cohort_id, attempts_allowed=1)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)

    async def one_start() -> int | str:
        async with sessions() as session:
            try:
                return (await start_in_sitting(session, candidate.user, made["id"], None)).id
            except Conflict as exc:
                return exc.detail

    try:
        with caplog.at_level(logging.INFO, logger="exam_service.exams.start"):
            outcomes = await asyncio.gather(*(one_start() for _ in range(8)))
    finally:
        await engine.dispose()
    opened = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(opened) == 1 and len(refused) == 7, outcomes
    assert all(f"you have used 1 of 1 attempt at sitting {made['id']}" in r for r in refused)
    assert "taken by a parallel start" in caplog.text
    standing = (await entry(client, candidate, made["id"]))["standing"]
    assert standing["attempts_used"] == 1
    assert [a["id"] for a in standing["attempts"]] == opened


async def test_the_database_holds_one_attempt_per_number(
    client: Client, people: dict[str, Person], cohort_id: int, settings: Settings
) -> None:
    """The guarantee behind the race above, on both databases: a second row with the same
    sitting, candidate and attempt number is refused by the database itself."""
    made = await sitting(client, people, cohort_id)
    first = (await start_in(client, people["candidate"], made["id"])).json()
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        Attempt.__table__.select().where(Attempt.id == first["id"])
                    )
                )
                .mappings()
                .one()
            )
            copy = {k: v for k, v in row.items() if k != "id"}
            with pytest.raises(IntegrityError):
                await connection.execute(insert(Attempt), [copy])
            await connection.rollback()
    finally:
        await engine.dispose()
