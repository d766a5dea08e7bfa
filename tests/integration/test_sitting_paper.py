"""A paper exam sat in a sitting, on both databases: drawn from the sitting's blueprint,
answer sheets for its whole roster, paper answers graded into attempts in the sitting
(numbered after the online ones, held to the attempts allowed, counted in its report)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from exam_service.settings import Settings
from tests.factories import Person, import_folder, make_cohort, make_people
from tests.integration.exam_helpers import make_blueprint, make_sitting, start_in

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture
async def room(
    client: Client, db_url: str, bank_dir: Path, settings: Settings, people: dict[str, Person]
) -> dict[str, Any]:
    """A cohort of three (Ana, Ben, Cleo), a sitting of `paper-mock` for it with one
    attempt each, and a paper exam in two forms for the sitting."""
    await import_folder(db_url, bank_dir)
    await make_blueprint(client, people["admin"], "paper-mock", self_study=False)
    crowd = await make_people(
        settings, ("ana", "candidate"), ("ben", "candidate"), ("cleo", "candidate")
    )
    cohort_id = await make_cohort(settings, people["instructor"], list(crowd.values()))
    sitting = await make_sitting(client, people["instructor"], "paper-mock", [cohort_id])
    made = await client.post(
        "/api/v1/paper-exams",
        json={"sitting_id": sitting["id"], "title": "Room 4", "forms": 2, "seed": 7},
        headers=people["instructor"].headers,
    )
    assert made.status_code == 201, made.text
    return {"crowd": crowd, "sitting": sitting, "exam": made.json(), "cohort_id": cohort_id}


async def key_answers(client: Client, teacher: Person, exam_id: int, form: str) -> list[str]:
    response = await client.get(
        f"/api/v1/paper-exams/{exam_id}/key.pdf",
        params={"form": form, "format": "csv"},
        headers=teacher.headers,
    )
    return [row["answer"] for row in csv.DictReader(io.StringIO(response.text))]


async def send(client: Client, teacher: Person, exam_id: int, rows: list[dict[str, Any]]) -> Any:
    return await client.post(
        f"/api/v1/paper-exams/{exam_id}/responses",
        json={"responses": rows},
        headers=teacher.headers,
    )


async def test_a_paper_exam_takes_the_sittings_blueprint(
    client: Client, people: dict[str, Person], room: dict[str, Any]
) -> None:
    exam, sitting = room["exam"], room["sitting"]
    assert (exam["blueprint_id"], exam["sitting_id"]) == ("paper-mock", sitting["id"])
    listed = await client.get(
        f"/api/v1/paper-exams/{exam['id']}", headers=people["instructor"].headers
    )
    assert listed.json()["sitting_id"] == sitting["id"]
    wrong = await client.post(
        "/api/v1/paper-exams",
        json={"sitting_id": sitting["id"], "blueprint_id": "starter-mock", "title": "x"},
        headers=people["instructor"].headers,
    )
    assert wrong.status_code == 422 and "is of blueprint 'paper-mock'" in wrong.json()["detail"]
    hidden = await client.post(
        "/api/v1/paper-exams",
        json={"sitting_id": sitting["id"], "title": "x"},
        headers=people["other-instructor"].headers,
    )
    assert hidden.status_code == 404 and "no sitting" in hidden.json()["detail"]
    neither = await client.post(
        "/api/v1/paper-exams", json={"title": "x"}, headers=people["instructor"].headers
    )
    assert neither.status_code == 422 and "blueprint_id" in neither.json()["detail"]


async def test_answer_sheets_default_to_the_whole_roster(
    client: Client, people: dict[str, Person], room: dict[str, Any]
) -> None:
    url = f"/api/v1/paper-exams/{room['exam']['id']}/answer-sheets.pdf"
    teacher = people["instructor"].headers
    everyone = await client.get(url, params={"form": "B"}, headers=teacher)
    assert everyone.status_code == 200, everyone.text
    pages = PdfReader(io.BytesIO(everyone.content)).pages
    assert len(pages) == 3
    names = [page.extract_text() for page in pages]
    for page, name in zip(names, ("ana", "ben", "cleo"), strict=True):
        number = f"{room['crowd'][name].user.id:08d}"
        assert f"{name} ({name})" in page  # display name (username)
        assert number in "".join(page.split())  # printed a digit to a box
    with_spares = await client.get(url, params={"blank": 2}, headers=teacher)
    assert len(PdfReader(io.BytesIO(with_spares.content)).pages) == 5
    named = await client.get(url, params={"candidates": "ben"}, headers=teacher)
    assert len(PdfReader(io.BytesIO(named.content)).pages) == 1


async def test_paper_answers_are_attempts_in_the_sitting(
    client: Client, people: dict[str, Person], room: dict[str, Any]
) -> None:
    """Ben started online first (attempt 1), so his paper answers need a second attempt:
    refused until he has one, then numbered 2; Ana's and Cleo's are their attempt 1, and
    the sitting's report counts all of them."""
    teacher, crowd = people["instructor"], room["crowd"]
    exam_id, sitting_id = room["exam"]["id"], room["sitting"]["id"]
    online = await start_in(client, crowd["ben"], sitting_id)
    assert online.status_code == 201
    await client.post(
        f"/api/v1/attempts/{online.json()['id']}/submit", headers=crowd["ben"].headers
    )
    key = await key_answers(client, teacher, exam_id, "A")
    rows = [
        {"candidate": "ana", "form": "A", "answers": key},
        {"candidate": "ben", "form": "A", "answers": key},
        {"candidate": "cleo", "form": "A", "answers": [""] * len(key)},
    ]
    refused = await send(client, teacher, exam_id, rows)
    assert refused.status_code == 422
    [problem] = refused.json()["errors"]
    assert (problem["row"], problem["column"]) == (2, "candidate")
    assert f"ben has used 1 of 1 attempt(s) at sitting {sitting_id}" in problem["message"]
    assert f"PUT /api/v1/sittings/{sitting_id}/accommodations/ben" in problem["message"]

    given = await client.put(
        f"/api/v1/sittings/{sitting_id}/accommodations/ben",
        json={"extra_attempts": 1},
        headers=teacher.headers,
    )
    assert given.status_code == 200
    graded = await send(client, teacher, exam_id, rows)
    assert graded.status_code == 200, graded.text
    by_name = {g["candidate"]: g for g in graded.json()["imported"]}
    listed = await client.get(
        "/api/v1/attempts", params={"sitting_id": sitting_id}, headers=teacher.headers
    )
    numbers = {(a["id"], a["attempt_number"]) for a in listed.json()}
    assert (by_name["ben"]["attempt_id"], 2) in numbers
    assert (by_name["ana"]["attempt_id"], 1) in numbers
    assert (by_name["cleo"]["attempt_id"], 1) in numbers

    report = await client.get(f"/api/v1/reports/sittings/{sitting_id}", headers=teacher.headers)
    rows_by_name = {c["username"]: c for c in report.json()["candidates"]}
    assert rows_by_name["ana"]["counted_score"] == by_name["ana"]["scaled_score"] == 1000
    assert rows_by_name["ben"]["attempts_used"] == 2
    assert rows_by_name["ben"]["counted_score"] == 1000  # the highest of his two
    assert rows_by_name["cleo"]["passed"] is False
    again = await start_in(client, crowd["ana"], sitting_id)  # her one attempt was paper
    assert again.status_code == 409 and "used 1 of 1" in again.json()["detail"]


async def test_paper_answers_of_someone_outside_the_sitting_are_refused(
    client: Client, people: dict[str, Person], room: dict[str, Any], settings: Settings
) -> None:
    """The candidate is in another cohort of the instructor's, not in the sitting's."""
    teacher = people["instructor"]
    await make_cohort(settings, teacher, [people["candidate"]])
    key = await key_answers(client, teacher, room["exam"]["id"], "B")
    refused = await send(
        client,
        teacher,
        room["exam"]["id"],
        [{"candidate": "candidate", "form": "B", "answers": key}],
    )
    assert refused.status_code == 422
    message = refused.json()["errors"][0]["message"]
    assert f"not in the cohorts of sitting {room['sitting']['id']}" in message


async def test_deleting_an_unstarted_sitting_leaves_its_paper_exam_on_its_own(
    client: Client, people: dict[str, Person], room: dict[str, Any]
) -> None:
    teacher = people["instructor"].headers
    gone = await client.delete(f"/api/v1/sittings/{room['sitting']['id']}", headers=teacher)
    assert gone.status_code == 204
    exam = await client.get(f"/api/v1/paper-exams/{room['exam']['id']}", headers=teacher)
    assert exam.status_code == 200 and exam.json()["sitting_id"] is None
    sheets = await client.get(
        f"/api/v1/paper-exams/{room['exam']['id']}/answer-sheets.pdf", headers=teacher
    )
    assert sheets.status_code == 422 and "name the candidates" in sheets.json()["detail"]
