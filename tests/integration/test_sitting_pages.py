"""The sitting pages on both databases: an instructor schedules, changes and deletes a
sitting and sets accommodations through the forms; a candidate's dashboard shows their
upcoming, open and closed sittings and starts one (with its access code), and no longer
offers blueprints that are taken only in sittings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import Person, import_folder
from tests.integration.exam_helpers import from_now, make_blueprint, make_sitting, start_in

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture(autouse=True)
async def bank(client: Client, db_url: str, bank_dir: Path, people: dict[str, Person]) -> None:
    await import_folder(db_url, bank_dir)
    await make_blueprint(client, people["admin"], "room-mock", self_study=False)


def form(cohort_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Monday mock",
        "blueprint_id": "room-mock",
        "cohort_ids": str(cohort_id),
        "opens_at": "2030-12-07T09:00",
        "closes_at": "2030-12-07T11:00",
        "attempts_allowed": "2",
        "time_limit_minutes": "45",
        "grading_method": "last",
        "review_policy": "after_window_closes",
        **fields,
    }


async def test_instructor_schedules_changes_and_deletes_through_the_pages(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    teacher = people["instructor"].headers
    page = await client.get("/sittings", headers=teacher)
    assert page.status_code == 200 and "Schedule a sitting" in page.text
    assert "room-mock" in page.text and "instructor&#39;s cohort" in page.text

    made = await client.post(
        "/sittings",
        data=form(cohort_id, access_code="blue-42"),
        headers=teacher,
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    sitting_id = int(re.fullmatch(r"/sittings/(\d+)#main", made.headers["location"])[1])  # type: ignore[index]
    api = (await client.get(f"/api/v1/sittings/{sitting_id}", headers=teacher)).json()
    assert (api["name"], api["opens_at"]) == ("Monday mock", "2030-12-07T09:00:00Z")  # UTC
    assert (api["attempts_allowed"], api["time_limit_seconds"]) == (2, 2700)
    assert (api["grading_method"], api["review_policy"]) == ("last", "after_window_closes")
    assert api["access_code_set"] is True

    shown = await client.get(f"/sittings/{sitting_id}", headers=teacher)
    assert shown.status_code == 200
    assert 'value="2030-12-07T09:00"' in shown.text and "access code set" in shown.text
    assert f"/api/v1/sittings/{sitting_id}/score-reports.zip" in shown.text
    assert "blue-42" not in shown.text

    changed = await client.post(
        f"/sittings/{sitting_id}",
        data=form(cohort_id, name="Tuesday mock", clear_access_code="1"),
        headers=teacher,
        follow_redirects=False,
    )
    assert changed.status_code == 303
    api = (await client.get(f"/api/v1/sittings/{sitting_id}", headers=teacher)).json()
    assert api["name"] == "Tuesday mock" and api["access_code_set"] is False
    assert (
        "The sitting was changed."
        in (await client.get(changed.headers["location"], headers=teacher)).text
    )

    deleted = await client.post(
        f"/sittings/{sitting_id}/delete", headers=teacher, follow_redirects=False
    )
    assert deleted.status_code == 303 and deleted.headers["location"] == "/sittings"
    assert (await client.get(f"/api/v1/sittings/{sitting_id}", headers=teacher)).status_code == 404


async def test_a_refused_form_says_why_and_keeps_what_was_typed(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    teacher = people["instructor"].headers
    refused = await client.post(
        "/sittings",
        data=form(cohort_id, name="Late <b>mock</b>", closes_at="2030-12-07T08:00"),
        headers=teacher,
    )
    assert refused.status_code == 422
    assert "is not after opens_at" in refused.text
    assert 'value="Late &lt;b&gt;mock&lt;/b&gt;"' in refused.text  # kept, and escaped
    no_cohort = await client.post(
        "/sittings", data={**form(cohort_id), "cohort_ids": ""}, headers=teacher
    )
    assert no_cohort.status_code == 422 and "tick at least one cohort" in no_cohort.text
    bad_time = await client.post(
        "/sittings", data=form(cohort_id, opens_at="Monday"), headers=teacher
    )
    assert bad_time.status_code == 422 and "is not a date and time" in bad_time.text


async def test_accommodations_through_the_page(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    teacher = people["instructor"].headers
    made = await make_sitting(client, people["instructor"], "room-mock", [cohort_id])
    url = f"/sittings/{made['id']}/accommodations"
    given = await client.post(
        url,
        data={"username": "candidate", "time_multiplier": "1.5", "extra_attempts": "1"},
        headers=teacher,
        follow_redirects=False,
    )
    assert given.status_code == 303, given.text
    api = (await client.get(f"/api/v1/sittings/{made['id']}", headers=teacher)).json()
    [row] = api["accommodations"]
    assert (row["username"], row["time_multiplier"], row["extra_attempts"]) == ("candidate", 1.5, 1)
    page = (await client.get(f"/sittings/{made['id']}", headers=teacher)).text
    assert "&times;1.5" in page and "accommodation was saved" not in page
    listed = await client.get("/sittings", headers=teacher)  # accommodations loaded or not
    assert listed.status_code == 200 and made["name"] in listed.text

    both = await client.post(
        url,
        data={"username": "candidate", "time_multiplier": "2", "extra_minutes": "10"},
        headers=teacher,
    )
    assert both.status_code == 422 and "not both" in both.text
    odd = await client.post(
        url, data={"username": "candidate", "time_multiplier": "x"}, headers=teacher
    )
    assert odd.status_code == 422 and "is not a number from 1 to 10" in odd.text

    removed = await client.post(f"{url}/candidate/delete", headers=teacher, follow_redirects=False)
    assert removed.status_code == 303
    api = (await client.get(f"/api/v1/sittings/{made['id']}", headers=teacher)).json()
    assert api["accommodations"] == []


async def test_the_live_page_loads_its_script(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    made = await make_sitting(client, people["instructor"], "room-mock", [cohort_id])
    page = await client.get(f"/sittings/{made['id']}/live", headers=people["instructor"].headers)
    assert page.status_code == 200
    assert '<script src="/static/sittings.js"></script>' in page.text
    assert f'data-sitting="{made["id"]}"' in page.text
    script = await client.get("/static/sittings.js")
    assert script.status_code == 200 and "/progress" in script.text


async def test_the_candidates_dashboard_shows_their_sittings(
    client: Client, people: dict[str, Person], cohort_id: int
) -> None:
    candidate, teacher = people["candidate"], people["instructor"]
    soon = await make_sitting(
        client, teacher, "room-mock", [cohort_id], opens_at=from_now(7200), name="Next mock"
    )
    now_open = await make_sitting(
        client,
        teacher,
        "room-mock",
        [cohort_id],
        closes_at=from_now(3600),
        access_code="blue-42",
        name="Open mock",
    )
    done = await make_sitting(
        client, teacher, "room-mock", [cohort_id], closes_at=from_now(600), name="Past mock"
    )
    attempt = (await start_in(client, candidate, done["id"])).json()
    submitted = await client.post(
        f"/api/v1/attempts/{attempt['id']}/submit", headers=candidate.headers
    )
    await client.patch(
        f"/api/v1/sittings/{done['id']}", json={"closes_at": from_now(0)}, headers=teacher.headers
    )

    page = (await client.get("/", headers=candidate.headers)).text
    assert "Your sittings" in page and "Next mock" in page and "Open mock" in page
    assert re.search(r'data-countdown="(7200|71\d\d)"', page)  # about two hours to the opening
    assert f'name="sitting_id" value="{now_open["id"]}"' in page
    assert 'name="access_code"' in page
    assert f'value="{soon["id"]}"' not in page  # upcoming: nothing to start yet
    assert (
        f'href="/attempts/{attempt["id"]}/result">attempt 1: {submitted.json()["scaled_score"]}'
        in page
    )
    assert 'aria-label="Start Blueprint room-mock"' not in page  # taken only in sittings
    assert 'aria-label="Start Starter mock exam"' in page  # the fixture bank's self-study mock
    assert '<script src="/static/sittings.js"></script>' in page

    wrong = await client.post(
        "/attempts",
        data={"sitting_id": str(now_open["id"]), "access_code": "nope"},
        headers=candidate.headers,
    )
    assert wrong.status_code == 403 and "access code" in wrong.text
    started = await client.post(
        "/attempts",
        data={"sitting_id": str(now_open["id"]), "access_code": "blue-42"},
        headers=candidate.headers,
        follow_redirects=False,
    )
    assert started.status_code == 303 and re.fullmatch(
        r"/attempts/\d+", started.headers["location"]
    )
    page = (await client.get("/", headers=candidate.headers)).text
    assert f'href="{started.headers["location"]}">Continue' in page

    staff = (await client.get("/", headers=teacher.headers)).text
    assert 'aria-label="Start Blueprint room-mock"' in staff  # staff preview any blueprint
    assert "sittings only" in staff and "Your sittings" not in staff
